// A Node socket.io 4.8 node with @socket.io/redis-adapter 8.x (createAdapter, or createShardedAdapter) in the
// same Redis as two Tessera nodes: serverSideEmitWithAck answered both ways, and a partial answer on timeout.
//
// Usage: node redis-node-ack.mjs <redisPort> <classic|sharded>
// Prints "ready" once the three nodes listen, answers Tessera's "whoami" (and not "partial"), asks the Tessera
// nodes itself, and exits when a Tessera node emits "done". Exit 0 = pass; one JSON summary line on stdout.

import { Server } from "socket.io";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { withTimeout } from "./lib.mjs";

const [redisPort, kind] = process.argv.slice(2);
const summary = { ok: false, steps: [] };
const cleanup = [];

try {
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  cleanup.push(() => pub.quit(), () => sub.quit());
  // A short requestsTimeout for the partial case (the sharded adapter has a fixed 5 s).
  const adapter = kind === "sharded" ? createShardedAdapter(pub, sub) : createAdapter(pub, sub, { requestsTimeout: 1500 });
  const io = new Server({ adapter });
  cleanup.push(() => io.close());

  io.on("whoami", (arg, cb) => cb({ node: "node", got: arg }));
  io.on("partial", () => { /* never answers */ });
  const done = new Promise((resolve) => io.on("done", resolve));

  // Both Tessera nodes and this one listen to the namespace's requests (what serverCount() counts).
  const count = kind === "sharded"
    ? async () => (await pub.sendCommand(["PUBSUB", "SHARDNUMSUB", "socket.io#/#"]))[1]
    : async () => (await pub.sendCommand(["PUBSUB", "NUMSUB", "socket.io-request#/#"]))[1];
  const deadline = Date.now() + 10_000;
  while (Number(await count()) < 3) {
    if (Date.now() > deadline) throw new Error(`only ${await count()} nodes subscribed`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  console.log("ready");

  const answers = await withTimeout(io.serverSideEmitWithAck("whoami", { from: "node" }), 10_000, "whoami answers");
  const names = answers.map((a) => a.node).sort();
  if (JSON.stringify(names) !== JSON.stringify(["a", "b"])) throw new Error(`whoami answered ${JSON.stringify(answers)}`);
  if (!answers.every((a) => a.got?.from === "node")) throw new Error(`arguments lost: ${JSON.stringify(answers)}`);
  summary.steps.push("serverSideEmitWithAck from Node answered by both Tessera nodes");

  // Only Tessera node B answers "partial": an error carrying B's answer once the timeout passes.
  const partial = await withTimeout(io.serverSideEmitWithAck("partial", 1).then(
    (responses) => ({ error: null, responses }),
    (error) => ({ error, responses: error.responses })), 10_000, "partial answers");
  if (!partial.error || JSON.stringify(partial.responses) !== JSON.stringify([{ node: "b" }])) {
    throw new Error(`partial gave ${partial.error?.message} ${JSON.stringify(partial.responses)}`);
  }
  summary.steps.push("a node that does not answer: error with the answers that came");

  await withTimeout(done, 20_000, "done from Tessera");
  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: error.message }));
  console.error("FAIL redis-node-ack: " + error.message);
  process.exitCode = 1;
} finally {
  for (const step of cleanup.reverse()) {
    try { await step(); } catch { /* closing anyway */ }
  }
  process.exit();
}
