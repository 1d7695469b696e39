// The README's "Use it in your app" client against samples/QuickStart (tests/Tessera.Server.Tests/QuickStartTests.cs).
//
// Usage: node quickstart.mjs <baseUrl>
// Env TESSERA_TOKEN: an access token the app accepts; TESSERA_SUB: its "sub".
// Connects as the README shows (io(url, { auth: { token } }), default transports), then checks that `whoami`
// answers the token's sub and `echo` acks its arguments; a socket without a token must get connect_error
// "Authentication error: Token missing" (err.data.code "token_missing").
// Exit 0 = pass, 1 = fail with the reason on stderr; one JSON summary line on stdout. Bounded by 20 s
// (TESSERA_INTEROP_TIMEOUT_MS overrides).

import { io } from "socket.io-client";
import { fail, once, runToVerdict, withTimeout } from "./lib.mjs";

const [baseUrl] = process.argv.slice(2);
const token = process.env.TESSERA_TOKEN;
const sub = process.env.TESSERA_SUB;
const TIMEOUT_MS = Number(process.env.TESSERA_INTEROP_TIMEOUT_MS ?? 20_000);
const summary = { scenario: "quickstart", ok: false, steps: [] };
const sockets = [];
const startedAt = Date.now();

function open(options) {
  // forceNew and no reconnection: each check has its own connection and a refusal stays final.
  const socket = io(baseUrl, { forceNew: true, reconnection: false, ...options });
  sockets.push(socket);
  return socket;
}

async function run() {
  if (!baseUrl || !/^https?:\/\/[^/]+$/.test(baseUrl)) fail(`baseUrl must look like http://127.0.0.1:5123, got '${baseUrl}'`);
  if (!token || !sub) fail("TESSERA_TOKEN and TESSERA_SUB must be set");

  const socket = open({ auth: { token } });
  await Promise.race([
    once(socket, "connect", 10_000),
    once(socket, "connect_error", 10_000).then(([err]) => fail(`connect_error: ${err.message} ${JSON.stringify(err.data)}`)),
  ]);
  summary.steps.push("connected");

  const me = await withTimeout(socket.emitWithAck("whoami"), 5_000, "whoami's ack");
  if (me?.sub !== sub) fail(`whoami answered ${JSON.stringify(me)}, expected sub ${sub}`);
  summary.whoami = me;
  summary.steps.push("whoami");

  const sent = ["hello", { n: 1, nested: [true, null] }, 42];
  const echoed = await withTimeout(socket.emitWithAck("echo", ...sent), 5_000, "echo's ack");
  // emitWithAck resolves with the ack's first argument.
  if (JSON.stringify(echoed) !== JSON.stringify(sent[0])) fail(`echo acked ${JSON.stringify(echoed)}`);
  const all = await withTimeout(new Promise((resolve) => socket.emit("echo", ...sent, (...args) => resolve(args))), 5_000, "echo's ack (all arguments)");
  if (JSON.stringify(all) !== JSON.stringify(sent)) fail(`echo acked ${JSON.stringify(all)}, expected ${JSON.stringify(sent)}`);
  summary.transport = socket.io.engine.transport.name;
  summary.steps.push("echo");
  socket.disconnect();

  const anonymous = open({});
  const [err] = await Promise.race([
    once(anonymous, "connect_error", 10_000),
    once(anonymous, "connect", 10_000).then(() => fail("connected without a token")),
  ]);
  summary.refusal = { message: err.message, data: err.data };
  if (err.message !== "Authentication error: Token missing") fail(`refusal message ${JSON.stringify(err.message)}`);
  if (err.data?.code !== "token_missing") fail(`refusal data ${JSON.stringify(err.data)}`);
  summary.steps.push("refused without token");
}

let finished = false;

function finish(ok, message) {
  if (finished) return;
  finished = true;
  summary.ok = ok;
  summary.durationMs = Date.now() - startedAt;
  if (!ok) summary.error = message;
  for (const socket of sockets) {
    try {
      socket.disconnect();
    } catch {
      // best effort; the verdict is decided
    }
  }
  process.stdout.write(JSON.stringify(summary) + "\n");
  if (!ok) process.stderr.write(`FAIL quickstart: ${message}\n`);
  process.exit(ok ? 0 : 1);
}

await runToVerdict(run, finish, TIMEOUT_MS, () => ` (steps done: ${summary.steps.join(", ") || "none"})`);
