// Engine.IO v4 interop client for Tessera, driven by the xunit interop tests.
//
// Usage: node engineio.mjs <scenario> <baseUrl> [maxPayload]
//   baseUrl    e.g. http://127.0.0.1:5123 ; the server must expose an ECHO endpoint at /engine.io/
//   maxPayload the server's maxPayload in bytes (default 1000000), used to size "near max" messages
//
// Exit code 0 = pass, 1 = fail (reason on stderr). Exactly one JSON summary line goes to stdout.
// Scenarios: polling-roundtrip, websocket-roundtrip, upgrade, order-polling, order-websocket,
//            ping-timeout-polling, ping-timeout-websocket, server-close-polling, server-close-websocket

import { Socket } from "engine.io-client";
import { randomBytes, randomInt } from "node:crypto";
import { Inbox, ScenarioError, fail, runToVerdict, withTimeout } from "./lib.mjs";

const ENDPOINT_PATH = "/engine.io/";
const DEFAULT_MAX_PAYLOAD = 1_000_000;
// "Near max" messages stay this far below maxPayload, leaving room for the packet type byte,
// base64/batching overhead and any small framing difference on the server side.
const NEAR_MAX_MARGIN = 400;
const KB64 = 64 * 1024;
const ORDER_COUNT = 1000;

// Every wait is bounded. The global deadline is the backstop; the per-step ones give better messages.
const SCENARIO_TIMEOUT_MS = Number(process.env.TESSERA_INTEROP_TIMEOUT_MS) || 20_000;
const OPEN_TIMEOUT_MS = 5_000;
const ECHO_TIMEOUT_MS = 10_000;
const UPGRADE_TIMEOUT_MS = 10_000;

const [scenario, baseUrl, maxPayloadArg] = process.argv.slice(2);
const maxPayload = maxPayloadArg ? Number(maxPayloadArg) : DEFAULT_MAX_PAYLOAD;
const startedAt = Date.now();

// Filled in by the scenarios and printed as the one JSON summary line.
const summary = { scenario, baseUrl, ok: false };

// The socket in use, so that finish() can close it whatever happened.
let activeSocket = null;

// ---------------------------------------------------------------------------------------------
// Payload helpers

// Mixed 1/2/3/4-byte UTF-8 characters, so that byte-vs-char length confusion shows up as a
// mismatch. No control characters: the polling payload uses \x1e as its record separator.
const MULTIBYTE = ["é", "ß", "€", "中", "😀", "🚀"];

function makeText(byteLength) {
  const parts = [];
  let remaining = byteLength;
  while (remaining > 0) {
    const roll = randomInt(4);
    const wide = MULTIBYTE[randomInt(MULTIBYTE.length)];
    const wideBytes = Buffer.byteLength(wide);
    if (roll === 0 && wideBytes <= remaining) {
      parts.push(wide);
      remaining -= wideBytes;
    } else {
      // printable ASCII 0x20..0x7e
      parts.push(String.fromCharCode(0x20 + randomInt(0x5f)));
      remaining -= 1;
    }
  }
  const text = parts.join("");
  if (Buffer.byteLength(text) !== byteLength) throw new Error("makeText: internal size error");
  return text;
}

function makeBinary(byteLength) {
  // randomBytes returns a Buffer that owns its memory (not a slice of the shared pool).
  return randomBytes(byteLength);
}

function isBinary(value) {
  return Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function toBuffer(value) {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}

function kindOf(value) {
  if (typeof value === "string") return "text";
  if (isBinary(value)) return "binary";
  return typeof value;
}

function preview(value) {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? value.slice(0, 40) + "…" : value);
  if (isBinary(value)) return `<${toBuffer(value).length} bytes>`;
  return String(value);
}

// Returns null when equal, otherwise a description of the first difference.
function diff(expected, actual) {
  const expectedKind = kindOf(expected);
  const actualKind = kindOf(actual);
  if (expectedKind !== actualKind) {
    return `type differs: sent ${expectedKind}, received ${actualKind} (${preview(actual)})`;
  }
  if (expectedKind === "text") {
    if (expected === actual) return null;
    const sentBytes = Buffer.byteLength(expected);
    const gotBytes = Buffer.byteLength(actual);
    let i = 0;
    while (i < expected.length && i < actual.length && expected[i] === actual[i]) i++;
    return (
      `text differs: sent ${expected.length} chars/${sentBytes} bytes, received ` +
      `${actual.length} chars/${gotBytes} bytes; first difference at char ${i} ` +
      `(sent ${JSON.stringify(expected.slice(i, i + 8))}, received ${JSON.stringify(actual.slice(i, i + 8))})`
    );
  }
  const a = toBuffer(expected);
  const b = toBuffer(actual);
  if (a.equals(b)) return null;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return (
    `binary differs: sent ${a.length} bytes, received ${b.length} bytes; first difference at byte ${i} ` +
    `(sent ${a.subarray(i, i + 8).toString("hex")}, received ${b.subarray(i, i + 8).toString("hex")})`
  );
}


// Close reasons come with a description that can be an Error, a TransportError or
// { description, context: CloseEvent }; reduce it to something printable.
function describeClose(description) {
  if (description == null) return null;
  if (typeof description === "string") return description;
  const parts = [];
  if (description.message) parts.push(description.message);
  if (typeof description.description === "string") parts.push(description.description);
  else if (typeof description.description === "number") parts.push(`status ${description.description}`);
  else if (description.description?.message) parts.push(description.description.message);
  const code = description.context?.code;
  if (typeof code === "number") parts.push(`ws close code ${code}`);
  return parts.join("; ") || String(description);
}

// Every received message, in arrival order, for the scenario to await one by one.
function inboxFor(socket) {
  const inbox = new Inbox(ECHO_TIMEOUT_MS);
  socket.on("message", (data) => inbox.push(data));
  socket.on("close", (reason, description) => inbox.end(`connection closed (${reason}: ${describeClose(description)})`));
  return inbox;
}

// Opens a socket and resolves once the handshake is done. Errors before open are failures.
async function connect(transports, extraOptions = {}) {
  const socket = new Socket(baseUrl, {
    path: ENDPOINT_PATH,
    transports,
    // Avoid surprises from reconnect-ish behaviour: we want the first transport only, or a clean failure.
    tryAllTransports: false,
    ...extraOptions,
  });
  activeSocket = socket;
  const inbox = inboxFor(socket);
  let handshake = null;
  socket.on("handshake", (data) => {
    handshake = data;
  });
  const opened = new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", (err) => reject(new ScenarioError(`connection error before open: ${describeClose(err)}`)));
    socket.once("close", (reason, desc) =>
      reject(new ScenarioError(`closed before open: ${reason} (${describeClose(desc)})`)),
    );
  });
  await withTimeout(opened, OPEN_TIMEOUT_MS, `'open' over ${transports.join("+")}`);
  recordHandshake(handshake);
  return { socket, inbox, handshake };
}

// Copies the open packet's fields into the summary (the C# side compares them with its config).
function recordHandshake(handshake) {
  if (!handshake) fail("socket opened without a handshake ('open' packet) being seen");
  summary.sid = handshake.sid;
  summary.pingInterval = handshake.pingInterval;
  summary.pingTimeout = handshake.pingTimeout;
  summary.serverMaxPayload = handshake.maxPayload;
  summary.upgrades = handshake.upgrades;
}

// Size of the "near maxPayload" messages. They are sized from the argument; one larger than the
// server's own limit would be rejected by the server, a test setup error rather than an interop bug.
function nearMaxSize() {
  const advertised = summary.serverMaxPayload;
  if (advertised > 0 && maxPayload > advertised) {
    fail(`maxPayload argument ${maxPayload} exceeds the server's advertised maxPayload ${advertised}`);
  }
  return maxPayload - NEAR_MAX_MARGIN;
}

function assertTransport(socket, expected, when) {
  const name = socket.transport?.name;
  if (name !== expected) {
    const note = summary.unexpectedUpgrade ? ` (client upgraded to '${summary.unexpectedUpgrade}')` : "";
    fail(`transport is '${name}' ${when}, expected '${expected}'${note}`);
  }
}

// Sends one message and checks the echo: same type, same content.
async function roundTrip(conn, label, payload) {
  const t0 = Date.now();
  conn.socket.send(payload);
  const echoed = await conn.inbox.next(`echo of ${label}`);
  const difference = diff(payload, echoed);
  if (difference) fail(`${label}: ${difference}`);
  summary.roundTrips.push({ label, ms: Date.now() - t0 });
}

// ---------------------------------------------------------------------------------------------
// Scenarios

async function transportRoundTrip(transport) {
  const conn = await connect([transport]);
  assertTransport(conn.socket, transport, "after open");
  // Recorded rather than thrown: a throw inside an emitter callback would land in the transport.
  conn.socket.on("upgrade", (t) => {
    summary.unexpectedUpgrade = t.name;
  });
  summary.roundTrips = [];

  const nearMax = nearMaxSize();
  const cases = [
    ["text 1 B", makeText(1)],
    ["text 64 KB", makeText(KB64)],
    [`text ${nearMax} B (near maxPayload)`, makeText(nearMax)],
    ["binary 1 B", makeBinary(1)],
    ["binary 64 KB", makeBinary(KB64)],
  ];
  // Polling carries binary as base64 (4/3 larger), so near-max binary only fits over websocket.
  if (transport === "websocket") cases.push([`binary ${nearMax} B (near maxPayload)`, makeBinary(nearMax)]);

  for (const [label, payload] of cases) {
    await roundTrip(conn, label, payload);
    assertTransport(conn.socket, transport, `after ${label}`);
  }
  summary.transport = conn.socket.transport.name;
}

async function upgradeScenario() {
  // Built by hand rather than with connect(): the upgrade-window listeners must be attached
  // before 'open' fires, i.e. synchronously after construction.
  const sent = [];
  let upgradeInfo = null;
  const upgraded = {};
  upgraded.promise = new Promise((resolve, reject) => {
    upgraded.resolve = resolve;
    upgraded.reject = reject;
  });

  const socket = new Socket(baseUrl, { path: ENDPOINT_PATH, transports: ["polling", "websocket"] });
  activeSocket = socket;
  const inbox = inboxFor(socket);
  let handshake = null;
  socket.on("handshake", (data) => {
    handshake = data;
    // Fail fast instead of waiting out the upgrade timeout.
    if (!data.upgrades?.includes("websocket")) {
      upgraded.reject(new ScenarioError(`handshake advertises upgrades ${JSON.stringify(data.upgrades)}, expected 'websocket'`));
    }
  });

  // Right after open: still on polling, the websocket probe has not finished yet.
  let openedAt = null;
  socket.once("open", () => {
    openedAt = Date.now();
    summary.transportAtOpen = socket.transport.name;
    for (let i = 0; i < 3; i++) {
      const text = `early-${i}-${makeText(32)}`;
      socket.send(text);
      sent.push(text);
    }
    const bin = makeBinary(48);
    socket.send(bin);
    sent.push(bin);
  });
  // Probe succeeded, polling is being paused: these sit in the write buffer and must be
  // flushed over websocket after the upgrade, after the earlier ones.
  socket.once("upgrading", (t) => {
    summary.upgradingTo = t.name;
    for (let i = 0; i < 3; i++) {
      const text = `upgrading-${i}-${makeText(32)}`;
      socket.send(text);
      sent.push(text);
    }
    const bin = makeBinary(48);
    socket.send(bin);
    sent.push(bin);
  });
  socket.once("upgrade", (t) => {
    upgradeInfo = { to: t.name, afterOpenMs: Date.now() - openedAt };
    upgraded.resolve();
  });
  socket.once("upgradeError", (err) => upgraded.reject(new ScenarioError(`upgradeError: ${describeClose(err)}`)));
  socket.once("close", (reason, desc) =>
    upgraded.reject(new ScenarioError(`closed before upgrade: ${reason} (${describeClose(desc)})`)),
  );
  socket.once("error", (err) => upgraded.reject(new ScenarioError(`error before upgrade: ${describeClose(err)}`)));

  await withTimeout(upgraded.promise, UPGRADE_TIMEOUT_MS, "'upgrade' event");
  recordHandshake(handshake);
  summary.upgrade = upgradeInfo;
  if (summary.transportAtOpen !== "polling") fail(`transport at open was '${summary.transportAtOpen}', expected 'polling'`);
  assertTransport(socket, "websocket", "after 'upgrade'");

  // Everything sent around the upgrade comes back, in order, with the right types.
  for (let i = 0; i < sent.length; i++) {
    const echoed = await inbox.next(`echo of upgrade-window message #${i}`);
    const difference = diff(sent[i], echoed);
    if (difference) fail(`upgrade-window message #${i} (of ${sent.length}): ${difference}`);
  }
  summary.upgradeWindowMessages = sent.length;

  summary.roundTrips = [];
  const conn = { socket, inbox };
  const nearMax = nearMaxSize();
  await roundTrip(conn, "text 1 B", makeText(1));
  await roundTrip(conn, "binary 1 B", makeBinary(1));
  await roundTrip(conn, "text 64 KB", makeText(KB64));
  await roundTrip(conn, "binary 64 KB", makeBinary(KB64));
  await roundTrip(conn, `text ${nearMax} B (near maxPayload)`, makeText(nearMax));
  await roundTrip(conn, `binary ${nearMax} B (near maxPayload)`, makeBinary(nearMax));
  assertTransport(socket, "websocket", "after round trips");
  summary.transport = socket.transport.name;
}

async function orderScenario(transport) {
  const conn = await connect([transport]);
  const t0 = Date.now();
  // Back to back, no awaiting: over polling the client batches them into as few POSTs as it can.
  for (let i = 0; i < ORDER_COUNT; i++) conn.socket.send(`order-${i}`);
  for (let i = 0; i < ORDER_COUNT; i++) {
    const echoed = await conn.inbox.next(`echo #${i} of ${ORDER_COUNT} (received ${i} so far)`);
    if (echoed !== `order-${i}`) fail(`message #${i}: expected "order-${i}", received ${preview(echoed)}`);
  }
  assertTransport(conn.socket, transport, "after the ordered batch");
  summary.messages = ORDER_COUNT;
  summary.elapsedMs = Date.now() - t0;
  summary.transport = conn.socket.transport.name;
}

// Makes the client silently stop answering pings. In engine.io-client 6.6 the socket answers a
// ping with this._sendPacket("pong") (sendPacket before 6.6); wrapping that instance method drops
// the pong before it reaches any transport, so it also holds across transports.
function suppressPongs(socket) {
  const method = ["_sendPacket", "sendPacket"].find((m) => typeof socket[m] === "function");
  if (!method) fail("cannot find the engine.io-client Socket send method to suppress pongs (client version changed?)");
  const original = socket[method];
  const state = { dropped: 0, leaked: 0 };
  socket[method] = function (type, ...rest) {
    if (type === "pong") {
      state.dropped++;
      return undefined;
    }
    return original.call(this, type, ...rest);
  };
  // Cross-check: a 'pong' packetCreate after this point means the suppression did not work.
  socket.on("packetCreate", (packet) => {
    if (packet.type === "pong") state.leaked++;
  });
  return state;
}

async function pingTimeoutScenario(transport) {
  const conn = await connect([transport]);
  const { socket } = conn;
  const interval = summary.pingInterval;
  const timeout = summary.pingTimeout;
  if (!(interval > 0 && timeout > 0)) fail(`handshake has no usable pingInterval/pingTimeout (${interval}/${timeout})`);

  const closed = new Promise((resolve) => socket.once("close", (reason, desc) => resolve({ reason, desc, at: Date.now() })));
  const pongs = suppressPongs(socket);
  const stoppedAt = Date.now();
  let pingsIgnored = 0;
  let lastPingAt = null;
  socket.on("ping", () => {
    pingsIgnored++;
    lastPingAt = Date.now();
  });

  // The server should close after at most pingInterval + pingTimeout; allow generous slack, but
  // stay within the scenario deadline (a server with 25 s/20 s defaults cannot be tested here).
  const budget = SCENARIO_TIMEOUT_MS - (Date.now() - startedAt) - 500;
  if (interval + timeout > budget) {
    fail(`pingInterval+pingTimeout = ${interval + timeout} ms does not fit the ${SCENARIO_TIMEOUT_MS} ms scenario timeout`);
  }
  const { reason, desc, at } = await withTimeout(closed, budget, "'close' after pongs were suppressed");

  summary.transport = transport;
  summary.closeAfterMs = at - stoppedAt;
  summary.closeAfterLastPingMs = lastPingAt === null ? null : at - lastPingAt;
  summary.closeReason = reason;
  summary.closeDescription = describeClose(desc);
  summary.pingsIgnored = pingsIgnored;
  summary.pongsDropped = pongs.dropped;
  // "ping timeout" is the client's own watchdog (no ping for pingInterval+pingTimeout), i.e. the
  // server did NOT close the session itself; "transport close" means the server closed it.
  summary.closedByClientWatchdog = reason === "ping timeout";
  if (pongs.leaked > 0) fail(`${pongs.leaked} pong packet(s) were still sent despite suppression`);
}

// The server closes the session (the test's handler answers "close-me" with "bye", then closes). Reports
// every packet type the client received after open, in order, and how it saw the close. Over WebSocket Node's
// server sends no close packet (only the close frame); over polling the close packet is how it says it.
async function serverCloseScenario(transport) {
  const conn = await connect([transport]);
  const { socket } = conn;
  const packets = [];
  socket.on("packet", (packet) => packets.push(packet.type));
  const closed = new Promise((resolve) => socket.once("close", (reason, desc) => resolve({ reason, desc })));
  socket.send("close-me");
  const echoed = await conn.inbox.next("'bye' before the close");
  if (echoed !== "bye") fail(`expected "bye" before the close, received ${preview(echoed)}`);
  const { reason, desc } = await withTimeout(closed, ECHO_TIMEOUT_MS, "'close' after the server closed the session");
  summary.transport = transport;
  summary.packets = packets.filter((type) => type !== "ping");
  summary.closeReason = reason;
  summary.closeDescription = describeClose(desc);
}

const SCENARIOS = {
  "server-close-polling": () => serverCloseScenario("polling"),
  "server-close-websocket": () => serverCloseScenario("websocket"),
  "polling-roundtrip": () => transportRoundTrip("polling"),
  "websocket-roundtrip": () => transportRoundTrip("websocket"),
  upgrade: () => upgradeScenario(),
  "order-polling": () => orderScenario("polling"),
  "order-websocket": () => orderScenario("websocket"),
  "ping-timeout-polling": () => pingTimeoutScenario("polling"),
  "ping-timeout-websocket": () => pingTimeoutScenario("websocket"),
};

// ---------------------------------------------------------------------------------------------
// Runner

function finish(ok, message) {
  summary.ok = ok;
  summary.durationMs = Date.now() - startedAt;
  if (!ok) summary.error = message;
  try {
    activeSocket?.close();
  } catch {
    // closing is best effort; the verdict is already decided
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
  if (!baseUrl || !/^https?:\/\//.test(baseUrl)) {
    finish(false, `baseUrl must look like http://127.0.0.1:5123, got '${baseUrl}'`);
    return;
  }
  if (!Number.isInteger(maxPayload) || maxPayload <= NEAR_MAX_MARGIN + KB64) {
    finish(false, `maxPayload must be an integer > ${NEAR_MAX_MARGIN + KB64}, got '${maxPayloadArg}'`);
    return;
  }
  summary.maxPayload = maxPayload;

  await runToVerdict(run, finish, SCENARIO_TIMEOUT_MS);
}

main();
