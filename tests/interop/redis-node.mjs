// A Node socket.io 4.8 server with @socket.io/redis-adapter 8.x in the same Redis as a Tessera node: broadcasts
// both ways, fetchSockets from Tessera, and a broadcast-with-ack from Node answered by a Tessera client.
//
// Usage: node redis-node.mjs <redisPort> <tesseraBaseUrl> <accessToken>
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { io as connect } from "socket.io-client";
import { once as onceWithin, withTimeout } from "./lib.mjs";

const [redisPort, tesseraUrl, token] = process.argv.slice(2);
const summary = { ok: false, steps: [] };
const cleanup = [];

const once = (socket, event, ms = 10_000) => onceWithin(socket, event, ms);

try {
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  cleanup.push(() => pub.quit(), () => sub.quit());

  const http = createServer();
  const io = new Server(http, { adapter: createAdapter(pub, sub) });
  io.on("connection", (socket) => {
    socket.join("chat:lobby");
    socket.on("shout", (text, ack) => {
      io.to("chat:lobby").emit("chat:message", { room: "lobby", from: { sub: "node", name: "node" }, text, at: Date.now() });
      ack(true);
    });
    socket.on("poll", (cb) => cb("node client says hi"));
  });
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => io.close());
  const nodeUrl = `http://127.0.0.1:${http.address().port}`;

  const nodeClient = connect(nodeUrl, { forceNew: true, reconnection: false, transports: ["websocket"] });
  const tesseraClient = connect(tesseraUrl, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { token } });
  cleanup.push(() => nodeClient.disconnect(), () => tesseraClient.disconnect());
  await Promise.all([once(nodeClient, "connect"), once(tesseraClient, "connect")]);
  nodeClient.on("poll", (cb) => cb("node client says hi"));
  tesseraClient.on("poll", (cb) => cb("tessera client says hi"));

  // Tessera's chat:join lists members on every node: fetchSockets answered by the Node node.
  const joined = await withTimeout(tesseraClient.emitWithAck("chat:join", { room: "lobby" }), 10_000, "chat:join");
  if (!joined.ok || joined.members.length !== 2) throw new Error(`chat:join answered ${JSON.stringify(joined)}`);
  summary.steps.push("fetchSockets from Tessera saw the Node node's socket");

  // Node → Tessera.
  const atTessera = once(tesseraClient, "chat:message");
  await withTimeout(nodeClient.emitWithAck("shout", "from node"), 5_000, "shout");
  const [fromNode] = await atTessera;
  if (fromNode.text !== "from node") throw new Error(`Tessera's client got ${JSON.stringify(fromNode)}`);
  summary.steps.push("Node broadcast reached a Tessera client");

  // Tessera → Node: the room broadcast goes to socket.io#/#chat:lobby#.
  const atNode = once(nodeClient, "chat:message");
  const sent = await withTimeout(tesseraClient.emitWithAck("chat:message", { room: "lobby", text: "from tessera" }), 5_000, "chat:message");
  if (!sent.ok) throw new Error(`chat:message answered ${JSON.stringify(sent)}`);
  const [fromTessera] = await atNode;
  if (fromTessera.text !== "from tessera" || !fromTessera.from?.name) throw new Error(`Node's client got ${JSON.stringify(fromTessera)}`);
  summary.steps.push("Tessera broadcast reached a Node client");

  // A broadcast with acks from Node: the Tessera node reports its client count and forwards the ack.
  const responses = await io.timeout(5_000).emitWithAck("poll");
  const answers = responses.sort();
  if (JSON.stringify(answers) !== JSON.stringify(["node client says hi", "tessera client says hi"])) {
    throw new Error(`emitWithAck collected ${JSON.stringify(responses)}`);
  }
  summary.steps.push("Node's broadcast-with-ack collected the Tessera client's answer");
  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: error.message }));
  console.error("FAIL redis-node: " + error.message);
  process.exitCode = 1;
} finally {
  for (const step of cleanup.reverse()) {
    try { await step(); } catch { /* closing anyway */ }
  }
  process.exit();
}
