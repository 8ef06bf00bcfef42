import assert from "node:assert/strict";
import { Metrics } from "../src/ops/metrics.ts";

Deno.test("a counter handle adds to the same series as inc with the same labels, in any order", () => {
  const metrics = new Metrics();
  const stored = metrics.counter("whd_events_total", { webhook: "default", provider: "stripe" });
  stored.inc();
  stored.inc(2);
  metrics.inc("whd_events_total", { provider: "stripe", webhook: "default" });
  assert.equal(metrics.get("whd_events_total", { provider: "stripe", webhook: "default" }), 4);
  assert.equal(
    metrics.render(),
    'whd_events_total{provider="stripe",webhook="default"} 4\n',
  );
});

Deno.test("a counter handle that was never incremented renders nothing", () => {
  const metrics = new Metrics();
  metrics.counter("whd_store_errors_total", { provider: "stripe" });
  assert.equal(metrics.render(), "\n");
});
