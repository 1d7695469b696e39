// Socket.IO v5 interop client for Tessera, driven by the xunit interop tests.
//
// Usage: node socketio.mjs <scenario> <baseUrl>
//   baseUrl e.g. http://127.0.0.1:5123 ; Socket.IO at the default path /socket.io/, the server being
//           the Tessera Socket.IO interop test app (handlers described in README.md)
//
// Exit code 0 = pass, 1 = fail (reason on stderr). Exactly one JSON summary line goes to stdout, as
// the last line; the reconnect scenario prints READY on its own line before it, at which point the
// harness restarts the server on the same port.
// Scenarios: namespaces, events-websocket, events-polling, binary-websocket, binary-polling, rooms,
//            middleware, reconnect

import { Inbox, ScenarioError, fail, runToVerdict, withTimeout } from "./lib.mjs";
import { io } from "socket.io-client";
import { randomBytes } from "node:crypto";

const SOCKET_IO_PATH = "/socket.io/";

// Every wait is bounded. The global deadline is the backstop; the per-step ones give better messages.
const SCENARIO_TIMEOUT_MS = Number(process.env.TESSERA_INTEROP_TIMEOUT_MS) || 20_000;
const CONNECT_TIMEOUT_MS = 5_000;
const ACK_TIMEOUT_MS = 5_000;
const EVENT_TIMEOUT_MS = 5_000;
const UPGRADE_TIMEOUT_MS = 5_000;
// What the server's `ask` handler is given; the client's ack timeout must be well above it.
const ASK_ANSWERED_TIMEOUT_MS = 2_000;
const ASK_UNANSWERED_TIMEOUT_MS = 300;
// Lower bound on how long the server waits before answering {ok:false} for the unanswered question:
// a little under ASK_UNANSWERED_TIMEOUT_MS, since server timers may be coarse.
const ASK_UNANSWERED_MIN_MS = 200;

const [scenario, rawBaseUrl] = process.argv.slice(2);
const baseUrl = rawBaseUrl?.replace(/\/+$/, "");
const startedAt = Date.now();

// Filled in by the scenarios and printed as the one JSON summary line.
const summary = { scenario, baseUrl, ok: false, steps: [] };

// Every socket opened, so that finish() can close them whatever happened.
const openedSockets = [];

// ---------------------------------------------------------------------------------------------
// Values: comparison and printing

function isBinary(value) {
  return Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function binaryTypeName(value) {
  if (Buffer.isBuffer(value)) return "Buffer";
  if (value instanceof ArrayBuffer) return "ArrayBuffer";
  return value?.constructor?.name ?? "binary";
}

function kindOf(value) {
  if (value === null) return "null";
  if (isBinary(value)) return "binary";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

// JSON-ish rendering for messages: binary as <binary N B>, functions (ack callbacks) as <ack fn>,
// cut to a readable length.
function preview(value, max = 200) {
  if (value === undefined) return "undefined";
  let text;
  try {
    text = JSON.stringify(value, function (key, v) {
      const raw = this[key];
      if (isBinary(raw)) return `<binary ${toBuffer(raw).length} B>`;
      if (typeof raw === "function") return "<ack fn>";
      if (raw === undefined) return "<undefined>";
      return v;
    });
  } catch {
    text = String(value);
  }
  if (text === undefined) text = String(value);
  return text.length > max ? text.slice(0, max) + "…" : text;
}

// Structural comparison where any binary type (Buffer, ArrayBuffer, typed array) is compared by
// bytes. Returns null when equal, otherwise a description of the first difference found.
function diff(expected, actual, path = "value") {
  const expectedKind = kindOf(expected);
  const actualKind = kindOf(actual);
  if (expectedKind !== actualKind) {
    return `${path}: expected ${expectedKind} ${preview(expected, 60)}, received ${actualKind === "undefined" ? "nothing (undefined)" : `${actualKind} ${preview(actual, 60)}`}`;
  }
  if (expectedKind === "binary") {
    const a = toBuffer(expected);
    const b = toBuffer(actual);
    if (a.equals(b)) return null;
    let i = 0;
    while (i < a.length && i < b.length && a[i] === b[i]) i++;
    return (
      `${path}: binary differs: sent ${a.length} bytes, received ${b.length} bytes; first difference at byte ${i} ` +
      `(sent ${a.subarray(i, i + 8).toString("hex")}, received ${b.subarray(i, i + 8).toString("hex")})`
    );
  }
  if (expectedKind === "array") {
    if (expected.length !== actual.length) {
      return `${path}: expected ${expected.length} element(s), received ${actual.length}: ${preview(actual)}`;
    }
    for (let i = 0; i < expected.length; i++) {
      const d = diff(expected[i], actual[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (expectedKind === "object") {
    const expectedKeys = Object.keys(expected).sort();
    const actualKeys = Object.keys(actual).sort();
    const missing = expectedKeys.filter((k) => !Object.hasOwn(actual, k));
    const extra = actualKeys.filter((k) => !Object.hasOwn(expected, k));
    if (missing.length || extra.length) {
      return `${path}: keys differ (missing ${JSON.stringify(missing)}, unexpected ${JSON.stringify(extra)}): ${preview(actual)}`;
    }
    for (const k of expectedKeys) {
      const d = diff(expected[k], actual[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  if (expected !== actual) return `${path}: expected ${preview(expected, 80)}, received ${preview(actual, 80)}`;
  return null;
}

function assertEqual(expected, actual, what) {
  const d = diff(expected, actual, what);
  if (d) fail(d);
}

// Binary types as they arrived in the client, e.g. "Buffer" (recorded in the summary).
function binaryTypesIn(value, found = new Set()) {
  if (isBinary(value)) found.add(binaryTypeName(value));
  else if (Array.isArray(value)) value.forEach((v) => binaryTypesIn(v, found));
  else if (value && typeof value === "object") Object.values(value).forEach((v) => binaryTypesIn(v, found));
  return found;
}

function describeError(err) {
  if (err == null) return String(err);
  const parts = [err.message ?? String(err)];
  if (err.data !== undefined) parts.push(`data ${preview(err.data)}`);
  if (err.type) parts.push(`type ${err.type}`);
  if (typeof err.description === "number") parts.push(`status ${err.description}`);
  else if (err.description?.message) parts.push(err.description.message);
  return parts.join("; ");
}

// ---------------------------------------------------------------------------------------------
// Waiting helpers


// Time left before the global deadline, less a margin for reporting.
function remainingMs() {
  return Math.max(0, SCENARIO_TIMEOUT_MS - (Date.now() - startedAt) - 500);
}

// Runs one named step and records how long it took.
async function step(name, fn) {
  const t0 = Date.now();
  try {
    return await fn();
  } finally {
    summary.steps.push({ step: name, ms: Date.now() - t0 });
  }
}

// Records every event a socket receives, in arrival order, so the scenario can await them one by
// one and notice anything unexpected: the next event must be exactly the one asserted. Events in
// `ignore` are left to their own handlers.
class EventLog extends Inbox {
  constructor(socket, name, ignore = []) {
    super(EVENT_TIMEOUT_MS);
    this.name = name;
    socket.onAny((event, ...args) => {
      if (!ignore.includes(event)) this.push({ event, args });
    });
    socket.on("disconnect", (reason) => this.end(`${name} disconnected (${reason})`));
  }

  next(what, timeoutMs = EVENT_TIMEOUT_MS) {
    return super.next(`${what} on ${this.name}`, timeoutMs);
  }

  // The next event received must be `event` with exactly `args` (no ack requested by the server).
  async expect(event, args, why) {
    const got = await this.next(`event '${event}' (${why})`);
    if (got.event !== event) {
      fail(`${this.name}: expected '${event}' ${preview(args)} next (${why}), but received '${got.event}' ${preview(got.args)}`);
    }
    assertEqual(args, got.args, `${this.name} '${event}' args (${why})`);
    return got.args;
  }
}

// ---------------------------------------------------------------------------------------------
// Socket helpers

// A new Manager (own Engine.IO connection) with one socket on `nsp`. No reconnection unless the
// scenario asks for it: a dropped connection must fail the scenario, not be papered over.
function openSocket(nsp, options = {}) {
  const socket = io(baseUrl + nsp, {
    path: SOCKET_IO_PATH,
    forceNew: true,
    reconnection: false,
    timeout: CONNECT_TIMEOUT_MS,
    ...options,
  });
  openedSockets.push(socket);
  return socket;
}

// Resolves on 'connect'; a connect_error before that is a failure.
function waitConnected(socket, what) {
  if (socket.connected) return Promise.resolve();
  const connected = new Promise((resolve, reject) => {
    const cleanup = () => {
      socket.off("connect", onConnect);
      socket.off("connect_error", onError);
    };
    const onConnect = () => {
      cleanup();
      resolve();
    };
    const onError = (err) => {
      cleanup();
      reject(new ScenarioError(`${what}: connect_error: ${describeError(err)}`));
    };
    socket.on("connect", onConnect);
    socket.on("connect_error", onError);
  });
  return withTimeout(connected, CONNECT_TIMEOUT_MS, `'connect' of ${what}`);
}

async function connect(nsp, options = {}, what = `socket on '${nsp}'`) {
  const socket = openSocket(nsp, options);
  await waitConnected(socket, what);
  return socket;
}

// Emits with an ack request and resolves with ALL the ack's arguments (emitWithAck gives only the
// first). The ack wait is bounded by socket.timeout().
function call(socket, label, event, ...args) {
  return new Promise((resolve, reject) => {
    socket.timeout(ACK_TIMEOUT_MS).emit(event, ...args, (err, ...response) => {
      if (err) reject(new ScenarioError(`no ack for ${label} within ${ACK_TIMEOUT_MS} ms (${err.message})`));
      else resolve(response);
    });
  });
}

// Emits an event whose handler acks `true`, and checks that it did.
async function callTrue(socket, label, event, ...args) {
  const response = await call(socket, label, event, ...args);
  assertEqual([true], response, `ack of ${label}`);
}

async function whoami(socket, label) {
  const response = await call(socket, `whoami on ${label}`, "whoami");
  if (response.length !== 1 || kindOf(response[0]) !== "object") {
    fail(`whoami on ${label}: expected one object in the ack, received ${preview(response)}`);
  }
  return response[0];
}

function transportOf(socket) {
  return socket.io.engine?.transport?.name;
}

function assertTransport(socket, expected, when) {
  const name = transportOf(socket);
  if (name !== expected) fail(`transport is '${name}' ${when}, expected '${expected}'`);
}

// Waits until the Engine.IO connection has upgraded to websocket (default transports start with
// polling); an upgradeError fails at once.
async function waitUpgraded(socket, what) {
  if (transportOf(socket) === "websocket") return;
  const engine = socket.io.engine;
  const upgraded = new Promise((resolve, reject) => {
    engine.once("upgrade", resolve);
    engine.once("upgradeError", (err) => reject(new ScenarioError(`${what}: upgradeError: ${describeError(err)}`)));
  });
  await withTimeout(upgraded, UPGRADE_TIMEOUT_MS, `the upgrade to websocket (${what})`);
}

// A wide spread of JSON value types; control and non-BMP characters check the server's JSON
// (de)serialisation, \u001e is the polling record separator and must stay escaped inside JSON.
const MIXED_ARGS = [
  42,
  -7,
  1.5,
  9007199254740991,
  "héllo wörld — 中文 😀 \u2028 \"quoted\" back\\slash \u001e tab\t nul\u0000",
  { nested: { a: [1, 2, { b: null }], t: true, f: false, emptyObject: {}, emptyArray: [] }, "ключ": "значение 🚀" },
  [1, "two", null, false, [3, [4, { five: 5 }]]],
  null,
  "",
  true,
];

// ---------------------------------------------------------------------------------------------
// Scenarios

async function namespacesScenario() {
  const root = await step("connect /", () => connect("/"));
  const manager = root.io;
  const engineAtStart = manager.engine;
  summary.engineId = engineAtStart.id;

  // Second namespace on the same Manager, i.e. multiplexed over the same Engine.IO connection.
  const custom = manager.socket("/custom", { auth: { hello: "world" } });
  openedSockets.push(custom);
  await step("connect /custom on the same connection", () => waitConnected(custom, "socket on '/custom'"));

  if (manager.engine !== engineAtStart || root.io.engine.id !== custom.io.engine.id || custom.io.engine.id !== summary.engineId) {
    fail(`'/' and '/custom' are not on one Engine.IO connection (engine ids ${summary.engineId}, ${root.io.engine.id}, ${custom.io.engine.id})`);
  }
  if (!root.id || !custom.id || root.id === custom.id) {
    fail(`expected distinct socket ids per namespace, got '/': ${root.id}, '/custom': ${custom.id}`);
  }

  const rootLog = new EventLog(root, "'/' socket");
  const customLog = new EventLog(custom, "'/custom' socket");

  await step("echo with ack on both", async () => {
    assertEqual(["root", 1, { nsp: "/" }], await call(root, "echo on /", "echo", "root", 1, { nsp: "/" }), "echo ack on '/'");
    assertEqual(["custom", 2, { nsp: "/custom" }], await call(custom, "echo on /custom", "echo", "custom", 2, { nsp: "/custom" }), "echo ack on '/custom'");
    // Binary on a non-root namespace: the attachment count comes before the namespace (51-/custom,3[...]).
    const blob = { blob: randomBytes(64) };
    assertEqual([blob], await call(custom, "binary echo on /custom", "echo", blob), "binary echo ack on '/custom'");
  });

  await step("whoami on both", async () => {
    const rootWho = await whoami(root, "'/'");
    assertEqual({ id: root.id, nsp: "/", auth: {} }, rootWho, "whoami on '/' (no auth sent)");
    const customWho = await whoami(custom, "'/custom'");
    assertEqual({ id: custom.id, nsp: "/custom", auth: { hello: "world" } }, customWho, "whoami on '/custom'");
  });

  // Server-emitted events go to the right namespace only: '/custom' asks for an echo event first,
  // then '/'; the '/' socket's first event must be its own echo (the '/custom' one would come first
  // if it leaked), and '/custom' gets exactly its own.
  await step("echo events stay in their namespace", async () => {
    custom.emit("echo", "from /custom");
    root.emit("echo", "from /");
    await rootLog.expect("echo", ["from /"], "the '/custom' echo must not reach '/'");
    await customLog.expect("echo", ["from /custom"], "own echo");
    // Sentinel for '/custom' too: nothing from '/' may have reached it before this.
    root.emit("echo", "from / again");
    custom.emit("echo", "sentinel /custom");
    await customLog.expect("echo", ["sentinel /custom"], "the '/' echo must not reach '/custom'");
    await rootLog.expect("echo", ["from / again"], "own echo");
  });

  await step("unknown namespace refused", async () => {
    const unknown = manager.socket("/does-not-exist");
    openedSockets.push(unknown);
    const outcome = new Promise((resolve) => {
      unknown.once("connect", () => resolve({ connected: true }));
      unknown.once("connect_error", (err) => resolve({ err }));
    });
    const { connected, err } = await withTimeout(outcome, CONNECT_TIMEOUT_MS, "connect_error on '/does-not-exist'");
    if (connected) fail("'/does-not-exist' connected, expected connect_error 'Invalid namespace'");
    summary.unknownNamespaceError = { message: err.message, data: err.data ?? null };
    if (err.message !== "Invalid namespace") {
      fail(`'/does-not-exist': expected connect_error message "Invalid namespace", received ${describeError(err)}`);
    }
    if (unknown.connected) fail("'/does-not-exist' socket reports connected after connect_error");
  });

  // The refusal of one namespace leaves the shared connection and the other namespaces working.
  await step("shared connection still works", async () => {
    assertEqual(["after refusal"], await call(root, "echo on / after refusal", "echo", "after refusal"), "echo ack on '/' after the refusal");
    assertEqual(["after refusal"], await call(custom, "echo on /custom after refusal", "echo", "after refusal"), "echo ack on '/custom' after the refusal");
    if (manager.engine !== engineAtStart || manager.engine.id !== summary.engineId) {
      fail(`the Engine.IO connection changed during the scenario (${summary.engineId} -> ${manager.engine?.id})`);
    }
    if (!root.connected || !custom.connected) fail("'/' or '/custom' got disconnected");
  });
  summary.transport = transportOf(root);
}

async function eventsScenario(transport) {
  const socket = await step("connect", () => connect("/", { transports: [transport] }));
  assertTransport(socket, transport, "after connect");
  summary.socketId = socket.id;
  const log = new EventLog(socket, "socket", ["question"]);

  // The server's `ask` sends us `question` with an ack id; we answer, withhold, or answer late.
  const questions = [];
  let mode = "answer";
  let heldAck = null;
  socket.on("question", (question, cb) => {
    questions.push({ question, withAck: typeof cb === "function" });
    if (typeof cb !== "function") return;
    if (mode === "answer") cb("answer to " + question);
    else heldAck = cb;
  });
  const askedWithAck = (question) => {
    const q = questions.find((x) => x.question === question);
    if (!q) fail(`the server never emitted 'question' "${question}" to the client`);
    if (!q.withAck) fail(`the server emitted 'question' "${question}" without requesting an ack`);
  };

  await step("echo event (no ack)", async () => {
    socket.emit("echo", ...MIXED_ARGS);
    await log.expect("echo", MIXED_ARGS, "echo without ack");
    socket.emit("echo");
    await log.expect("echo", [], "echo without ack and without arguments");
  });

  await step("echo with ack", async () => {
    assertEqual(MIXED_ARGS, await call(socket, "echo with mixed args", "echo", ...MIXED_ARGS), "echo ack args");
    assertEqual([], await call(socket, "echo without arguments", "echo"), "echo ack of no arguments");
    assertEqual(["only"], await call(socket, "echo of one string", "echo", "only"), "echo ack of one string");
  });

  await step("server-initiated ack answered", async () => {
    const reply = await call(socket, "ask q1", "ask", { timeoutMs: ASK_ANSWERED_TIMEOUT_MS, question: "q1" });
    askedWithAck("q1");
    assertEqual([{ ok: true, answer: "answer to q1" }], reply, "ask q1 result");
  });

  await step("server-initiated ack timing out", async () => {
    mode = "withhold";
    const t0 = Date.now();
    const reply = await call(socket, "ask q2 (unanswered)", "ask", { timeoutMs: ASK_UNANSWERED_TIMEOUT_MS, question: "q2" });
    summary.unansweredAskReplyMs = Date.now() - t0;
    askedWithAck("q2");
    assertEqual([{ ok: false, error: "timeout" }], reply, "ask q2 result");
    if (summary.unansweredAskReplyMs < ASK_UNANSWERED_MIN_MS) {
      fail(`the server gave up on the unanswered question after ${summary.unansweredAskReplyMs} ms, before its ${ASK_UNANSWERED_TIMEOUT_MS} ms timeout`);
    }
  });

  // The withheld ack is sent after the server's timeout: the server must ignore it, and the next
  // question (new ack id) must still be answered normally.
  await step("late ack ignored, next ask works", async () => {
    if (!heldAck) fail("no held ack callback for q2");
    mode = "answer";
    heldAck("late answer to q2");
    const reply = await call(socket, "ask q3", "ask", { timeoutMs: ASK_ANSWERED_TIMEOUT_MS, question: "q3" });
    askedWithAck("q3");
    assertEqual([{ ok: true, answer: "answer to q3" }], reply, "ask q3 result (after a late ack for q2)");
    assertEqual(["q1", "q2", "q3"], questions.map((q) => q.question), "questions received");
  });

  // Sentinel: no stray event (e.g. a duplicate echo) was received in between.
  socket.emit("echo", "sentinel");
  await log.expect("echo", ["sentinel"], "final sentinel: no other event expected before it");
  assertTransport(socket, transport, "at the end");
  summary.transport = transport;
}

async function binaryScenario(transport) {
  const socket = await step("connect", () => connect("/", { transports: [transport] }));
  assertTransport(socket, transport, "after connect");
  const log = new EventLog(socket, "socket", ["question"]);
  const receivedTypes = new Set();
  const echo = async (label, ...args) => {
    const response = await call(socket, label, "echo", ...args);
    binaryTypesIn(response, receivedTypes);
    assertEqual(args, response, `echo ack of ${label}`);
  };

  await step("1 KB buffer", () => echo("1 KB buffer", randomBytes(1024)));
  await step("buffer nested in an object", () => echo("nested buffer", { file: randomBytes(256), name: "x" }));
  await step("two buffers as separate args", () => echo("two buffers", randomBytes(100), randomBytes(200)));
  await step("buffers mixed with JSON at several depths", () =>
    echo(
      "mixed",
      "text first",
      randomBytes(33),
      { deep: { list: [1, randomBytes(5), { inner: randomBytes(7), n: null }], s: "ü" } },
      7,
      [randomBytes(1), "between", randomBytes(2)],
      null,
    ),
  );
  await step("empty buffer", () => echo("empty buffer", Buffer.alloc(0)));

  await step("echo event with binary (no ack)", async () => {
    const args = ["binary event", randomBytes(512), { nested: randomBytes(64) }];
    socket.emit("echo", ...args);
    const got = await log.expect("echo", args, "echo event with binary");
    binaryTypesIn(got, receivedTypes);
  });

  // Binary both ways through a server-initiated ack: the server emits a binary question with an ack
  // id, the client acks with binary (BINARY_ACK), the server acks the client with it (BINARY_ACK).
  await step("binary question and binary answer (server-initiated ack)", async () => {
    const question = randomBytes(48);
    const answer = randomBytes(96);
    let received = null;
    socket.once("question", (q, cb) => {
      received = q;
      if (typeof cb === "function") cb(answer);
    });
    const reply = await call(socket, "ask with binary", "ask", { timeoutMs: ASK_ANSWERED_TIMEOUT_MS, question });
    if (received === null) fail("the server never emitted the binary 'question'");
    assertEqual(question, received, "binary question as received by the client");
    assertEqual([{ ok: true, answer }], reply, "ask result carrying the client's binary answer");
    binaryTypesIn(reply, receivedTypes);
  });

  socket.emit("echo", "sentinel");
  await log.expect("echo", ["sentinel"], "final sentinel: no other event expected before it");
  assertTransport(socket, transport, "at the end");
  summary.transport = transport;
  summary.receivedBinaryTypes = [...receivedTypes];
}

async function roomsScenario() {
  const names = ["A", "B", "C"];
  const clients = {};
  await step("connect A, B, C", async () => {
    for (const name of names) {
      const socket = await connect("/", { transports: ["websocket"] }, `client ${name}`);
      clients[name] = { name, socket, log: new EventLog(socket, `client ${name}`) };
    }
  });
  const { A, B, C } = clients;

  // Everyone also joins a room of its own, through which a sentinel reaches exactly that client.
  await step("join rooms", async () => {
    await callTrue(A.socket, "A join r1", "join", "r1");
    await callTrue(B.socket, "B join r1", "join", "r1");
    await callTrue(C.socket, "C join r2", "join", "r2");
    await callTrue(A.socket, "A join ex", "join", "ex");
    for (const c of [A, B, C]) await callTrue(c.socket, `${c.name} join only-${c.name}`, "join", `only-${c.name}`);
  });

  const toRoom = (from, payload) => callTrue(from.socket, `to-room ${preview(payload)} from ${from.name}`, "to-room", payload);

  // Each `to-room` is acked only after the server emitted, so anything a client should not have
  // received would already be ahead of the sentinel on its connection.
  let sentinelCount = 0;
  const sentinelAll = async (why) => {
    const tag = `sentinel-${++sentinelCount}`;
    for (const c of [A, B, C]) await toRoom(C, { room: `only-${c.name}`, event: "sentinel", data: tag });
    for (const c of [A, B, C]) await c.log.expect("sentinel", [tag], why);
  };

  await step("to-room r1", async () => {
    await toRoom(C, { room: "r1", event: "hello", data: 1 });
    await A.log.expect("hello", [1], "A is in r1");
    await B.log.expect("hello", [1], "B is in r1");
    await sentinelAll("nothing else after 'hello' (C, not in r1, gets nothing)");
  });

  await step("to-room r1 except ex", async () => {
    await toRoom(C, { room: "r1", except: "ex", event: "hello2", data: 2 });
    await toRoom(C, { room: "r1", event: "sentinel", data: "after-hello2" });
    await B.log.expect("hello2", [2], "B is in r1 and not in ex");
    await B.log.expect("sentinel", ["after-hello2"], "r1 sentinel");
    await A.log.expect("sentinel", ["after-hello2"], "A is in ex, so 'hello2' must not arrive before the r1 sentinel");
    await sentinelAll("nothing else after the except step");
  });

  await step("to-room r1 after B left", async () => {
    await callTrue(B.socket, "B leave r1", "leave", "r1");
    await toRoom(C, { room: "r1", event: "hello3", data: 3 });
    await A.log.expect("hello3", [3], "A is still in r1");
    await sentinelAll("B left r1, so only A gets 'hello3'");
  });

  await step("broadcast from A", async () => {
    await callTrue(A.socket, "broadcast from A", "broadcast", { event: "bcast", data: { from: "A", n: 4 } });
    await B.log.expect("bcast", [{ from: "A", n: 4 }], "broadcast reaches B");
    await C.log.expect("bcast", [{ from: "A", n: 4 }], "broadcast reaches C");
    await sentinelAll("the broadcast must not reach its sender A");
  });
  summary.transport = "websocket";
}

async function middlewareScenario() {
  const bad = openSocket("/protected", { auth: { token: "bad" } });
  let badConnects = 0;
  bad.on("connect", () => badConnects++);
  const err = await step("refused with a bad token", async () => {
    const outcome = new Promise((resolve) => {
      bad.once("connect", () => resolve({ connected: true }));
      bad.once("connect_error", (e) => resolve({ err: e }));
    });
    const result = await withTimeout(outcome, CONNECT_TIMEOUT_MS, "connect_error on '/protected' with token 'bad'");
    if (result.connected) fail("'/protected' accepted token 'bad'");
    return result.err;
  });
  summary.refusal = { message: err.message, data: err.data ?? null };
  if (err.type === "TransportError") fail(`could not reach the server: ${describeError(err)}`);
  if (err.message !== "not authorized") fail(`connect_error message: expected "not authorized", received ${describeError(err)}`);
  assertEqual({ code: "nope", retryable: false }, err.data, "connect_error data");
  if (bad.connected || bad.id !== undefined) fail(`the refused socket reports connected=${bad.connected}, id=${bad.id}`);

  const good = await step("accepted with a good token", () => connect("/protected", { auth: { token: "good" } }, "socket on '/protected' with token 'good'"));
  await step("whoami", async () => {
    assertEqual({ id: good.id, nsp: "/protected", auth: { token: "good" } }, await whoami(good, "'/protected'"), "whoami on '/protected'");
    assertEqual(["protected echo"], await call(good, "echo on /protected", "echo", "protected echo"), "echo ack on '/protected'");
  });
  // By now the refused socket has had every chance to (wrongly) connect.
  if (badConnects !== 0 || bad.connected) fail("the refused socket connected after its connect_error");
  summary.transport = transportOf(good);
}

async function reconnectScenario() {
  const socket = await step("connect", () =>
    connect("/", { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 500 }),
  );
  const first = { id: socket.id, engineId: socket.io.engine.id };
  summary.first = first;
  await step("echo before restart", async () => {
    assertEqual(["before", 1], await call(socket, "echo before restart", "echo", "before", 1), "echo ack before the restart");
  });
  // Settle on websocket first so that the restart always hits the same transport.
  await step("upgrade", () => waitUpgraded(socket, "before READY"));
  summary.transportAtReady = transportOf(socket);

  let attempts = 0;
  const reconnectErrors = [];
  socket.io.on("reconnect_attempt", (n) => {
    attempts = n;
  });
  socket.io.on("reconnect_error", (e) => {
    reconnectErrors.push(describeError(e));
    if (reconnectErrors.length > 3) reconnectErrors.shift();
  });
  const disconnected = new Promise((resolve) => socket.once("disconnect", (reason) => resolve({ reason, at: Date.now() })));

  process.stdout.write("READY\n");
  const readyAt = Date.now();

  const { reason, at } = await step("disconnect", () =>
    withTimeout(disconnected, remainingMs(), "'disconnect' after READY (the harness should have stopped the server)"),
  );
  summary.disconnectReason = reason;
  summary.disconnectAfterReadyMs = at - readyAt;
  if (reason === "io client disconnect") fail("the socket reported a client-side disconnect");
  // A Socket.IO DISCONNECT packet from the server ("41" on '/') makes socket.io-client give up for
  // good, so a server that says goodbye that way on shutdown is never reconnected to.
  if (reason === "io server disconnect") {
    fail("the server sent a Socket.IO DISCONNECT packet on shutdown ('io server disconnect'); socket.io-client does not reconnect after that");
  }

  const reconnected = new Promise((resolve) => socket.once("connect", () => resolve(Date.now())));
  const connectedAt = await step("reconnect", () =>
    withTimeout(
      reconnected,
      remainingMs(),
      () => `automatic reconnection (${attempts} attempt(s); last errors: ${reconnectErrors.join(" | ") || "none"})`,
    ),
  );
  summary.downtimeMs = connectedAt - at;
  summary.reconnectAttempts = attempts;
  summary.second = { id: socket.id, engineId: socket.io.engine.id };
  summary.recovered = socket.recovered ?? false;

  if (!socket.id || socket.id === first.id) fail(`socket id after reconnection is '${socket.id}', expected a new one (was '${first.id}')`);
  if (socket.io.engine.id === first.engineId) fail(`Engine.IO id after reconnection is unchanged ('${first.engineId}')`);
  await step("echo after restart", async () => {
    assertEqual(["after", 2], await call(socket, "echo after restart", "echo", "after", 2), "echo ack after the reconnection");
  });
  summary.transport = transportOf(socket);
}

const SCENARIOS = {
  namespaces: () => namespacesScenario(),
  "events-websocket": () => eventsScenario("websocket"),
  "events-polling": () => eventsScenario("polling"),
  "binary-websocket": () => binaryScenario("websocket"),
  "binary-polling": () => binaryScenario("polling"),
  rooms: () => roomsScenario(),
  middleware: () => middlewareScenario(),
  reconnect: () => reconnectScenario(),
};

// ---------------------------------------------------------------------------------------------
// Runner

let finished = false;

function finish(ok, message) {
  if (finished) return;
  finished = true;
  summary.ok = ok;
  summary.durationMs = Date.now() - startedAt;
  if (!ok) summary.error = message;
  for (const socket of openedSockets) {
    try {
      socket.io.reconnection(false);
      socket.disconnect();
    } catch {
      // closing is best effort; the verdict is already decided
    }
  }
  process.stdout.write(JSON.stringify(summary) + "\n");
  if (!ok) process.stderr.write(`FAIL ${scenario ?? "(none)"}: ${message}\n`);
  // Exit explicitly: an open transport or timer must not keep the process (and the test) alive.
  process.exit(ok ? 0 : 1);
}

async function main() {
  const run = SCENARIOS[scenario];
  if (!run) {
    finish(false, `unknown scenario '${scenario}'; expected one of: ${Object.keys(SCENARIOS).join(", ")}`);
    return;
  }
  if (!baseUrl || !/^https?:\/\/[^/]+$/.test(baseUrl)) {
    finish(false, `baseUrl must look like http://127.0.0.1:5123, got '${rawBaseUrl}'`);
    return;
  }

  await runToVerdict(run, finish, SCENARIO_TIMEOUT_MS, () => {
    const last = summary.steps.at(-1)?.step;
    return last ? ` (last finished step: ${last})` : "";
  });
}

main();
