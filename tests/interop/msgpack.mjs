// The msgpack parser (CONTRACT §5): socket.io-client 4.x with socket.io-msgpack-parser 3.x against Tessera.Server
// started with Tessera:SocketIO:Parser=msgpack — connects, is refused, chats and recovers exactly as a JSON client.
//
// Usage: node msgpack.mjs <scenario> <baseUrl>
// Scenarios:
//   websocket | polling   two msgpack clients over that transport: whoami, a room, messages both ways, binary in an
//               event and in an ack; refusals with the §3 messages and data.code; then (websocket) connection state
//               recovery: the one who lost its connection gets the message it missed
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.

import { io } from "socket.io-client";
import parser from "socket.io-msgpack-parser";
import { fail, runToVerdict, Inbox, accounts, finisher } from "./lib.mjs";

const [scenario, baseUrl] = process.argv.slice(2);
const summary = { scenario, ok: false, steps: [] };
const sockets = [];
const step = (s) => summary.steps.push(s);
const api = accounts(baseUrl);
const room = "msgpack-" + Math.random().toString(36).slice(2, 8);

function client(token, options = {}) {
  const inbox = new Inbox(10_000);
  const socket = io(baseUrl, { forceNew: true, parser, transports: [scenario], reconnection: false, auth: { token }, ...options });
  sockets.push(socket);
  socket.onAny((event, ...args) => event !== "auth:expiring" && inbox.push({ event, args }));
  socket.on("connect", () => inbox.push({ event: "connect", args: [] }));
  socket.on("connect_error", (err) => inbox.push({ event: "connect_error", args: [err.message, err.data] }));
  socket.on("disconnect", (reason) => inbox.push({ event: "disconnect", args: [reason] }));
  return { socket, inbox };
}

async function expect(c, name, ignore = []) {
  for (;;) {
    const item = await c.inbox.next(name);
    if (item.event === name) return item.args;
    if (!ignore.includes(item.event)) fail(`expected ${name}, got ${item.event} ${JSON.stringify(item.args)}`);
  }
}

const say = async (c, text) => {
  const answer = await c.socket.timeout(5000).emitWithAck("chat:message", { room, text });
  if (!answer?.ok) fail(`chat:message: ${JSON.stringify(answer)}`);
};

async function run() {
  const alice = await api.signUp("alice");
  const bob = await api.signUp("bob");
  const a = client(alice.token, scenario === "websocket" ? { reconnection: true, reconnectionDelay: 200, randomizationFactor: 0 } : {});
  const b = client(bob.token);
  await expect(a, "connect");
  await expect(b, "connect");
  if (a.socket.io.engine.transport.name !== scenario) fail(`transport ${a.socket.io.engine.transport.name}`);
  const who = await a.socket.timeout(5000).emitWithAck("whoami");
  if (who?.name !== alice.name) fail(`whoami: ${JSON.stringify(who)}`);
  step("whoami");
  for (const c of [b, a]) {
    const joined = await c.socket.timeout(5000).emitWithAck("chat:join", { room });
    if (!joined?.ok) fail(`chat:join: ${JSON.stringify(joined)}`);
  }
  const [presence] = await expect(b, "presence");
  if (presence.joined?.name !== alice.name) fail(`presence: ${JSON.stringify(presence)}`);
  await say(a, "from alice");
  const [atBob] = await expect(b, "chat:message");
  if (atBob.text !== "from alice" || atBob.from?.name !== alice.name || typeof atBob.at !== "number") fail(`bob got ${JSON.stringify(atBob)}`);
  await expect(a, "chat:message");
  const tooLong = await b.socket.timeout(5000).emitWithAck("chat:message", { room, text: "x".repeat(4001) });
  if (tooLong?.code !== "text_too_long") fail(`a refused message: ${JSON.stringify(tooLong)}`);
  step("chatted");
  // Binary inline as msgpack bin, in an event and in an ack.
  const echoed = await a.socket.timeout(5000).emitWithAck("echo", Buffer.from([1, 2, 3]), { nested: Buffer.from([255]) });
  if (!Buffer.isBuffer(echoed) || !echoed.equals(Buffer.from([1, 2, 3]))) fail(`binary ack: ${JSON.stringify(echoed)}`);
  a.socket.emit("echo", { text: "héllo 𝄞", bytes: Buffer.from([0, 9]) }, 1.5, null);
  const back = await expect(a, "echo");
  if (back[0]?.text !== "héllo 𝄞" || !Buffer.from([0, 9]).equals(back[0]?.bytes ?? Buffer.alloc(0)) || back[1] !== 1.5 || back[2] !== null)
    fail(`echo: ${JSON.stringify(back)}`);
  step("binary");
  for (const [token, message, code] of [
    [undefined, "Authentication error: Token missing", "token_missing"],
    ["not.a.jwt", "Authentication error: Invalid token", "token_invalid"],
  ]) {
    const c = client(token);
    const [got, data] = await expect(c, "connect_error");
    if (got !== message || data?.code !== code) fail(`refusal: ${got} ${JSON.stringify(data)}`);
  }
  step("refused");
  if (scenario !== "websocket") return;
  // Recovery, as with JSON: a dropped transport, a message meanwhile, the client reconnects by itself.
  const id = a.socket.id;
  a.socket.io.engine.close();
  await expect(b, "presence", ["chat:message"]);
  await say(b, "missed");
  await expect(a, "connect", ["disconnect", "chat:message"]);
  if (!a.socket.recovered || a.socket.id !== id) fail(`recovered ${a.socket.recovered}, id ${a.socket.id} (was ${id})`);
  const [missed] = await expect(a, "chat:message");
  if (missed.text !== "missed") fail(`missed: ${JSON.stringify(missed)}`);
  step("recovered");
}

const finish = finisher(summary, sockets);

if (!["websocket", "polling"].includes(scenario)) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
runToVerdict(run, finish, 30_000, () => ` (steps: ${summary.steps.join(", ")})`);
