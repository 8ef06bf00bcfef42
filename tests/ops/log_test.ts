import assert from "node:assert/strict";
import { createLogger } from "../../src/ops/log.ts";

Deno.test("log.capped: lines up to the byte budget, then one marker, then nothing; the parent goes on", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "debug", format: "text", write: (l) => lines.push(l) });
  const capped = log.child({ run: 1 }).capped(300, "output truncated", { stream: "stdout" });
  for (let i = 0; i < 100; i++) capped.info("handler output", { line: `line ${i}` });
  capped.child({ more: true }).warn("handler output", { line: "after the cap" });
  log.info("still logging");
  const output = lines.filter((l) => l.includes("handler output"));
  const size = output.reduce((n, l) => n + new TextEncoder().encode(l).length + 1, 0);
  assert.ok(output.length >= 2 && size <= 300, `${output.length} lines, ${size} bytes`);
  const markers = lines.filter((l) => l.includes("output truncated"));
  assert.equal(markers.length, 1);
  assert.match(markers[0], /WARN .*run=1 stream=stdout limit_bytes=300/);
  assert.ok(!lines.some((l) => l.includes("after the cap")));
  assert.match(lines.at(-1)!, /still logging/);
});

Deno.test("log.capped: lines below the level are not counted", () => {
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
  const capped = log.capped(200, "truncated");
  for (let i = 0; i < 1000; i++) capped.debug("hidden");
  capped.info("shown");
  assert.deepEqual(lines.map((l) => JSON.parse(l).msg), ["shown"]);
});
