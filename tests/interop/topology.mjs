// A two-node Tessera deployment behind nginx, as its users see it (tests/Tessera.Server.Tests/TopologyTests.cs
// starts PostgreSQL, Redis, nodes a and b and nginx, and signs the users up). Official socket.io-client 4.8 only.
//
// Usage: node topology.mjs <nginxUrl> <redisPort> <stickyPin a|b> <upstreamA> <upstreamB>
//   <stickyPin>: the node nginx's ip_hash route (no ?pin) picks for 127.0.0.1; <upstreamX>: 127.0.0.1:port as
//   nginx's X-Upstream header names node X. ?pin=a / ?pin=b (Engine.IO repeats the query on every request) pins a
//   client to one node.
// Env TESSERA_TOPOLOGY (JSON): {alice, bob, carol, dave}, each {name, sub, token}; alice also {refreshToken}.
//
// In order:
//   1. a Node socket.io 4.8 server with @socket.io/redis-adapter joins the cluster (its client sits in chat:lobby);
//   2. alice (default transports: polling, then the upgrade) on the sticky route and bob (websocket only) pinned
//      to the other node join "lobby": members and presence across nodes, chat:message both ways, and a broadcast
//      from the Node server reaching both Tessera nodes;
//   3. carol's socket pinned to a is revoked by a logout pinned to b, and dave's on b by a logout on a: auth:revoked
//      {code:"token_revoked"} within 1 s of the request, then "io server disconnect" and no reconnection;
//   4. prints KILL (the test SIGKILLs the sticky node): alice's client reconnects by itself through nginx to the
//      other node with the token it holds, re-joins on "connect", and chat goes on; her refresh token works there
//      (POST /auth/refresh), the new token refreshes her socket in-band and connects a new one.
// Exit 0 = pass, 1 = fail with the reason on stderr; the last stdout line is the JSON summary (steps, timings in
// ms, the X-Upstream values seen). Bounded by 45 s (TESSERA_INTEROP_TIMEOUT_MS overrides).

import { createServer } from "node:http";
import { Server } from "socket.io";
import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { io } from "socket.io-client";
import { Inbox, fail, once, runToVerdict, withTimeout } from "./lib.mjs";

const [baseUrl, redisPort, stickyPin, upstreamA, upstreamB] = process.argv.slice(2);
const users = JSON.parse(process.env.TESSERA_TOPOLOGY ?? "{}");
const TIMEOUT_MS = Number(process.env.TESSERA_INTEROP_TIMEOUT_MS ?? 45_000);
const WAIT_MS = 10_000;
const ROOM = "lobby";
const upstreams = { a: upstreamA, b: upstreamB };
const otherPin = stickyPin === "a" ? "b" : "a";
const summary = { scenario: "topology", ok: false, steps: [], timings: {}, upstreams: {} };
const sockets = [];
const cleanup = [];
const startedAt = performance.now();
const elapsed = (since) => Math.round(performance.now() - since);

function open(options) {
  const socket = io(baseUrl, { forceNew: true, ...options });
  sockets.push(socket);
  return socket;
}

// Listeners attached before the connection opens, so that nothing arrives unseen between two awaits.
function record(socket, ...events) {
  const inboxes = {};
  for (const event of events) {
    inboxes[event] = new Inbox(WAIT_MS);
    socket.on(event, (payload) => inboxes[event].push(payload));
  }
  return inboxes;
}

async function connected(socket, who) {
  await Promise.race([
    once(socket, "connect", WAIT_MS, `${who}'s connect`),
    once(socket, "connect_error", WAIT_MS).then(([err]) => fail(`${who}: connect_error ${err.message} ${JSON.stringify(err.data)}`)),
  ]);
}

async function whoami(socket, user) {
  const me = await withTimeout(socket.emitWithAck("whoami"), WAIT_MS, `${user.name}'s whoami`);
  if (me?.sub !== user.sub || me?.name !== user.name) fail(`${user.name}'s whoami answered ${JSON.stringify(me)}`);
}

async function say(socket, user, text) {
  const ack = await withTimeout(socket.emitWithAck("chat:message", { room: ROOM, text }), WAIT_MS, `the ack of ${user.name}'s "${text}"`);
  if (ack?.ok !== true) fail(`${user.name}'s chat:message "${text}" answered ${JSON.stringify(ack)}`);
}

// The next chat:message of an inbox must be `text` from `sub`.
async function heard(inbox, who, text, sub) {
  const message = await inbox.next(`${who} to get "${text}"`);
  if (message?.room !== ROOM || message.text !== text || message.from?.sub !== sub || typeof message.at !== "number") {
    fail(`${who} got ${JSON.stringify(message)} instead of "${text}" from ${sub}`);
  }
}

// The upstream that answered, last of nginx's list (it names every server tried, failed ones first).
function upstreamOf(response) {
  return (response.headers.get("x-upstream") ?? "").split(",").pop().trim();
}

async function startNodeServer() {
  const pub = createClient({ url: `redis://127.0.0.1:${redisPort}` });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  cleanup.push(() => pub.quit(), () => sub.quit());
  const http = createServer();
  const server = new Server(http, { adapter: createAdapter(pub, sub) });
  // Tessera's chat room "lobby" is the Socket.IO room "chat:lobby".
  server.on("connection", (socket) => socket.join(`chat:${ROOM}`));
  await new Promise((resolve) => http.listen(0, "127.0.0.1", resolve));
  cleanup.push(() => server.close());
  return { server, url: `http://127.0.0.1:${http.address().port}` };
}

async function logoutReaches(user, socketPin, logoutPin) {
  const who = `${user.name} (socket on ${socketPin}, logout on ${logoutPin})`;
  const socket = open({ auth: { token: user.token }, query: { pin: socketPin }, transports: ["websocket"] });
  const seen = [];
  const events = new Inbox(WAIT_MS);
  let revokedAt;
  socket.on("auth:revoked", (notice) => {
    revokedAt = performance.now();
    seen.push("auth:revoked");
    events.push(["auth:revoked", notice]);
  });
  socket.on("disconnect", (reason) => {
    seen.push(`disconnect: ${reason}`);
    events.push(["disconnect", reason]);
  });
  await connected(socket, user.name);
  await whoami(socket, user);

  const sentAt = performance.now();
  const response = await fetch(`${baseUrl}/auth/logout?pin=${logoutPin}`, { method: "POST", headers: { authorization: `Bearer ${user.token}` } });
  const answeredAt = performance.now();
  if (response.status !== 204) fail(`${who}: logout answered ${response.status} ${await response.text()}`);
  if (upstreamOf(response) !== upstreams[logoutPin]) fail(`${who}: the logout reached ${response.headers.get("x-upstream")}`);

  const [first, notice] = await events.next(`${who}: auth:revoked`);
  if (first !== "auth:revoked" || notice?.code !== "token_revoked") fail(`${who}: got ${JSON.stringify(seen)} ${JSON.stringify(notice)}`);
  const [second, reason] = await events.next(`${who}: the disconnect after auth:revoked`);
  if (second !== "disconnect" || reason !== "io server disconnect") fail(`${who}: got ${JSON.stringify(seen)}`);
  if (socket.active) fail(`${who}: the client would reconnect by itself`);
  const fromRequestMs = Math.round(revokedAt - sentAt);
  if (fromRequestMs >= 1000) fail(`${who}: auth:revoked came ${fromRequestMs} ms after the logout request (CONTRACT §3: within 1 s)`);
  return { fromRequestMs, fromResponseMs: Math.round(revokedAt - answeredAt) };
}

async function run() {
  if (!/^http:\/\/[^/]+$/.test(baseUrl ?? "") || !["a", "b"].includes(stickyPin) || !upstreamA || !upstreamB) {
    fail("usage: node topology.mjs <nginxUrl> <redisPort> <stickyPin a|b> <upstreamA> <upstreamB>");
  }
  const { alice, bob, carol, dave } = users;
  if (!alice?.refreshToken || !bob?.token || !carol?.token || !dave?.token) fail("TESSERA_TOPOLOGY must hold alice, bob, carol and dave");

  // 1. A Node socket.io server in the same Redis, for the whole run.
  const node = await startNodeServer();
  const nodeClient = io(node.url, { forceNew: true, reconnection: false, transports: ["websocket"] });
  sockets.push(nodeClient);
  const atNode = record(nodeClient, "chat:message");
  await connected(nodeClient, "the Node server's client");
  summary.steps.push("Node socket.io server with the Redis adapter in the cluster");

  // 2. alice on the sticky route with the default transports; she (re-)joins the room on every connect.
  const aliceSocket = open({ auth: { token: alice.token } });
  const atAlice = record(aliceSocket, "chat:message", "presence");
  const aliceTransports = new Inbox(WAIT_MS);
  aliceSocket.io.on("open", () => {
    const engine = aliceSocket.io.engine;
    aliceTransports.push(engine.transport.name);
    engine.on("upgrade", (transport) => aliceTransports.push(transport.name));
  });
  const aliceJoins = new Inbox(WAIT_MS);
  aliceSocket.on("connect", () => {
    const connection = { id: aliceSocket.id, recovered: aliceSocket.recovered, at: performance.now() };
    aliceSocket.emitWithAck("chat:join", { room: ROOM }).then((ack) => aliceJoins.push({ ...connection, ack }));
  });
  const aliceDisconnects = new Inbox(WAIT_MS);
  aliceSocket.on("disconnect", (reason) => aliceDisconnects.push(reason));
  const aliceReconnects = [];
  aliceSocket.io.on("reconnect", (attempt) => aliceReconnects.push(attempt));

  await connected(aliceSocket, "alice");
  const firstJoin = await aliceJoins.next("alice's chat:join");
  if (firstJoin.ack?.ok !== true) fail(`alice's chat:join answered ${JSON.stringify(firstJoin.ack)}`);
  await whoami(aliceSocket, alice);
  if ((await aliceTransports.next("alice's first transport")) !== "polling") fail("alice did not start over polling");
  if ((await aliceTransports.next("alice's upgrade to websocket")) !== "websocket") fail("alice did not upgrade to websocket");
  summary.steps.push(`alice on the sticky route (${stickyPin}): polling, then upgraded to websocket, joined`);

  // bob: websocket only, pinned to the other node.
  const bobSocket = open({ auth: { token: bob.token }, query: { pin: otherPin }, transports: ["websocket"] });
  const atBob = record(bobSocket, "chat:message", "presence");
  const bobDisconnects = [];
  bobSocket.on("disconnect", (reason) => bobDisconnects.push(reason));
  await connected(bobSocket, "bob");
  await whoami(bobSocket, bob);
  const bobJoin = await withTimeout(bobSocket.emitWithAck("chat:join", { room: ROOM }), WAIT_MS, "bob's chat:join");
  if (bobJoin?.ok !== true || !bobJoin.members?.some((m) => m.sub === alice.sub && m.name === alice.name)) {
    fail(`bob's chat:join (node ${otherPin}) did not list alice (node ${stickyPin}): ${JSON.stringify(bobJoin)}`);
  }
  const joined = await atAlice.presence.next("alice to see bob join");
  if (joined?.room !== ROOM || joined.joined?.sub !== bob.sub) fail(`alice got presence ${JSON.stringify(joined)}`);
  summary.steps.push(`bob (websocket) pinned to ${otherPin}: joined; members and presence across nodes`);

  await say(aliceSocket, alice, "hello from the sticky node");
  for (const [inbox, who] of [[atBob["chat:message"], "bob"], [atAlice["chat:message"], "alice"], [atNode["chat:message"], "the Node client"]]) {
    await heard(inbox, who, "hello from the sticky node", alice.sub);
  }
  await say(bobSocket, bob, "hello from the other node");
  for (const [inbox, who] of [[atAlice["chat:message"], "alice"], [atBob["chat:message"], "bob"], [atNode["chat:message"], "the Node client"]]) {
    await heard(inbox, who, "hello from the other node", bob.sub);
  }
  summary.steps.push("chat:message both ways across Redis, also reaching the Node server's client");

  node.server.to(`chat:${ROOM}`).emit("chat:message", { room: ROOM, from: { sub: "node", name: "node" }, text: "from the Node server", at: Date.now() });
  for (const [inbox, who] of [[atAlice["chat:message"], "alice"], [atBob["chat:message"], "bob"], [atNode["chat:message"], "the Node client"]]) {
    await heard(inbox, who, "from the Node server", "node");
  }
  summary.steps.push("a broadcast from the Node server reached clients of both Tessera nodes");

  // 3. Logout on one node reaches a socket on the other.
  summary.timings.logoutAtoB = await logoutReaches(carol, "a", "b");
  summary.timings.logoutBtoA = await logoutReaches(dave, "b", "a");
  summary.steps.push("logout on one node revoked the socket on the other (auth:revoked, io server disconnect)");

  // 4. The sticky node dies mid-chat.
  const killAt = performance.now();
  console.log("KILL");
  const reason = await aliceDisconnects.next("alice's disconnect when her node dies");
  summary.timings.disconnectAfterKill = elapsed(killAt);
  summary.aliceDisconnect = reason;
  if (!aliceSocket.active) fail(`alice's client gave up after "${reason}"`);
  const rejoin = await aliceJoins.next("alice to reconnect and re-join", 15_000);
  summary.timings.rejoinedAfterKill = Math.round(rejoin.at - killAt);
  summary.aliceReconnect = { attempts: aliceReconnects, recovered: rejoin.recovered ?? null, newId: rejoin.id !== firstJoin.id };
  // nginx passes the refused request on to the live node (proxy_next_upstream): the first attempt succeeds.
  if (aliceReconnects.join() !== "1") fail(`alice's client reconnected after attempts ${JSON.stringify(aliceReconnects)}`);
  if (rejoin.ack?.ok !== true || !rejoin.ack.members?.some((m) => m.sub === bob.sub)) fail(`alice's re-join answered ${JSON.stringify(rejoin.ack)}`);
  if ((await aliceTransports.next("alice's new transport")) !== "polling") fail("alice's reconnection did not start over polling");
  if ((await aliceTransports.next("alice's new upgrade")) !== "websocket") fail("alice's reconnection did not upgrade to websocket");
  const back = await atBob.presence.next("bob to see alice join again");
  if (back?.joined?.sub !== alice.sub) fail(`bob got presence ${JSON.stringify(back)}`);
  await whoami(aliceSocket, alice);
  summary.steps.push(`alice reconnected by herself through nginx to ${otherPin} (after "${reason}"), upgraded, re-joined`);

  await say(aliceSocket, alice, "still here");
  for (const [inbox, who] of [[atBob["chat:message"], "bob"], [atAlice["chat:message"], "alice"], [atNode["chat:message"], "the Node client"]]) {
    await heard(inbox, who, "still here", alice.sub);
  }
  await say(bobSocket, bob, "welcome back");
  for (const [inbox, who] of [[atAlice["chat:message"], "alice"], [atBob["chat:message"], "bob"], [atNode["chat:message"], "the Node client"]]) {
    await heard(inbox, who, "welcome back", bob.sub);
  }
  if (bobDisconnects.length > 0) fail(`bob was disconnected: ${JSON.stringify(bobDisconnects)}`);
  summary.steps.push("chat goes on after the failover; bob was never disconnected");

  // Her refresh token, through nginx, on the surviving node.
  const refreshed = await fetch(`${baseUrl}/auth/refresh`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ refreshToken: alice.refreshToken }),
  });
  summary.upstreams.refresh = refreshed.headers.get("x-upstream");
  const tokens = await refreshed.json();
  if (refreshed.status !== 200) fail(`POST /auth/refresh answered ${refreshed.status} ${JSON.stringify(tokens)}`);
  if (upstreamOf(refreshed) !== upstreams[otherPin]) fail(`the refresh reached ${summary.upstreams.refresh}`);
  if (typeof tokens.token !== "string" || tokens.token === alice.token || !tokens.refreshToken || tokens.refreshToken === alice.refreshToken) {
    fail(`POST /auth/refresh answered ${JSON.stringify(tokens)}`);
  }
  const inBand = await withTimeout(aliceSocket.emitWithAck("auth:refresh", tokens.token), WAIT_MS, "auth:refresh's ack");
  if (inBand?.ok !== true || typeof inBand.expiresAt !== "number") fail(`auth:refresh answered ${JSON.stringify(inBand)}`);
  const fresh = open({ auth: { token: tokens.token }, reconnection: false });
  await connected(fresh, "alice with the refreshed token");
  await whoami(fresh, alice);
  summary.steps.push("POST /auth/refresh on the surviving node: new tokens; in-band auth:refresh and a new connection accept them");
}

let finished = false;

async function finish(ok, message) {
  if (finished) return;
  finished = true;
  summary.ok = ok;
  summary.durationMs = elapsed(startedAt);
  if (!ok) summary.error = message;
  for (const socket of sockets) {
    try {
      socket.disconnect();
    } catch {
      // best effort; the verdict is decided
    }
  }
  for (const step of cleanup.reverse()) {
    try {
      await step();
    } catch {
      // closing anyway
    }
  }
  process.stdout.write(JSON.stringify(summary) + "\n");
  if (!ok) process.stderr.write(`FAIL topology: ${message}\n`);
  process.exit(ok ? 0 : 1);
}

await runToVerdict(run, finish, TIMEOUT_MS, () => ` (steps done: ${summary.steps.join("; ") || "none"})`);
