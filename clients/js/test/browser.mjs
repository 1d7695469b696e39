// tessera-client in Debian's Chromium (playwright-core from tests/interop): the cookie flow and the one-refresh rule
// across tabs, against the real server at <baseUrl> (started with 4 s access tokens, auth:expiring 2 s before exp).
//
// The test page is this script's own, served on the server's origin by page routes: GET <baseUrl>/__client-test is a
// tiny HTML page and /__client/* are the files of clients/js/dist; /auth, /socket.io and /metrics go to the server.
//
// Usage: node test/browser.mjs <baseUrl>     Exit 0 = pass; one JSON summary line on stdout.
import { createRequire } from "node:module";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(here, "..", "dist");
const interop = process.env.TESSERA_INTEROP_DIR ?? resolve(here, "..", "..", "..", "tests", "interop");
const { chromium } = createRequire(join(interop, "package.json"))("playwright-core");

const [baseUrl] = process.argv.slice(2);
if (!baseUrl) throw new Error("usage: node test/browser.mjs <baseUrl>");
const STEP = 15_000;
const summary = { ok: false, steps: [], timings: {} };
const started = Date.now();
const step = (text) => {
  summary.steps.push(text);
  summary.timings[text] = Date.now() - started;
};
const fail = (message) => {
  throw new Error(message);
};
const check = (condition, message) => condition || fail(message);

const PAGE = `<!doctype html>
<meta charset="utf-8"><title>tessera-client test page</title>
<script src="/socket.io/socket.io.min.js"></script>
<script type="module">
import { TesseraClient } from "/__client/index.js";
// Defaults only: url = location.origin, credentials = "cookie" (a browser), lockName "tessera-refresh".
const client = new TesseraClient({ io: window.io, socketOptions: { transports: ["websocket"] } });
const t = { client, events: [], waiters: [] };
for (const name of ["token", "revoked", "expired", "refresh-failed", "logged-out"]) {
  client.on(name, (detail) => {
    t.events.push({ event: name, code: detail?.code ?? detail?.error?.code });
    for (const w of [...t.waiters]) if (t.count(w.event) >= w.n) { t.waiters.splice(t.waiters.indexOf(w), 1); w.resolve(); }
  });
}
t.count = (event) => t.events.filter((e) => e.event === event).length;
t.until = (event, n) => t.count(event) >= n ? Promise.resolve() : new Promise((resolve) => t.waiters.push({ event, n, resolve }));
t.connect = () => new Promise((resolve, reject) => {
  const socket = client.connect();
  t.socket = socket;
  socket.once("connect", () => resolve(socket.id));
  socket.once("connect_error", (err) => reject(new Error("connect_error " + err.message)));
});
t.whoami = () => t.socket.timeout(5000).emitWithAck("whoami");
t.state = () => ({ connected: !!t.socket?.connected, id: t.socket?.id ?? null, token: client.accessToken, user: client.user });
window.t = t;
window.tReady = true;
</script>`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // LocalNetworkAccessChecks: a page fulfilled by a route has no server address, so Chromium counts it as public and
  // blocks its WebSocket to 127.0.0.1 (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS); the server's own pages are not.
  args: ["--disable-features=LocalNetworkAccessChecks", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"],
});

async function routed(context) {
  await context.route(`${baseUrl}/__client-test`, (route) => route.fulfill({ status: 200, contentType: "text/html; charset=utf-8", body: PAGE }));
  await context.route(`${baseUrl}/__client/**`, async (route) => {
    const name = new URL(route.request().url()).pathname.slice("/__client/".length);
    if (!/^[\w.-]+\.js$/.test(name)) return route.fulfill({ status: 404, body: "" });
    const body = await readFile(join(dist, name)).catch(() => null);
    return body ? route.fulfill({ status: 200, contentType: "application/javascript; charset=utf-8", body }) : route.fulfill({ status: 404, body: "" });
  });
  return context;
}

async function open(context) {
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`[page error] ${err.message}`));
  await page.goto(`${baseUrl}/__client-test`);
  await page.waitForFunction(() => window.tReady === true, null, { timeout: STEP });
  return page;
}

// The server's own count of POST /auth/refresh outcomes (tessera_auth_refreshes_total{via="http"}).
async function refreshes() {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const count = (result) => Number(text.match(new RegExp(`tessera_auth_refreshes_total\\{result="${result}",via="http"\\} (\\d+)`))?.[1] ?? 0);
  return { rotated: count("rotated"), reused: count("reused"), invalid: count("invalid") };
}
const delta = (a, b) => ({ rotated: b.rotated - a.rotated, reused: b.reused - a.reused, invalid: b.invalid - a.invalid });

const timed = (promise, ms, what) => {
  let timer;
  return Promise.race([promise, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
};

try {
  await timed((async () => {
    const context = await routed(await browser.newContext());
    // Every POST /auth/refresh any page of the profile sends.
    const refreshPosts = [];
    context.on("request", (request) => {
      if (request.method() === "POST" && new URL(request.url()).pathname === "/auth/refresh") refreshPosts.push(request.postData());
    });
    const a = await open(context);
    const username = `tab${Date.now() % 1_000_000}`;
    const me = await a.evaluate(async ([username]) => {
      const created = await t.client.register(username, "correct horse battery");
      await t.client.login(username, "correct horse battery");
      return created;
    }, [username]);
    const cookie = (await context.cookies(baseUrl + "/auth")).find((c) => c.name === "refresh_token");
    check(cookie && cookie.httpOnly && cookie.sameSite === "Strict" && cookie.path === "/auth", `refresh cookie: ${JSON.stringify(cookie)}`);
    check((await a.evaluate(() => document.cookie)) === "", "no cookie readable by the page");
    await a.evaluate(() => t.connect());
    check((await a.evaluate(() => t.whoami())).sub === me.id, "tab A whoami");
    step("tab A: registered, logged in (refresh token only in the HttpOnly cookie), connected");

    const b = await open(context);
    const beforeResume = refreshPosts.length;
    check((await b.evaluate(() => t.client.resume())) === true, "tab B resume() should be true with the cookie");
    summary.tabBResumedFrom = refreshPosts.length > beforeResume ? "the cookie" : "tab A's token";
    await b.evaluate(() => t.connect());
    check((await b.evaluate(() => t.whoami())).sub === me.id, "tab B whoami");
    step(`tab B: resume() → true (from ${summary.tabBResumedFrom}), connected as the same user`);

    // Both tabs refresh at the same moment: hold the refresh lock, let each tab ask for a refresh (both wait on it),
    // then let go. Exactly one POST must reach the server.
    await a.evaluate(() => new Promise((granted) => {
      navigator.locks.request("tessera-refresh", () => { granted(); return new Promise((release) => (t.releaseBarrier = release)); });
    }));
    const idsBefore = [await a.evaluate(() => t.state().id), await b.evaluate(() => t.state().id)];
    await a.evaluate(() => { t.pending = t.client.refresh(); });
    await b.evaluate(() => { t.pending = t.client.refresh(); });
    await a.waitForFunction(async () => (await navigator.locks.query()).pending.filter((l) => l.name === "tessera-refresh").length === 2, null, { timeout: STEP, polling: 50 });
    const m0 = await refreshes();
    const posts0 = refreshPosts.length;
    await a.evaluate(() => t.releaseBarrier());
    const [tokenA, tokenB] = await Promise.all([a.evaluate(() => t.pending), b.evaluate(() => t.pending)]);
    const m1 = await refreshes();
    summary.simultaneous = { serverRefreshes: delta(m0, m1), postsFromTabs: refreshPosts.length - posts0 };
    check(refreshPosts.length - posts0 === 1, `one POST /auth/refresh from the two tabs, not ${refreshPosts.length - posts0}`);
    check(delta(m0, m1).rotated === 1 && delta(m0, m1).reused === 0, `server refreshes ${JSON.stringify(delta(m0, m1))}`);
    check(tokenA === tokenB, "both tabs hold the token of that one refresh");
    check(refreshPosts.at(-1) === "{}", `a cookie refresh sends {} (sent ${refreshPosts.at(-1)})`);
    for (const [page, id] of [[a, idsBefore[0]], [b, idsBefore[1]]]) {
      const state = await page.evaluate(() => t.state());
      check(state.connected && state.id === id, "same socket, still connected, in both tabs");
      check((await page.evaluate(() => t.whoami())).sub === me.id, "whoami after the shared refresh");
    }
    step("two tabs refreshing at the same moment: one POST /auth/refresh, the other tab took its token");

    // From now on both tabs hold the same token, so their sockets are warned at the same moment: each round of
    // auth:expiring must again cost one POST, never a refresh_reused.
    const tokensA = await a.evaluate(() => t.count("token"));
    const tokensB = await b.evaluate(() => t.count("token"));
    const m2 = await refreshes();
    await Promise.all([a.evaluate((n) => t.until("token", n), tokensA + 2), b.evaluate((n) => t.until("token", n), tokensB + 2)]);
    const m3 = await refreshes();
    summary.twoRounds = delta(m2, m3);
    check(delta(m2, m3).rotated === 2 && delta(m2, m3).reused === 0, `two rounds of auth:expiring in two tabs: ${JSON.stringify(delta(m2, m3))}`);
    for (const [page, id] of [[a, idsBefore[0]], [b, idsBefore[1]]]) {
      const state = await page.evaluate(() => t.state());
      check(state.connected && state.id === id, "still the same sockets after two rounds");
    }
    check((await a.evaluate(() => t.state().token)) === (await b.evaluate(() => t.state().token)), "one token for both tabs");
    step("two rounds of auth:expiring in both tabs: one POST per round, no refresh_reused, sockets kept");

    // Reload with only the cookie: tab B closed, tab A reloaded.
    await b.close();
    await a.reload();
    await a.waitForFunction(() => window.tReady === true, null, { timeout: STEP });
    const posts1 = refreshPosts.length;
    check((await a.evaluate(() => t.client.resume())) === true, "resume() after the reload");
    check(refreshPosts.length === posts1 + 1, "resume() after the reload refreshed from the cookie");
    await a.evaluate(() => t.connect());
    const after = await a.evaluate(() => t.whoami());
    check(after.sub === me.id && after.name === username, "same user after the reload");
    step("page reload: resume() → true from the cookie, connected again as the same user");

    // A browser without the cookie has no session to resume.
    const stranger = await open(await routed(await browser.newContext()));
    check((await stranger.evaluate(() => t.client.resume())) === false, "resume() without the cookie is false");
    check((await stranger.evaluate(() => t.events.length)) === 0, "and emits nothing");
    step("another browser profile (no cookie): resume() → false");

    // Logout in one tab ends the other's session too ("revoked"), and the cookie is gone for both.
    const c = await open(context);
    check((await c.evaluate(() => t.client.resume())) === true, "tab C resume()");
    await c.evaluate(() => t.connect());
    const revokedC = c.evaluate(() => t.until("revoked", 1));
    await a.evaluate(() => t.client.logout());
    await revokedC;
    check((await a.evaluate(() => t.events.at(-1).event)) === "logged-out", "tab A: logged-out");
    check(!(await a.evaluate(() => t.events.some((e) => e.event === "revoked"))), "tab A: no revoked for its own logout");
    const stateC = await c.evaluate(() => t.state());
    check(!stateC.connected && stateC.token === null, "tab C: disconnected, token forgotten");
    check((await c.evaluate(() => t.client.resume())) === false, "tab C: resume() after the logout is false (cookie deleted)");
    summary.total = delta(m0, await refreshes());
    check(summary.total.reused === 0, "never a refresh_reused");
    step("logout in tab A: tab C got \"revoked\" and is disconnected; resume() is false afterwards");
    summary.ok = true;
  })(), 55_000, "the browser scenario");
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: error.message }));
  console.error("FAIL browser: " + error.stack);
  process.exitCode = 1;
} finally {
  await browser.close();
}
