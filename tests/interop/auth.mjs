// JWT authentication interop: the official socket.io-client against Tessera's JWT layer.
//
// Usage: node auth.mjs <scenario> <baseUrl>
// Tokens come from the test in env TESSERA_TOKENS (JSON): valid, expired, invalid, short (a few seconds),
// fresh (same sub, longer), otherSub. The server (tests/Tessera.Auth.Tests) answers "whoami" with {sub, name}.
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.
//
// Scenarios (<t> = websocket | polling):
//   sources-<t>     the tutorial's query token, auth.token, auth callback, Authorization header, cookie
//   refusals-<t>    missing / invalid / expired tokens: exact message and err.data.code
//   expire-<t>      auth:expiring, then auth:expired and an "io server disconnect" without reconnecting
//   refresh-<t>     auth:refresh in-band keeps the socket (same id); another user's token is refused
//   revoked-<t>     connects with tokens.valid, prints READY; the test then revokes the session (logout):
//                   auth:revoked arrives, then an "io server disconnect" without reconnecting

import { io } from "socket.io-client";
import { once as onceWithin, withTimeout } from "./lib.mjs";

const [scenario, baseUrl] = process.argv.slice(2);
const tokens = JSON.parse(process.env.TESSERA_TOKENS ?? "{}");
const transport = scenario?.split("-").pop();
const summary = { scenario, ok: false, steps: [] };
const sockets = [];

const fail = (message) => {
  throw new Error(message);
};

const once = (socket, event, ms = 10_000) => onceWithin(socket, event, ms);

function open(options) {
  const socket = io(baseUrl, { forceNew: true, reconnection: false, transports: [transport], ...options });
  sockets.push(socket);
  return socket;
}

// `early` attaches listeners before the connection opens: the server may send auth:expiring right after the
// CONNECT reply, and both can arrive in one read and be dispatched in one tick.
async function connected(options, early = () => {}) {
  const socket = open(options);
  early(socket);
  const [result] = await Promise.race([
    once(socket, "connect").then(() => ["connect"]),
    once(socket, "connect_error").then(([err]) => fail(`connect_error: ${err.message} ${JSON.stringify(err.data)}`)),
  ]);
  if (result !== "connect") fail("did not connect");
  return socket;
}

async function whoami(socket) {
  return withTimeout(socket.emitWithAck("whoami"), 5_000, "whoami");
}

async function sources() {
  const checks = [
    ["tutorial query token", { query: { token: tokens.valid } }],
    ["auth.token", { auth: { token: tokens.valid } }],
    ["auth callback", { auth: (cb) => cb({ token: tokens.valid }) }],
    ["Authorization header", { extraHeaders: { Authorization: `Bearer ${tokens.valid}` } }],
    ["cookie", { extraHeaders: { Cookie: `access_token=${tokens.valid}` } }],
  ];
  for (const [name, options] of checks) {
    const socket = await connected(options);
    const me = await whoami(socket);
    if (me?.sub !== "alice") fail(`${name}: whoami answered ${JSON.stringify(me)}`);
    socket.disconnect();
    summary.steps.push(name);
  }
}

async function refusals() {
  const cases = [
    ["missing", {}, "Authentication error: Token missing", "token_missing"],
    ["invalid", { auth: { token: tokens.invalid } }, "Authentication error: Invalid token", "token_invalid"],
    ["expired", { auth: { token: tokens.expired } }, "Authentication error: Token expired", "token_expired"],
  ];
  for (const [name, options, message, code] of cases) {
    const socket = open(options);
    const [err] = await Promise.race([
      once(socket, "connect_error"),
      once(socket, "connect").then(() => fail(`${name}: connected`)),
    ]);
    if (err.message !== message) fail(`${name}: message ${JSON.stringify(err.message)}`);
    if (err.data?.code !== code) fail(`${name}: data ${JSON.stringify(err.data)}`);
    if (typeof err.data?.retryable !== "boolean") fail(`${name}: data.retryable missing`);
    summary.steps.push(name);
  }
}

async function expire() {
  let expiring, expiredEvent, disconnect;
  const socket = await connected({ auth: { token: tokens.short } }, (s) => {
    expiring = once(s, "auth:expiring");
    expiredEvent = once(s, "auth:expired");
    disconnect = once(s, "disconnect");
  });
  const [warning] = await expiring;
  if (typeof warning?.expiresAt !== "number") fail(`auth:expiring carried ${JSON.stringify(warning)}`);
  const [expired] = await expiredEvent;
  if (expired?.code !== "token_expired") fail(`auth:expired carried ${JSON.stringify(expired)}`);
  const [reason] = await disconnect;
  if (reason !== "io server disconnect") fail(`disconnect reason ${reason}`);
  if (socket.active) fail("the client would reconnect by itself");
  summary.steps.push("expiring", "expired", "io server disconnect");
}

async function refresh() {
  let firstWarning;
  const socket = await connected({ auth: { token: tokens.short } }, (s) => {
    firstWarning = once(s, "auth:expiring");
  });
  const id = socket.id;
  let disconnected = null;
  socket.on("disconnect", (reason) => (disconnected = reason));
  await firstWarning;
  const mismatch = await withTimeout(socket.emitWithAck("auth:refresh", tokens.otherSub), 5_000, "refresh with another sub");
  if (mismatch?.ok !== false || mismatch?.code !== "sub_mismatch") fail(`other sub: ${JSON.stringify(mismatch)}`);
  const answer = await withTimeout(socket.emitWithAck("auth:refresh", tokens.fresh), 5_000, "refresh");
  if (answer?.ok !== true || typeof answer.expiresAt !== "number") fail(`refresh answered ${JSON.stringify(answer)}`);
  // The next warning is the fresh token's: the socket outlived the short one.
  const [warning] = await once(socket, "auth:expiring", 15_000);
  if (warning.expiresAt !== answer.expiresAt) fail(`next warning for ${warning.expiresAt}, refreshed to ${answer.expiresAt}`);
  if (disconnected) fail(`disconnected: ${disconnected}`);
  if (socket.id !== id) fail("socket id changed");
  const me = await whoami(socket);
  if (me?.sub !== "alice") fail(`whoami after refresh: ${JSON.stringify(me)}`);
  summary.steps.push("sub_mismatch refused", "refreshed", "outlived the first token");
}

async function revoked() {
  let revokedEvent, disconnect;
  const socket = await connected({ auth: { token: tokens.valid } }, (s) => {
    revokedEvent = once(s, "auth:revoked", 15_000);
    disconnect = once(s, "disconnect", 15_000);
  });
  const me = await whoami(socket);
  if (!me?.sub) fail(`whoami answered ${JSON.stringify(me)}`);
  console.log("READY");
  const [notice] = await revokedEvent;
  if (notice?.code !== "token_revoked") fail(`auth:revoked carried ${JSON.stringify(notice)}`);
  const [reason] = await disconnect;
  if (reason !== "io server disconnect") fail(`disconnect reason ${reason}`);
  if (socket.active) fail("the client would reconnect by itself");
  summary.steps.push("revoked", "io server disconnect");
}

const scenarios = { sources, refusals, expire, refresh, revoked };
const run = scenarios[scenario?.replace(/-(websocket|polling)$/, "")];
const deadline = setTimeout(() => {
  console.log(JSON.stringify({ ...summary, error: "scenario timed out" }));
  console.error(`FAIL ${scenario}: timed out`);
  process.exit(1);
}, 30_000);

try {
  if (!run || !["websocket", "polling"].includes(transport)) fail(`unknown scenario ${scenario}`);
  await run();
  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: error.message }));
  console.error(`FAIL ${scenario}: ${error.message}`);
  process.exitCode = 1;
} finally {
  clearTimeout(deadline);
  for (const socket of sockets) socket.disconnect();
}
