// The demo page as a person uses it, in Debian's Chromium driven by playwright-core (tests/Tessera.Server.Tests/
// DemoPageTests.cs starts a server for each scenario and runs this script against it).
//
// Usage: node demo.mjs <scenario> <baseUrl> <screenshotDir> [args…]
// Scenarios:
//   layout          at 390×844 (a phone) and 1280×800: no sideways scrolling; at 390 the message list and the message
//                   box as wide as the viewport less the padding around them; the header on one line; the panels
//                   (rooms, messages, members) not overlapping; axe-core on the login and the chat view finds nothing
//                   serious or critical; no failed request, no console error, no CSP violation; screenshots.
//   keyboard        Tab reaches the room buttons and Enter joins / selects a room (focus stays on the button); text typed
//                   while a send is pending survives its ack (acks delayed on the WebSocket); a refused send gives its
//                   text back when the box is empty, and never overwrites newer text.
//   session         a reload resumes the session from the refresh cookie (same user, connected, same sid); logout says
//                   "You logged out." (info, not an error) and a reload then shows the login form; a logout-all from
//                   another login of the same user says "Your session ended elsewhere.".
//   expired         (server with a refresh lifetime shorter than the access token's) → "Your session expired.".
//   no-registration <username> <password> (server with AllowRegistration=false, the user created beforehand): no
//                   Register button, and logging in works.
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const [scenario, baseUrl, shots, ...extra] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const here = dirname(fileURLToPath(import.meta.url));
const AXE = join(here, "node_modules", "axe-core", "axe.min.js");
const STEP = 15_000;
const PASSWORD = "correct horse battery";
const run = `${Date.now() % 100000}`;
const summary = { ok: false, scenario, steps: [], screenshots: [], problems: [] };
const started = Date.now();
const step = (text) => summary.steps.push(`${((Date.now() - started) / 1000).toFixed(1)}s ${text}`);
const check = (condition, message) => { if (!condition) throw new Error(message); };

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});

const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

/** A page in a context of its own (own cookies), watched for failed requests, console errors and CSP violations. */
async function open(viewport, { axe = false } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  // axe-core as an init script: it runs in the page although the page's CSP allows no inline script.
  if (axe) await page.addInitScript({ path: AXE });
  page.on("pageerror", (error) => summary.problems.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    // The page asks for a refresh at every load; without a cookie (or with a dead one) the server refuses it.
    if (/Failed to load resource: the server responded with a status of 40[01]/.test(text)) return;
    summary.problems.push(`console error: ${text}`);
  });
  page.on("response", (response) => {
    const url = new URL(response.url());
    if (response.status() < 400) return;
    if (url.pathname === "/auth/refresh" && [400, 401].includes(response.status())) return;
    if (url.pathname === "/auth/login" && response.status() === 401) return;
    summary.problems.push(`HTTP ${response.status()} ${url.pathname}`);
  });
  // Errors are shown in the page, never in a dialog (alert()).
  page.on("dialog", (dialog) => { summary.problems.push(`dialog: ${dialog.message()}`); dialog.dismiss(); });
  page.on("requestfailed", (request) => {
    const url = new URL(request.url());
    // A socket torn down on purpose (logout, reload) aborts its pending poll.
    if (url.pathname.startsWith("/socket.io/") && url.pathname !== "/socket.io/socket.io.min.js") return;
    summary.problems.push(`request failed: ${url.pathname} ${request.failure()?.errorText}`);
  });
  return page;
}

async function shot(page, name) {
  const path = join(shots, `${String(summary.screenshots.length + 1).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  summary.screenshots.push(path);
}

async function gotoLogin(page) {
  await page.goto(baseUrl);
  await page.waitForSelector("#login:not([hidden])", { timeout: STEP });
}

async function signUp(page, username) {
  await gotoLogin(page);
  await page.fill("#username", username);
  await page.fill("#password", PASSWORD);
  const login = page.waitForResponse((r) => r.url().endsWith("/auth/login"), { timeout: STEP });
  await page.click("#register-button");
  const response = await login;
  await connected(page, username);
  return claims((await response.json()).token);
}

async function connected(page, username) {
  await page.waitForSelector("#chat:not([hidden])", { timeout: STEP });
  await page.waitForSelector("#state.connected", { timeout: STEP });
  const who = await page.textContent("#who");
  check(who === username, `the header names ${JSON.stringify(who)}, not ${username}`);
}

function claims(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

async function joinRoom(page, room) {
  await page.fill("#room-name", room);
  await page.press("#room-name", "Enter");
  await page.waitForSelector(`#rooms button[aria-current="true"]:text("# ${room}")`, { timeout: STEP });
}

async function send(page, text) {
  await page.fill("#text", text);
  await page.press("#text", "Enter");
}

async function expectMessage(page, from, text) {
  await page.waitForSelector(`#messages .msg:has(.from:text-is("${from}")):has(.text:text-is(${JSON.stringify(text)}))`, { timeout: STEP });
}

async function expectNotice(page, text) {
  await page.waitForSelector("#login:not([hidden])", { timeout: STEP });
  await page.waitForFunction((t) => document.getElementById("notice").textContent === t, text, { timeout: STEP });
  return page.$eval("#notice", (el) => ({ text: el.textContent, kind: el.className, role: el.getAttribute("role"), color: getComputedStyle(el).color, background: getComputedStyle(el).backgroundColor }));
}

// ---- layout ----

/** Measures the page as laid out now (runs in the page). */
function measure() {
  const box = (el) => { const r = el.getBoundingClientRect(); return { left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height }; };
  const visible = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const lineCount = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    return new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top))).size;
  };
  // The width an element has when it fills its ancestors less their padding, borders and margins.
  const available = (el) => {
    let width = window.innerWidth;
    for (let a = el.parentElement; a && a !== document.documentElement; a = a.parentElement) {
      const s = getComputedStyle(a);
      width -= ["paddingLeft", "paddingRight", "borderLeftWidth", "borderRightWidth", "marginLeft", "marginRight"].reduce((sum, p) => sum + parseFloat(s[p]), 0);
    }
    return width;
  };
  const header = document.querySelector("header");
  const headerItems = [...header.children].filter(visible);
  const centers = headerItems.map((el) => { const r = el.getBoundingClientRect(); return r.top + r.height / 2; });
  const result = {
    innerWidth: window.innerWidth,
    scrollWidth: document.scrollingElement.scrollWidth,
    header: {
      height: header.getBoundingClientRect().height,
      lines: Object.fromEntries(headerItems.filter((el) => el.textContent.trim()).map((el) => [el.id || el.tagName.toLowerCase(), lineCount(el)])),
      centerSpread: Math.max(...centers) - Math.min(...centers),
      overflowing: headerItems.filter((el) => el.scrollWidth > el.clientWidth + 1 && el.id !== "who").map((el) => el.id || el.tagName),
    },
  };
  // What a screen reader needs beyond what axe-core checks: a <label> for every field (a placeholder is not one), the
  // connection state as a polite live region, the messages as a log, rooms as buttons.
  result.semantics = {
    unlabelled: [...document.querySelectorAll("input")].filter(visible).filter((i) => i.labels.length === 0).map((i) => i.id),
    state: document.getElementById("state").getAttribute("role") === "status" || document.getElementById("state").getAttribute("aria-live") === "polite",
    logs: [...document.querySelectorAll("#messages > *")].filter(visible).map((el) => el.getAttribute("role")),
    roomItems: [...document.querySelectorAll("#rooms li")].map((li) => li.firstElementChild?.tagName === "BUTTON" && li.children.length === 1),
  };
  const elements = { login: "#login", messages: "#messages", sendForm: "#send-form", text: "#text", send: "#send", rooms: "#rooms-card", conversation: "#conversation", members: "#members-card" };
  for (const [name, selector] of Object.entries(elements)) {
    const el = document.querySelector(selector);
    if (visible(el)) result[name] = { ...box(el), available: available(el) };
  }
  return result;
}

const intersects = (a, b) => a.left < b.right - 0.5 && b.left < a.right - 0.5 && a.top < b.bottom - 0.5 && b.top < a.bottom - 0.5;

function checkLayout(m, label, view) {
  check(m.scrollWidth <= m.innerWidth, `${label}: the page scrolls sideways (scrollWidth ${m.scrollWidth} > innerWidth ${m.innerWidth})`);
  check(m.header.centerSpread <= 4, `${label}: the header's items are not on one line (their centres ${m.header.centerSpread}px apart)`);
  for (const [item, lines] of Object.entries(m.header.lines)) check(lines === 1, `${label}: header item ${item} wraps onto ${lines} lines`);
  check(m.header.height <= 56, `${label}: the header is ${m.header.height}px high (more than one line)`);
  check(m.semantics.unlabelled.length === 0, `${label}: fields without a label: ${m.semantics.unlabelled.join(", ")}`);
  check(m.semantics.state, `${label}: the connection state is not a live region`);
  check(m.header.overflowing.length === 0, `${label}: header items cut off: ${m.header.overflowing.join(", ")}`);
  if (view === "login") {
    check(m.login && m.login.width > 0, `${label}: no login form`);
    check(m.login.right <= m.innerWidth && m.login.left >= 0, `${label}: the login form sticks out of the viewport`);
    return;
  }
  for (const name of ["messages", "sendForm", "rooms", "conversation", "members"]) check(m[name], `${label}: ${name} is not visible`);
  check(m.semantics.logs.length === 1 && m.semantics.logs[0] === "log", `${label}: the messages shown are not one role=log region: ${JSON.stringify(m.semantics.logs)}`);
  check(m.semantics.roomItems.length > 0 && m.semantics.roomItems.every(Boolean), `${label}: the rooms are not buttons`);
  for (const [a, b] of [["members", "conversation"], ["rooms", "conversation"], ["rooms", "members"]]) {
    check(!intersects(m[a], m[b]), `${label}: ${a} ${JSON.stringify(m[a])} overlaps ${b} ${JSON.stringify(m[b])}`);
  }
  check(m.messages.width >= 250, `${label}: the message list is ${m.messages.width}px wide`);
  check(m.text.width >= m.sendForm.width - m.send.width - 16, `${label}: the message box is ${m.text.width}px in a ${m.sendForm.width}px form`);
  if (m.innerWidth <= 400) {
    for (const name of ["messages", "sendForm"]) {
      check(Math.abs(m[name].width - m[name].available) <= 1, `${label}: ${name} is ${m[name].width}px wide, not the ${m[name].available}px the viewport less padding leaves`);
      check(m[name].width >= m.innerWidth - 48, `${label}: ${name} is ${m[name].width}px wide in a ${m.innerWidth}px viewport (too much padding)`);
    }
  }
}

async function axe(page, label) {
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ["violations"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
  });
  summary.axe[label] = result;
  const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(serious.length === 0, `${label}: axe-core finds ${serious.map((v) => `${v.id} (${v.impact}: ${v.help}) at ${v.nodes.join(", ")}`).join("; ")}`);
}

async function layout() {
  summary.axe = {};
  summary.layout = {};
  const sizes = [["390", PHONE, `pat${run}`], ["1280", DESKTOP, `dee${run}`]];
  const pages = {};
  for (const [label, viewport] of sizes) {
    const page = await open(viewport, { axe: true });
    pages[label] = page;
    await gotoLogin(page);
    const m = await page.evaluate(measure);
    summary.layout[`${label}-login`] = m;
    checkLayout(m, `${label} login`, "login");
    await axe(page, `${label}-login`);
    await shot(page, `${label}-login`);
    step(`${label}px: login view fits, axe clean`);
  }
  for (const [label, , username] of sizes) await signUp(pages[label], username);
  for (const [label] of sizes) await joinRoom(pages[label], "lobby");
  const [phone, desktop] = [pages["390"], pages["1280"]];
  await phone.waitForSelector(`#members li:text-is("${sizes[1][2]}")`, { timeout: STEP });
  await send(desktop, "hello from the desktop");
  await expectMessage(phone, sizes[1][2], "hello from the desktop");
  const long = "a long message that has to wrap on a phone: " + "x".repeat(120) + " and a link https://example.invalid/" + "path/".repeat(20);
  await send(phone, long);
  await expectMessage(desktop, sizes[0][2], long);
  await send(phone, "and a short one");
  await expectMessage(desktop, sizes[0][2], "and a short one");
  await joinRoom(desktop, "random");
  await joinRoom(desktop, "a-room-with-a-rather-long-name-to-see-how-it-fits");
  await desktop.click('#rooms button:text("# lobby")');
  await desktop.waitForSelector('#rooms button[aria-current="true"]:text("# lobby")', { timeout: STEP });
  await joinRoom(phone, "random");
  await phone.click('#rooms button:text("# lobby")');
  await phone.waitForSelector('#rooms button[aria-current="true"]:text("# lobby")', { timeout: STEP });
  step("two users chat in #lobby, one at 390px, one at 1280px");
  for (const [label] of sizes) {
    const page = pages[label];
    await page.waitForSelector("#state.connected", { timeout: STEP });
    const m = await page.evaluate(measure);
    summary.layout[`${label}-chat`] = m;
    checkLayout(m, `${label} chat`, "chat");
    await axe(page, `${label}-chat`);
    await shot(page, `${label}-chat`);
    step(`${label}px: chat view fits (messages ${Math.round(m.messages.width)}px of ${m.innerWidth}px), axe clean`);
  }
  // Wider content must not widen the page: a message typed but not sent, a long room name, a long user list.
  await phone.fill("#text", "y".repeat(300));
  const m = await phone.evaluate(measure);
  check(m.scrollWidth <= m.innerWidth, `390 chat with a long draft: the page scrolls sideways (${m.scrollWidth})`);
}

// ---- keyboard and sending ----

async function keyboard() {
  const page = await open(DESKTOP);
  // Server → page acks ("43<id>[…]") come 600 ms late, and a send can be made to fail: what a slow network does.
  const control = { delayAcks: 600, failNext: false, acks: 0 };
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    ws.onMessage((message) => {
      const send = typeof message === "string" ? /^42(\d+)\["chat:message"/.exec(message) : null;
      if (send && control.failNext) {
        control.failNext = false;
        setTimeout(() => { control.acks++; ws.send(`43${send[1]}[{"ok":false,"code":"rate_limited"}]`); }, control.delayAcks);
        return;
      }
      server.send(message);
    });
    server.onMessage((message) => {
      if (typeof message === "string" && /^43\d/.test(message)) setTimeout(() => { control.acks++; ws.send(message); }, control.delayAcks);
      else ws.send(message);
    });
  });
  const username = `kim${run}`;
  await signUp(page, username);
  step("signed up (WebSocket routed through the test, acks delayed)");

  // From the top of the page, Tab until the suggested room's button has the focus; Enter joins it.
  const focusedRoom = () => page.evaluate(() => document.activeElement?.closest("#rooms li")?.dataset.room ?? null);
  // A click on the header's title puts the starting point of sequential focus navigation at the top of the page.
  await page.click("header h1");
  let tabs = 0;
  while ((await focusedRoom()) !== "lobby" && tabs < 25) { await page.keyboard.press("Tab"); tabs++; }
  check((await focusedRoom()) === "lobby", "Tab never reaches the #lobby room button");
  const tag = await page.evaluate(() => document.activeElement.tagName);
  check(tag === "BUTTON", `the room is a ${tag}, not a button`);
  await page.keyboard.press("Enter");
  await page.waitForSelector('#rooms button[aria-current="true"]:text("# lobby")', { timeout: STEP });
  check((await focusedRoom()) === "lobby", "the focus left the room button after Enter");
  step(`Tab reached the #lobby button after ${tabs} presses; Enter joined it and the focus stayed`);

  // A second room through the form, by keyboard only; then back to #lobby with Shift+Tab and Enter.
  await page.focus("#room-name");
  await page.keyboard.type("kbroom");
  await page.keyboard.press("Enter");
  await page.waitForSelector('#rooms button[aria-current="true"]:text("# kbroom")', { timeout: STEP });
  await page.focus("#room-name");
  tabs = 0;
  while ((await focusedRoom()) !== "lobby" && tabs < 10) { await page.keyboard.press("Shift+Tab"); tabs++; }
  check((await focusedRoom()) === "lobby", "Shift+Tab from the room field never reaches the #lobby button");
  await page.keyboard.press("Enter");
  await page.waitForSelector('#rooms button[aria-current="true"]:text("# lobby")', { timeout: STEP });
  const logs = await page.$$eval('#messages [role="log"]', (els) => els.map((el) => ({ label: el.getAttribute("aria-label"), hidden: el.hidden })));
  check(logs.filter((l) => !l.hidden).map((l) => l.label).join() === "Messages in #lobby", `the logs shown: ${JSON.stringify(logs)}`);
  step("joined #kbroom with the form, went back to #lobby by keyboard");

  // Typing while the previous send's ack is on its way: the new text stays.
  await page.focus("#text");
  await page.keyboard.type("first message");
  let acks = control.acks;
  await page.keyboard.press("Enter");
  await page.keyboard.type("second draft");
  await expectMessage(page, username, "first message");
  while (control.acks === acks) await page.waitForTimeout(50);
  await page.waitForTimeout(100);
  let value = await page.inputValue("#text");
  check(value === "second draft", `the box holds ${JSON.stringify(value)} after the ack, not the text typed since`);
  step("text typed during a pending send survived its ack");

  // A refused send: its text comes back into an empty box, with the reason inline.
  await page.fill("#text", "");
  await page.keyboard.type("this one fails");
  control.failNext = true;
  acks = control.acks;
  await page.keyboard.press("Enter");
  check((await page.inputValue("#text")) === "", "the box is not cleared at send time");
  await page.waitForFunction(() => document.getElementById("send-error").textContent.startsWith("Not sent"), null, { timeout: STEP });
  value = await page.inputValue("#text");
  check(value === "this one fails", `after a refusal the box holds ${JSON.stringify(value)}, not the refused text`);
  summary.sendError = await page.textContent("#send-error");
  await shot(page, "send-refused");
  // …but never over text typed since.
  await page.fill("#text", "");
  await page.keyboard.type("fails again");
  control.failNext = true;
  await page.keyboard.press("Enter");
  await page.keyboard.type("newer text");
  while (control.acks === acks + 1) await page.waitForTimeout(50);
  await page.waitForTimeout(100);
  value = await page.inputValue("#text");
  check(value === "newer text", `a refusal overwrote the newer text: ${JSON.stringify(value)}`);
  step(`refused sends: text restored into an empty box, newer text kept ("${summary.sendError}")`);
}

// ---- sessions ----

async function session() {
  const page = await open(DESKTOP);
  const dave = `dave${run}`;
  const first = await signUp(page, dave);
  await joinRoom(page, "lobby");
  step("dave signed up and joined #lobby");

  // Reload: resumed from the refresh cookie, never showing the login form, in the same session.
  const refreshed = page.waitForResponse((r) => r.url().endsWith("/auth/refresh"), { timeout: STEP });
  await page.reload();
  const response = await refreshed;
  check(response.status() === 200, `the reload's refresh answered ${response.status()}`);
  const resumed = claims((await response.json()).token);
  await connected(page, dave);
  check(await page.isHidden("#login"), "the login form shows after the reload");
  check(resumed.sid === first.sid, `the reload started session ${resumed.sid}, not the login's ${first.sid}`);
  summary.dave = { username: dave, sub: first.sub, sid: first.sid };
  step("reload: still dave, connected, same session (resumed from the cookie)");
  await joinRoom(page, "lobby");
  await send(page, "after the reload");
  await expectMessage(page, dave, "after the reload");

  // Logout: a plain notice, not an error; a reload then shows the login form.
  await page.click("#logout");
  const loggedOut = await expectNotice(page, "You logged out.");
  check(loggedOut.kind === "info", `the logout notice is styled ${loggedOut.kind}`);
  check(loggedOut.role !== "alert", "the logout notice is an alert");
  summary.notices = { loggedOut };
  await shot(page, "logged-out");
  const refused = page.waitForResponse((r) => r.url().endsWith("/auth/refresh"), { timeout: STEP });
  await page.reload();
  check((await refused).status() >= 400, "a refresh after logout succeeded");
  await page.waitForSelector("#login:not([hidden])", { timeout: STEP });
  check(await page.isHidden("#chat"), "the chat shows after logout and reload");
  check((await page.textContent("#notice")) === "", "a notice shows on a fresh login form");
  step(`logout: "${loggedOut.text}" (${loggedOut.kind}); reload → login form`);

  // Revoked from elsewhere: another login of the same user logs out everywhere.
  const erin = `erin${run}`;
  const second = await open(DESKTOP);
  const erinFirst = await signUp(second, erin);
  await joinRoom(second, "lobby");
  const other = await fetch(new URL("/auth/login", baseUrl), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: erin, password: PASSWORD }) });
  check(other.status === 200, `the second login answered ${other.status}`);
  const otherToken = (await other.json()).token;
  const revokedAt = Date.now();
  const all = await fetch(new URL("/auth/logout-all", baseUrl), { method: "POST", headers: { authorization: `Bearer ${otherToken}` } });
  check(all.status === 204, `logout-all answered ${all.status}`);
  const revoked = await expectNotice(second, "Your session ended elsewhere.");
  summary.notices.revoked = { ...revoked, afterMs: Date.now() - revokedAt };
  summary.erin = { username: erin, sub: erinFirst.sub };
  await shot(second, "revoked-elsewhere");
  await second.reload();
  await second.waitForSelector("#login:not([hidden])", { timeout: STEP });
  step(`logout-all elsewhere: "${revoked.text}" after ${summary.notices.revoked.afterMs} ms; reload → login form`);

  // Logging out and in again in the same page (no reload) gives a working chat: nothing of the last session stays.
  const gus = `gus${run}`;
  await signUp(second, gus);
  await joinRoom(second, "again");
  await second.click("#logout");
  await expectNotice(second, "You logged out.");
  await second.fill("#password", PASSWORD);
  await second.press("#password", "Enter");
  await connected(second, gus);
  check((await second.$$("#rooms li")).length === 1, "rooms of the last session are still listed");
  check((await second.$$('#messages [role="log"]')).length === 0, "messages of the last session are still there");
  await joinRoom(second, "again");
  await send(second, "back again");
  await expectMessage(second, gus, "back again");
  step("logged out and in again without a reload: a fresh, working chat");
}

async function expired() {
  const page = await open(DESKTOP);
  const fay = `fay${run}`;
  await signUp(page, fay);
  await joinRoom(page, "lobby");
  const at = Date.now();
  const notice = await expectNotice(page, "Your session expired.").catch(async (error) => {
    await shot(page, "expired-missing");
    throw error;
  });
  summary.notices = { expired: { ...notice, afterMs: Date.now() - at } };
  await shot(page, "expired");
  await page.reload();
  await page.waitForSelector("#login:not([hidden])", { timeout: STEP });
  step(`"${notice.text}" (${notice.kind}) ${summary.notices.expired.afterMs} ms after joining; reload → login form`);
}

async function noRegistration() {
  const [username, password] = extra;
  const page = await open(PHONE);
  await gotoLogin(page);
  check(await page.isHidden("#register-button"), "the Register button shows although registration is disabled");
  check(await page.isVisible("#login-button"), "no Log in button");
  await shot(page, "no-registration");
  await page.fill("#username", username);
  await page.fill("#password", password);
  await page.press("#password", "Enter");
  await connected(page, username);
  step("no Register button; logging in with Enter works");
}

try {
  const scenarios = { layout, keyboard, session, expired, "no-registration": noRegistration };
  check(scenarios[scenario], `unknown scenario ${scenario}`);
  await scenarios[scenario]();
  check(summary.problems.length === 0, `problems seen: ${summary.problems.join("; ")}`);
  summary.ok = true;
  summary.ms = Date.now() - started;
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: error.message }));
  console.error(`FAIL demo ${scenario}: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
