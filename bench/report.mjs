// Turns bench/run.sh's JSON lines into a markdown table (medians, Tessera/Node ratios against the targets of
// issues #8 and #18) and a PNG bar chart rendered by Debian's Chromium through playwright-core.
// Usage: node bench/report.mjs results.jsonl out.md out.png
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const [input, markdown, png] = process.argv.slice(2);
const rows = readFileSync(input, "utf8").trim().split("\n").map((line) => JSON.parse(line));
const median = (values) => {
  const sorted = values.filter((v) => v != null).sort((a, b) => a - b);
  return sorted.length === 0 ? null : sorted[Math.floor((sorted.length - 1) / 2)];
};
const labels = [...new Set(rows.map((r) => r.Label))];
const targets = {
  handshake: 0.15, refused: 0.2, echo: 0.55, broadcast: 0.5,
  "fresh-handshake": 0.15, "fresh-refused": 0.15, "fresh-broadcast": 0.7, browser: 0.3, "cross-node-broadcast": 0.6,
};
const stat = (label, server, key) => median(rows.filter((r) => r.Label === label && r.Server === server).map((r) => r[key]));

const lines = [
  "| scenario | metric | Tessera | Node | Tessera ÷ Node | target |",
  "|---|---|---:|---:|---:|---:|",
];
const chart = [];
for (const label of labels) {
  const idle = label.startsWith("idle");
  const key = idle ? "RssKbPerConnection" : "ServerCpuUsPerOp";
  const t = stat(label, "tessera", key);
  const n = stat(label, "node", key);
  const ratio = t != null && n ? t / n : null;
  const target = idle ? "≤ 8 KB" : targets[label] != null ? `≤ ${targets[label]}` : "";
  lines.push(`| ${label} | ${idle ? "server RSS KB / connection" : "server CPU µs / op"} | ${t?.toFixed(2)} | ${n?.toFixed(2)} | ${ratio?.toFixed(2) ?? ""} | ${target} |`);
  if (label === "storm") {
    // Time until the last of the 10,000 was connected: the run's seconds.
    lines.push(`| ${label} | seconds until all connected | ${stat(label, "tessera", "Seconds")} | ${stat(label, "node", "Seconds")} | | |`);
  }
  if (!idle) {
    lines.push(`| ${label} | throughput / s, p50 / p99 ms | ${stat(label, "tessera", "Throughput")} (${stat(label, "tessera", "P50Ms")} / ${stat(label, "tessera", "P99Ms")}) | ${stat(label, "node", "Throughput")} (${stat(label, "node", "P50Ms")} / ${stat(label, "node", "P99Ms")}) | | |`);
  }
  chart.push({ label, t, n, unit: idle ? "KB/conn" : "µs/op" });
}
writeFileSync(markdown, lines.join("\n") + "\n");

const require = createRequire(new URL("../tests/interop/package.json", import.meta.url));
const { chromium } = require("playwright-core");
const max = (c) => Math.max(c.t ?? 0, c.n ?? 0) || 1;
const bars = chart.map((c) => `
  <div class="row"><div class="name">${c.label}<br><small>${c.unit}</small></div><div class="bars">
    <div class="bar t" style="width:${(100 * (c.t ?? 0)) / max(c)}%">Tessera ${c.t?.toFixed(1)}</div>
    <div class="bar n" style="width:${(100 * (c.n ?? 0)) / max(c)}%">Node ${c.n?.toFixed(1)}</div></div></div>`).join("");
const html = `<html><body style="font-family:sans-serif;width:900px;padding:20px">
  <h2>Server cost per operation (lower is better), Tessera vs Node socket.io</h2>${bars}
  <style>.row{display:flex;margin:10px 0}.name{width:140px}.bars{flex:1}.bar{color:#fff;padding:3px 6px;margin:2px 0;white-space:nowrap}
  .t{background:#2e6bd6}.n{background:#7a7a7a}</style></body></html>`;
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"] });
const page = await browser.newPage({ viewport: { width: 960, height: 120 + chart.length * 70 } });
await page.setContent(html);
await page.screenshot({ path: png, fullPage: true });
await browser.close();
console.log(lines.join("\n"));
