// Engine.IO v3 / Socket.IO protocol v4 clients (CONTRACT §5): the official socket.io-client 2.x, as mobile apps still
// ship it, against Tessera.Server started with Tessera:EngineIO:AllowEIO3=true, beside a 4.x client.
//
// Usage: node legacy.mjs <scenario> <baseUrl>
// Scenarios:
//   chat-polling | chat-websocket | chat-upgrade   a 2.x client (the tutorial's io(url, { query: { token } }), over that
//               transport) and a 4.x client: whoami, a room both join, messages both ways, presence, binary echoed with ack
//   refused     no token / an invalid one / a revoked one: the 2.x client's "error" event gets the refusal's data
//               ({code}, no message) and its connection stays open (the same connection then asks for another namespace)
//   expiry      (server with 3 s tokens, no clock skew) auth:expiring, then auth:expired, then "io server disconnect"
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.

import ioV2 from "socket.io-client-v2";
import { io as ioV4 } from "socket.io-client";
import { fail, runToVerdict, withTimeout, Inbox, accounts, finisher } from "./lib.mjs";

const [scenario, baseUrl] = process.argv.slice(2);
const summary = { scenario, ok: false, steps: [] };
const sockets = [];
const step = (s) => summary.steps.push(s);
const api = accounts(baseUrl);
const room = "legacy-" + Math.random().toString(36).slice(2, 8);
const transports = { "chat-polling": ["polling"], "chat-websocket": ["websocket"], "chat-upgrade": ["polling", "websocket"] };

// socket.io-client 2.x: no onAny, so the events the server sends are listed.
function legacy(token, options = {}) {
  const inbox = new Inbox(10_000);
  const socket = ioV2(baseUrl, { forceNew: true, reconnection: false, query: token === undefined ? {} : { token }, ...options });
  sockets.push(socket);
  for (const event of ["connect", "error", "disconnect", "chat:message", "presence", "auth:expiring", "auth:expired", "auth:revoked", "echo"]) {
    socket.on(event, (...args) => inbox.push({ event, args }));
  }
  return { socket, inbox };
}

function modern(token) {
  const inbox = new Inbox(10_000);
  const socket = ioV4(baseUrl, { forceNew: true, reconnection: false, transports: ["websocket"], auth: { token } });
  sockets.push(socket);
  socket.onAny((event, ...args) => event !== "auth:expiring" && inbox.push({ event, args }));
  socket.on("connect", () => inbox.push({ event: "connect", args: [] }));
  socket.on("connect_error", (err) => inbox.push({ event: "connect_error", args: [err.message, err.data] }));
  return { socket, inbox };
}

// The next event named `name`, failing on anything else but the events listed as ignorable.
async function expect(c, name, ignore = []) {
  for (;;) {
    const item = await c.inbox.next(name);
    if (item.event === name) return item.args;
    if (!ignore.includes(item.event)) fail(`expected ${name}, got ${item.event} ${JSON.stringify(item.args)}`);
  }
}

// 2.x has no emitWithAck.
const ack = (socket, event, ...args) =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ack for ${event} within 5 s`)), 5000);
    socket.emit(event, ...args, (...answer) => {
      clearTimeout(timer);
      resolve(answer);
    });
  });

const scenarios = {
  async chat() {
    const alice = await api.signUp("alice");
    const bob = await api.signUp("bob");
    const a = legacy(alice.token, { transports: transports[scenario] });
    const b = modern(bob.token);
    await expect(a, "connect");
    await expect(b, "connect");
    summary.legacyTransport = a.socket.io.engine.transport.name;
    const [who] = await ack(a.socket, "whoami");
    if (who?.name !== alice.name) fail(`whoami: ${JSON.stringify(who)}`);
    step("whoami");
    const joinedB = await b.socket.timeout(5000).emitWithAck("chat:join", { room });
    if (!joinedB?.ok) fail(`bob's chat:join: ${JSON.stringify(joinedB)}`);
    const [joinedA] = await ack(a.socket, "chat:join", { room });
    const members = (joinedA?.members ?? []).map((m) => m.name).sort();
    if (!joinedA?.ok || members.join() !== [alice.name, bob.name].sort().join()) fail(`alice's chat:join: ${JSON.stringify(joinedA)}`);
    const [presence] = await expect(b, "presence");
    if (presence.joined?.name !== alice.name) fail(`presence: ${JSON.stringify(presence)}`);
    step("joined");
    const [sent] = await ack(a.socket, "chat:message", { room, text: "from 2.x" });
    if (!sent?.ok) fail(`alice's chat:message: ${JSON.stringify(sent)}`);
    const [atBob] = await expect(b, "chat:message");
    if (atBob.text !== "from 2.x" || atBob.from?.name !== alice.name) fail(`bob got ${JSON.stringify(atBob)}`);
    const [own] = await expect(a, "chat:message");
    if (own.text !== "from 2.x") fail(`alice got her own ${JSON.stringify(own)}`);
    await b.socket.timeout(5000).emitWithAck("chat:message", { room, text: "from 4.x" });
    const [atAlice] = await expect(a, "chat:message");
    if (atAlice.text !== "from 4.x" || atAlice.from?.name !== bob.name) fail(`alice got ${JSON.stringify(atAlice)}`);
    step("chatted");
    // Binary both ways: an attachment in the event and in its ack (v3 frames them behind a type byte).
    const [echoed] = await ack(a.socket, "echo", Buffer.from([1, 2, 3, 250]));
    if (!Buffer.isBuffer(echoed) || !echoed.equals(Buffer.from([1, 2, 3, 250]))) fail(`binary echo: ${JSON.stringify(echoed)}`);
    a.socket.emit("echo", { text: "héllo ✓ 𝄞", bytes: Buffer.from([0, 255]) });
    const [back] = await expect(a, "echo");
    if (back?.text !== "héllo ✓ 𝄞" || !Buffer.from([0, 255]).equals(back?.bytes ?? Buffer.alloc(0))) fail(`echo: ${JSON.stringify(back)}`);
    step("binary");
    summary.legacyTransportAtEnd = a.socket.io.engine.transport.name;
  },

  async refused() {
    const alice = await api.signUp("alice");
    const revoked = await api.signUp("carol");
    const logout = await api.post("/auth/logout", null, revoked.token);
    if (logout.status !== 204) fail(`logout: ${logout.status}`);
    for (const [token, code] of [[undefined, "token_missing"], ["not.a.jwt", "token_invalid"], [revoked.token, "token_revoked"]]) {
      const c = legacy(token);
      const [data] = await expect(c, "error");
      if (data?.code !== code || "message" in (data ?? {})) fail(`refusal for ${code}: ${JSON.stringify(data)}`);
      // Node 4.8 with allowEIO3 keeps the connection: the same one still answers a CONNECT to another namespace.
      const other = c.socket.io.socket("/nowhere");
      const answer = withTimeout(new Promise((resolve) => other.once("error", resolve)), 5000, "the other namespace's answer");
      other.open();
      const invalid = await answer;
      if (invalid?.message !== "Invalid namespace") fail(`other namespace: ${JSON.stringify(invalid)}`);
      if (c.socket.io.engine.readyState !== "open") fail(`connection ${c.socket.io.engine.readyState} after ${code}`);
      step(code);
    }
    // And a valid token still connects.
    const ok = legacy(alice.token);
    await expect(ok, "connect");
    step("connected");
  },

  async expiry() {
    const alice = await api.signUp("alice");
    const a = legacy(alice.token, { transports: ["websocket"] });
    await expect(a, "connect");
    const [expiring] = await expect(a, "auth:expiring");
    if (typeof expiring?.expiresAt !== "number") fail(`auth:expiring: ${JSON.stringify(expiring)}`);
    const [expired] = await expect(a, "auth:expired");
    if (expired?.code !== "token_expired") fail(`auth:expired: ${JSON.stringify(expired)}`);
    if (Date.now() < expiring.expiresAt) fail("expired before expiresAt");
    const [reason] = await expect(a, "disconnect");
    if (reason !== "io server disconnect") fail(`disconnect reason: ${reason}`);
    step("expired");
  },
};

const finish = finisher(summary, sockets);

const run = scenarios[scenario.startsWith("chat-") ? "chat" : scenario];
if (!run) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
runToVerdict(run, finish, 30_000, () => ` (steps: ${summary.steps.join(", ")})`);
