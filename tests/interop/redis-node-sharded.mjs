// A Node socket.io 4.8 node with @socket.io/redis-adapter 8.x createShardedAdapter (SPUBLISH/SSUBSCRIBE) in the
// same Redis as a Tessera node with the sharded adapter: broadcasts both ways, room broadcasts reaching only
// members, fetchSockets, socketsJoin/socketsLeave/disconnectSockets, server-side emit, broadcasts with acks.
//
// Usage: node redis-node-sharded.mjs <redisPort> <tesseraBaseUrl> <static|dynamic|dynamic-private>
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { io as connect } from "socket.io-client";
import { Inbox, once, withTimeout } from "./lib.mjs";

const [redisPort, tesseraUrl, subscriptionMode] = process.argv.slice(2);
const summary = { ok: false, mode: subscriptionMode, steps: [] };
const cleanup = [];
const step = (text) => summary.steps.push(text);
const same = (a, b) => JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

try {
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  cleanup.push(() => pub.quit(), () => sub.quit());
  const shardNumSub = async (channel) => Number((await pub.sendCommand(["PUBSUB", "SHARDNUMSUB", channel]))[1]);
  // Node's adapter subscribes without telling when it is done: wait (bounded) until Redis counts the subscribers.
  const subscribers = async (channel, expected) => {
    const deadline = Date.now() + 10_000;
    while ((await shardNumSub(channel)) !== expected) {
      if (Date.now() > deadline) throw new Error(`${channel} has ${await shardNumSub(channel)} subscribers, not ${expected}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const http = createServer();
  const io = new Server(http, { adapter: createShardedAdapter(pub, sub, { subscriptionMode }) });
  const heard = new Inbox(10_000);
  io.on("hello", (arg) => heard.push(arg));
  io.on("connection", (socket) => {
    socket.on("join", (room, cb) => { socket.join(room); cb(true); });
  });
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => io.close());
  const nodeUrl = `http://127.0.0.1:${http.address().port}`;
  await subscribers("socket.io#/#", 2);

  // n1, n2 on Node; t1, t2 on Tessera. Every event a client gets goes to its inbox, in order.
  const clients = {};
  for (const [name, url] of [["n1", nodeUrl], ["n2", nodeUrl], ["t1", tesseraUrl], ["t2", tesseraUrl]]) {
    const client = connect(url, { forceNew: true, reconnection: false, transports: ["websocket"] });
    client.inbox = new Inbox(10_000);
    client.onAny((event, ...args) => { if (event !== "poll") client.inbox.push([event, ...args]); });
    client.on("poll", (cb) => cb(name));
    client.on("disconnect", (reason) => client.inbox.push(["disconnect", reason]));
    clients[name] = client;
    cleanup.push(() => client.disconnect());
  }
  await Promise.all(Object.values(clients).map((c) => once(c, "connect", 10_000)));
  const { n1, n2, t1, t2 } = clients;
  const expect = async (client, name, event, check = () => true) => {
    const [got, ...args] = await client.inbox.next(`${event} on ${name}`);
    if (got !== event || !check(...args)) throw new Error(`${name} got ${JSON.stringify([got, ...args])}, expected ${event}`);
    return args;
  };
  // What another node applies is seen here once its message arrived: ask again (bounded) until it shows.
  const eventually = async (read, wanted, what) => {
    const deadline = Date.now() + 10_000;
    let value;
    while (!same(value = await read(), wanted)) {
      if (Date.now() > deadline) throw new Error(`${what} is ${JSON.stringify(value)}, not ${JSON.stringify(wanted)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  const ask = (client, event, ...args) => withTimeout(client.emitWithAck(event, ...args), 10_000, `${event} ack`);

  // Broadcasts to everyone, both ways.
  await ask(t1, "emit", { event: "news", data: "from tessera" });
  for (const [name, c] of Object.entries(clients)) await expect(c, name, "news", (d) => d === "from tessera");
  io.emit("news", "from node");
  for (const [name, c] of Object.entries(clients)) await expect(c, name, "news", (d) => d === "from node");
  step("broadcasts from Tessera reach Node's clients and from Node Tessera's");

  // Room "red": n1 and t1. Tessera's join answers once its room channel is subscribed; Node's does not say.
  await Promise.all([ask(n1, "join", "red"), ask(t1, "join", "red")]);
  if (subscriptionMode !== "static") await subscribers("socket.io#/#red#", 2);
  await ask(t2, "emit", { room: "red", event: "news", data: "red from tessera" });
  await expect(n1, "n1", "news", (d) => d === "red from tessera");
  await expect(t1, "t1", "news", (d) => d === "red from tessera");
  io.to("red").emit("news", "red from node");
  await expect(n1, "n1", "news", (d) => d === "red from node");
  await expect(t1, "t1", "news", (d) => d === "red from node");
  // Those not in the room got neither: the next thing they get is this.
  io.emit("sentinel");
  await expect(n2, "n2", "sentinel");
  await expect(t2, "t2", "sentinel");
  await expect(n1, "n1", "sentinel");
  await expect(t1, "t1", "sentinel");
  step("room broadcasts reach only the room's members, on both kinds of node");

  // fetchSockets from either side sees the sockets of both.
  const fromTessera = await ask(t2, "fetch", "red");
  if (!same(fromTessera, [n1.id, t1.id])) throw new Error(`Tessera's fetchSockets gave ${JSON.stringify(fromTessera)}`);
  const fromNode = (await io.in("red").fetchSockets()).map((s) => s.id);
  if (!same(fromNode, [n1.id, t1.id])) throw new Error(`Node's fetchSockets gave ${JSON.stringify(fromNode)}`);
  const everyone = (await io.fetchSockets()).map((s) => s.id);
  if (!same(everyone, [n1.id, n2.id, t1.id, t2.id])) throw new Error(`Node's fetchSockets of all gave ${JSON.stringify(everyone)}`);
  step("fetchSockets sees the sockets of both kinds of node");

  // socketsJoin from Node puts t2 in "blue" (Tessera applies it, and subscribes, before answering the fetch after it).
  io.in(t2.id).socketsJoin("blue");
  const blue = (await io.in("blue").fetchSockets()).map((s) => s.id);
  if (!same(blue, [t2.id])) throw new Error(`after socketsJoin, blue is ${JSON.stringify(blue)}`);
  io.to("blue").emit("news", "blue from node");
  await expect(t2, "t2", "news", (d) => d === "blue from node");
  // socketsLeave from Tessera takes n1 out of "red".
  await ask(t1, "leave", { target: n1.id, room: "red" });
  await eventually(async () => (await io.in("red").fetchSockets()).map((s) => s.id), [t1.id], "after socketsLeave, red");
  step("socketsJoin from Node and socketsLeave from Tessera apply on the other node");

  // Server-side events, both ways.
  await ask(t1, "sse", { from: "tessera" });
  const [fromTesseraEvent] = [await heard.next("hello on Node")];
  if (fromTesseraEvent?.from !== "tessera") throw new Error(`Node heard ${JSON.stringify(fromTesseraEvent)}`);
  io.serverSideEmit("hello", { from: "node" });
  await expect(t1, "t1", "heard", (d) => d?.from === "node");
  await expect(t2, "t2", "heard", (d) => d?.from === "node");
  step("server-side emit both ways");

  // Broadcasts with acks, both ways: every client on both nodes answers.
  const atNode = await withTimeout(io.timeout(5_000).emitWithAck("poll"), 10_000, "Node's emitWithAck");
  if (!same(atNode, ["n1", "n2", "t1", "t2"])) throw new Error(`Node's emitWithAck collected ${JSON.stringify(atNode)}`);
  const atTessera = await ask(t1, "poll-all");
  if (!same(atTessera, ["n1", "n2", "t1", "t2"])) throw new Error(`Tessera's emitWithAck collected ${JSON.stringify(atTessera)}`);
  step("broadcasts with acks collect every client's answer, both ways");

  // disconnectSockets both ways.
  await ask(t1, "disconnect-remote", n2.id);
  await expect(n2, "n2", "disconnect", (reason) => reason === "io server disconnect");
  io.in(t2.id).disconnectSockets();
  await expect(t2, "t2", "disconnect", (reason) => reason === "io server disconnect");
  step("disconnectSockets both ways");

  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: error.message }));
  console.error("FAIL redis-node-sharded: " + error.message);
  process.exitCode = 1;
} finally {
  for (const s of cleanup.reverse()) {
    try { await s(); } catch { /* closing anyway */ }
  }
  process.exit();
}
