import assert from "node:assert/strict";
import { decide, type RetryPolicy } from "../../src/dispatch/decide.ts";

const policy: RetryPolicy = {
  maxAttempts: 3,
  backoffBaseMs: 1000,
  backoffMaxMs: 60_000,
  loadRetryMs: 5000,
  random: () => 0,
};
const NOW = 1_700_000_000_000;

Deno.test("decide: a successful run is done", () => {
  assert.deepEqual(decide({ kind: "ran", attempt: 1, result: { ok: true } }, policy, NOW), {
    action: "complete",
  });
});

Deno.test("decide: a failure with attempts left retries at now + backoff, doubling per attempt", () => {
  const fail = (attempt: number) =>
    decide({ kind: "ran", attempt, result: { ok: false, error: "boom" } }, policy, NOW);
  assert.deepEqual(fail(1), { action: "fail", error: "boom", retryAt: NOW + 500, delayMs: 500 });
  assert.deepEqual(fail(2), { action: "fail", error: "boom", retryAt: NOW + 1000, delayMs: 1000 });
});

Deno.test("decide: backoff jitter comes from the policy's random and stays under the cap", () => {
  const capped = { ...policy, maxAttempts: 99, backoffMaxMs: 4000, random: () => 0.999 };
  const d = decide({ kind: "ran", attempt: 20, result: { ok: false } }, capped, NOW);
  assert.equal(d.action, "fail");
  if (d.action !== "fail") return;
  assert.ok(d.delayMs >= 2000 && d.delayMs < 4000, `${d.delayMs}`);
  assert.equal(d.retryAt, NOW + d.delayMs);
  assert.equal(d.error, "handler failed", "a failure without a message still says so");
});

Deno.test("decide: the last allowed attempt failing makes the event dead", () => {
  assert.deepEqual(
    decide({ kind: "ran", attempt: 3, result: { ok: false, error: "x" } }, policy, NOW),
    { action: "bury", error: "x" },
  );
  assert.equal(
    decide({ kind: "ran", attempt: 4, result: { ok: false, error: "x" } }, policy, NOW).action,
    "bury",
  );
});

Deno.test("decide: a timed-out run is a failure like any other", () => {
  const d = decide(
    {
      kind: "ran",
      attempt: 1,
      result: { ok: false, timedOut: true, error: "timed out after 300 ms" },
    },
    policy,
    NOW,
  );
  assert.equal(d.action, "fail");
});

Deno.test("decide: a run stopped by shutdown is released, its attempt not counted, even on the last attempt", () => {
  assert.deepEqual(
    decide({ kind: "ran", attempt: 3, result: { ok: false, cancelled: true } }, policy, NOW),
    { action: "release", reason: "stopped" },
  );
});

Deno.test("decide: no handler → unhandled; a load error → released until now + loadRetryMs", () => {
  assert.deepEqual(decide({ kind: "unhandled" }, policy, NOW), { action: "unhandled" });
  assert.deepEqual(decide({ kind: "load_error", error: "bad import" }, policy, NOW), {
    action: "release",
    reason: "load_error",
    notBefore: NOW + 5000,
    error: "bad import",
  });
});
