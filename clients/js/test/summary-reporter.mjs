// A node:test reporter that prints one JSON line at the end: what JsClientTests.cs asserts on.
//   {"passed":N,"failed":N,"tests":[{"file","name","ok","ms","error"?}]}
import { relative } from "node:path";

export default async function* summary(source) {
  const tests = [];
  for await (const event of source) {
    if (event.type !== "test:pass" && event.type !== "test:fail") continue;
    const { data } = event;
    // Top-level tests of each file (a file itself is reported at nesting 0 without a file name on some versions).
    if (data.nesting !== 0 || !data.file || data.details?.type === "suite") continue;
    if (data.name === data.file) continue;
    const entry = { file: relative(process.cwd(), data.file), name: data.name, ok: event.type === "test:pass", ms: Math.round(data.details?.duration_ms ?? 0) };
    if (!entry.ok) {
      const error = data.details?.error;
      entry.error = String(error?.cause?.message ?? error?.message ?? error).slice(0, 2000);
    }
    tests.push(entry);
  }
  const failed = tests.filter((t) => !t.ok).length;
  yield JSON.stringify({ passed: tests.length - failed, failed, tests }) + "\n";
}
