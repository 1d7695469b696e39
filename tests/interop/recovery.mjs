// Connection state recovery (CONTRACT §5) with the official socket.io-client 4.8 against Tessera.Server, which must
// re-verify the token of every recovering reconnect.
//
// Usage: node recovery.mjs <scenario> <baseUrl>   (the server: ClockSkew 0, short access tokens for "expired")
// Scenarios:
//   recovered   alice loses her connection; bob sends two messages to their room meanwhile; alice's client reconnects
//               by itself: socket.recovered, the same id, both messages in order, still in the room; presence left/joined
//   revoked     alice loses her connection, her session is logged out meanwhile: the reconnect is refused with
//               token_revoked and gets nothing missed; logged in again, she gets a fresh socket (the lost one is gone)
//   expired     alice's token expires while she is away: refused with token_expired and nothing missed; with a
//               refreshed token she recovers (same id, the missed messages)
//   other-user  mallory presents alice's pid and offset with her own valid token: a fresh socket, nothing of alice's
//   cross-node  (two nodes on one Redis; the second URL is node B) alice on node A, bob on node B; alice's connection
//               drops and her client comes back through node B (as behind a load balancer, with the pid and offset it
//               kept): recovered with her id, rooms and both missed messages in order; presence left/joined on B
//   cross-node-revoked  the same, but alice logs out meanwhile: node B refuses token_revoked with nothing missed, and
//               the session is gone on every node (a fresh login gets a fresh socket on node A)
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.

import { io } from "socket.io-client";
import { fail, runToVerdict, once as onceWithin, Inbox, accounts, finisher } from "./lib.mjs";

const [scenario, baseUrl, otherUrl] = process.argv.slice(2);
const summary = { scenario, ok: false, steps: [] };
const sockets = [];
const step = (s) => summary.steps.push(s);
const once = (emitter, event, ms = 10_000) => onceWithin(emitter, event, ms);
const room = "lobby-" + Math.random().toString(36).slice(2, 8);
const password = "correct horse battery";

const { post, login, register: signUp } = accounts(baseUrl, password);

// A client whose every CONNECT sends user.token (the auth callback), with its events in one inbox.
function client(user, options = {}, url = baseUrl) {
  const inbox = new Inbox(10_000);
  const socket = io(url, {
    transports: ["websocket"],
    reconnectionDelay: 1500,
    randomizationFactor: 0,
    ...options,
    auth: (cb) => cb({ token: user.token, ...(options.extraAuth ?? {}) }),
  });
  sockets.push(socket);
  // auth:expiring comes at once with the "expired" scenario's short tokens; nothing here acts on it.
  socket.onAny((event, ...args) => event !== "auth:expiring" && inbox.push({ event, args }));
  socket.on("connect_error", (err) => inbox.push({ event: "connect_error", args: [err.message, err.data] }));
  socket.on("disconnect", (reason) => inbox.push({ event: "disconnect", args: [reason] }));
  return { socket, inbox };
}

async function connected(c) {
  if (!c.socket.connected) await once(c.socket, "connect");
  return c.socket;
}

async function join(c) {
  const answer = await c.socket.timeout(5000).emitWithAck("chat:join", { room });
  if (!answer?.ok) fail(`chat:join: ${JSON.stringify(answer)}`);
}

// The next event named `name`, failing on anything else but the events listed as ignorable.
async function expect(c, name, ignore = []) {
  for (;;) {
    const item = await c.inbox.next(name);
    if (item.event === name) return item.args;
    if (!ignore.includes(item.event)) fail(`expected ${name}, got ${item.event} ${JSON.stringify(item.args)}`);
  }
}

async function say(sender, text) {
  const answer = await sender.socket.timeout(5000).emitWithAck("chat:message", { room, text });
  if (!answer?.ok) fail(`chat:message: ${JSON.stringify(answer)}`);
}

// Alice and bob in one room; alice has received one event (so her client holds an offset) and then loses her transport.
async function setUp(aliceOptions) {
  const suffix = Math.random().toString(36).slice(2, 8);
  const alice = { ...(await signUp("alice-" + suffix)), name: "alice-" + suffix };
  const bob = { ...(await signUp("bob-" + suffix)), name: "bob-" + suffix };
  const a = client(alice, aliceOptions);
  const b = client(bob, { reconnection: false });
  await connected(a);
  await connected(b);
  if (a.socket.recovered !== false) fail(`a first connect must have recovered === false, got ${a.socket.recovered}`);
  await join(a);
  await join(b);
  await expect(a, "presence");
  await say(b, "before");
  const [before] = await expect(a, "chat:message");
  if (before.text !== "before") fail(`first message: ${JSON.stringify(before)}`);
  const id = a.socket.id;
  // What a dropped network looks like to the server: the transport closes (not a Socket.IO disconnect).
  a.socket.io.engine.close();
  const [left] = await expect(b, "presence", ["chat:message"]);
  if (!left.left) fail(`bob should see alice leave: ${JSON.stringify(left)}`);
  step("lost");
  return { alice, bob, a, b, id };
}

async function missedWhileAway(b) {
  await say(b, "missed 1");
  await say(b, "missed 2");
}

// Nothing of the lost session: no chat message, only the refusal (and the disconnect the loss caused).
async function refusedWithNothing(a, code) {
  for (;;) {
    const item = await a.inbox.next(`connect_error ${code}`);
    if (item.event === "disconnect") continue;
    if (item.event !== "connect_error") fail(`a refused reconnect received ${item.event} ${JSON.stringify(item.args)}`);
    const [message, data] = item.args;
    if (data?.code !== code) fail(`refusal: ${message} ${JSON.stringify(data)}`);
    return;
  }
}

const scenarios = {
  async recovered() {
    const { a, b, id } = await setUp();
    await missedWhileAway(b);
    await once(a.socket, "connect");
    if (a.socket.recovered !== true) fail(`recovered: ${a.socket.recovered}`);
    if (a.socket.id !== id) fail(`id ${a.socket.id} after recovery, was ${id}`);
    const texts = [];
    for (let i = 0; i < 2; i++) texts.push((await expect(a, "chat:message", ["disconnect"]))[0].text);
    if (texts.join("|") !== "missed 1|missed 2") fail(`missed messages: ${texts.join("|")}`);
    const [joined] = await expect(b, "presence", ["chat:message"]);
    if (!joined.joined) fail(`bob should see alice join again: ${JSON.stringify(joined)}`);
    // Still in the room: a new message reaches her without a chat:join.
    await say(b, "after");
    const [after] = await expect(a, "chat:message");
    if (after.text !== "after") fail(`after: ${JSON.stringify(after)}`);
    const who = await a.socket.timeout(5000).emitWithAck("whoami");
    summary.recoveredAs = who.name;
    step("recovered");
  },

  async revoked() {
    const { alice, a, b, id } = await setUp({ reconnectionDelay: 3000 });
    const logout = await post("/auth/logout", null, alice.token);
    if (logout.status !== 204) fail(`logout: ${logout.status}`);
    await missedWhileAway(b);
    await refusedWithNothing(a, "token_revoked");
    step("refused");
    // Logged in again: the same client (still holding the lost pid and offset) gets a fresh socket.
    Object.assign(alice, await login(alice.name));
    a.socket.connect();
    await once(a.socket, "connect");
    if (a.socket.recovered !== false || a.socket.id === id) fail(`after a refusal for revocation the session must be gone: recovered ${a.socket.recovered}, id ${a.socket.id} (was ${id})`);
    await say(b, "fresh");
    // Not in the room any more: bob's message does not reach her; her own whoami does.
    const who = await a.socket.timeout(5000).emitWithAck("whoami");
    if (who.name !== alice.name) fail(`whoami: ${JSON.stringify(who)}`);
    for (const item of a.inbox.items) if (item.event === "chat:message") fail(`a fresh socket received ${JSON.stringify(item.args)}`);
    step("fresh");
  },

  async expired() {
    const { alice, a, b, id } = await setUp({ reconnection: false });
    await missedWhileAway(b);
    // The access token lives a few seconds (the server is started so): the reconnect, once it has expired, is refused.
    const exp = JSON.parse(Buffer.from(alice.token.split(".")[1], "base64url")).exp * 1000;
    summary.waitedMs = Math.max(0, exp - Date.now());
    // Waiting for the clock is this scenario's premise (a client away past its token's exp), not a synchronisation.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, exp - Date.now()) + 100));
    a.socket.connect();
    await refusedWithNothing(a, "token_expired");
    if (Date.now() < exp) fail("refused as expired before the token's exp");
    step("refused");
    const refreshed = await post("/auth/refresh", { refreshToken: alice.refreshToken });
    if (refreshed.status !== 200) fail(`refresh: ${refreshed.status}`);
    alice.token = refreshed.body.token;
    a.socket.connect();
    await once(a.socket, "connect");
    if (a.socket.recovered !== true || a.socket.id !== id) fail(`with a refreshed token: recovered ${a.socket.recovered}, id ${a.socket.id} (was ${id})`);
    const texts = [];
    for (let i = 0; i < 2; i++) texts.push((await expect(a, "chat:message", ["disconnect"]))[0].text);
    if (texts.join("|") !== "missed 1|missed 2") fail(`missed messages: ${texts.join("|")}`);
    step("recovered");
  },

  async "other-user"() {
    const { a, b, id } = await setUp({ reconnection: false });
    const pid = a.socket._pid;
    const offset = a.socket._lastOffset;
    if (typeof pid !== "string" || typeof offset !== "string") fail(`the client holds no pid/offset: ${pid} ${offset}`);
    await missedWhileAway(b);
    const malloryName = "mallory-" + Math.random().toString(36).slice(2, 8);
    const mallory = { ...(await signUp(malloryName)), name: malloryName };
    // A stolen pid and offset, with mallory's own valid token (the official client adds them only for its own session).
    const m = client(mallory, { reconnection: false, extraAuth: { pid, offset } });
    await connected(m);
    if (m.socket.id === id) fail("mallory got alice's socket id");
    const who = await m.socket.timeout(5000).emitWithAck("whoami");
    if (who.name !== mallory.name) fail(`whoami: ${JSON.stringify(who)}`);
    await say(b, "after");
    for (const item of m.inbox.items) if (item.event === "chat:message") fail(`mallory received ${JSON.stringify(item.args)}`);
    step("fresh");
  },
};

// Alice on node A (baseUrl) and bob on node B (otherUrl) in one room; alice's transport to A drops, bob sends two
// messages; then alice's client, holding its pid and offset as after any lost connection, reconnects through node B.
async function crossNode(logOutMeanwhile) {
  if (!otherUrl) fail("cross-node scenarios need the second node's URL");
  const suffix = Math.random().toString(36).slice(2, 8);
  const alice = { ...(await signUp("alice-" + suffix)), name: "alice-" + suffix };
  const bob = { ...(await signUp("bob-" + suffix)), name: "bob-" + suffix };
  const a = client(alice, { reconnection: false });
  const b = client(bob, { reconnection: false }, otherUrl);
  await connected(a);
  await connected(b);
  await join(b);
  await join(a);
  await expect(b, "presence");
  await say(b, "before");
  const [before] = await expect(a, "chat:message");
  if (before.text !== "before") fail(`first message: ${JSON.stringify(before)}`);
  const { id, _pid: pid, _lastOffset: offset } = a.socket;
  if (typeof pid !== "string" || typeof offset !== "string") fail(`the client holds no pid/offset: ${pid} ${offset}`);
  a.socket.io.engine.close();
  const [left] = await expect(b, "presence", ["chat:message"]);
  if (!left.left) fail(`bob should see alice leave: ${JSON.stringify(left)}`);
  step("lost on A");
  if (logOutMeanwhile) {
    const logout = await post("/auth/logout", null, alice.token);
    if (logout.status !== 204) fail(`logout: ${logout.status}`);
  }
  await missedWhileAway(b);
  // The same client state a reconnect has, through the other node.
  const again = client(alice, { reconnection: false, autoConnect: false }, otherUrl);
  Object.assign(again.socket, { _pid: pid, _lastOffset: offset });
  again.socket.connect();
  if (logOutMeanwhile) {
    await refusedWithNothing(again, "token_revoked");
    step("refused on B");
    Object.assign(alice, await login(alice.name));
    const fresh = client(alice, { reconnection: false, autoConnect: false });
    Object.assign(fresh.socket, { _pid: pid, _lastOffset: offset });
    fresh.socket.connect();
    await connected(fresh);
    if (fresh.socket.recovered !== false || fresh.socket.id === id) fail(`after a revocation the session must be gone everywhere: recovered ${fresh.socket.recovered}`);
    step("fresh on A");
    return;
  }
  await connected(again);
  if (again.socket.recovered !== true || again.socket.id !== id) fail(`on node B: recovered ${again.socket.recovered}, id ${again.socket.id} (was ${id})`);
  const texts = [];
  for (let i = 0; i < 2; i++) texts.push((await expect(again, "chat:message"))[0].text);
  if (texts.join("|") !== "missed 1|missed 2") fail(`missed messages: ${texts.join("|")}`);
  const [joined] = await expect(b, "presence", ["chat:message"]);
  if (!joined.joined) fail(`bob should see alice join again: ${JSON.stringify(joined)}`);
  await say(b, "after");
  const [after] = await expect(again, "chat:message");
  if (after.text !== "after") fail(`still in the room on node B: ${JSON.stringify(after)}`);
  step("recovered on B");
}

scenarios["cross-node"] = () => crossNode(false);
scenarios["cross-node-revoked"] = () => crossNode(true);

const finish = finisher(summary, sockets);

if (!scenarios[scenario]) {
  console.error(`unknown scenario ${scenario}`);
  process.exit(2);
}
runToVerdict(() => scenarios[scenario](), finish, 30_000, () => ` (steps: ${summary.steps.join(", ")})`);
