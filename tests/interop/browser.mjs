// Real-browser test of the demo page: Debian's Chromium driven by playwright-core (its own browser download
// does not work here). Two users in two browser contexts chat in a room; with short-lived access tokens the
// page refreshes in-band several times and the chat keeps working; logging out one user ends their session
// and the other sees them leave.
//
// Usage: node browser.mjs <baseUrl> <screenshotDir>   (server started with AccessTokenLifetime of a few seconds)
// Exit 0 = pass; 1 = fail with the reason on stderr. One JSON summary line on stdout.

import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

const [baseUrl, shots] = process.argv.slice(2);
mkdirSync(shots, { recursive: true });
const summary = { ok: false, steps: [], screenshots: [] };
const STEP_TIMEOUT = 15_000;
const run = `${Date.now() % 100000}`;
const alice = `alice${run}`;
const bob = `bob${run}`;

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  // Flags known to work on this kind of machine: no sandbox as root, and no background network traffic.
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});

async function shot(page, name) {
  const path = join(shots, `${summary.screenshots.length + 1}-${name}.png`);
  await page.screenshot({ path, fullPage: true });
  summary.screenshots.push(path);
}

async function signUp(page, username) {
  await page.goto(baseUrl);
  await page.fill("#username", username);
  await page.fill("#password", "correct horse battery");
  await page.click("#register-button");
  await page.waitForSelector("#chat:not([hidden])", { timeout: STEP_TIMEOUT });
  await page.waitForSelector("#state.connected", { timeout: STEP_TIMEOUT });
}

async function joinRoom(page, room) {
  await page.fill("#room-name", room);
  await page.click("#join-form button");
  await page.waitForSelector(`#rooms button[aria-current="true"]:text("# ${room}")`, { timeout: STEP_TIMEOUT });
}

async function send(page, text) {
  await page.fill("#text", text);
  await page.click("#send");
}

async function expectMessage(page, from, text) {
  await page.waitForSelector(`#messages .msg:has(.from:text-is("${from}")):has(.text:text-is("${text}"))`, { timeout: STEP_TIMEOUT });
}

try {
  const a = await (await browser.newContext()).newPage();
  const b = await (await browser.newContext()).newPage();

  await signUp(a, alice);
  await signUp(b, bob);
  await shot(a, "alice-signed-in");
  summary.steps.push("both users registered and connected");

  await joinRoom(a, "lobby");
  await joinRoom(b, "lobby");
  // alice sees bob arrive (presence), bob sees both in the member list.
  await a.waitForSelector(`#members li:text-is("${bob}")`, { timeout: STEP_TIMEOUT });
  await b.waitForSelector(`#members li:text-is("${alice}")`, { timeout: STEP_TIMEOUT });
  summary.steps.push("both joined #lobby, presence and members shown");

  await send(a, "hello from alice");
  await expectMessage(b, alice, "hello from alice");
  await send(b, "hi alice, bob here");
  await expectMessage(a, bob, "hi alice, bob here");
  await shot(a, "alice-chat");
  await shot(b, "bob-chat");
  summary.steps.push("messages both ways, labelled with the sender's name");

  // Short-lived tokens: the page refreshes in-band; wait for three refreshes in each context.
  for (const page of [a, b]) {
    await page.waitForFunction(() => window.tesseraStats.refreshes >= 3, null, { timeout: 40_000 });
  }
  summary.refreshes = { alice: await a.evaluate(() => window.tesseraStats.refreshes), bob: await b.evaluate(() => window.tesseraStats.refreshes) };
  await send(a, "still here after refreshes");
  await expectMessage(b, alice, "still here after refreshes");
  if (!(await a.isVisible("#state.connected")) || !(await b.isVisible("#state.connected"))) throw new Error("a socket dropped across refreshes");
  await shot(b, "after-refreshes");
  summary.steps.push("chat kept working across several token refreshes");

  await a.click("#logout");
  await a.waitForSelector("#login:not([hidden])", { timeout: STEP_TIMEOUT });
  const notice = await a.textContent("#notice");
  if (notice !== "You logged out.") throw new Error(`after logging out the page says ${JSON.stringify(notice)}`);
  await b.waitForSelector(`#messages .presence:text-is("${alice} left")`, { timeout: STEP_TIMEOUT });
  await shot(a, "alice-logged-out");
  await shot(b, "bob-sees-alice-leave");
  if (!(await b.isVisible("#state.connected"))) throw new Error("bob lost his connection when alice logged out");
  summary.steps.push(`alice logged out (${notice}); bob saw her leave and stays connected`);
  summary.ok = true;
  console.log(JSON.stringify(summary));
} catch (error) {
  console.log(JSON.stringify({ ...summary, error: error.message }));
  console.error("FAIL browser: " + error.message);
  process.exitCode = 1;
} finally {
  await browser.close();
}
