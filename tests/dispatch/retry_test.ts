import assert from "node:assert/strict";
import { backoffDelay } from "../../src/dispatch/retry.ts";

Deno.test("backoff doubles per attempt, jitter spans the upper half, and it is capped", () => {
  const at = (attempt: number, r: number) =>
    backoffDelay(attempt, { baseMs: 1000, maxMs: 10_000, random: () => r });
  assert.deepEqual([1, 2, 3, 4].map((n) => at(n, 0)), [500, 1000, 2000, 4000]);
  assert.deepEqual([1, 2, 3, 4].map((n) => at(n, 0.999999)), [1000, 2000, 4000, 8000]);
  assert.equal(at(5, 0), 5000);
  assert.equal(at(40, 0.5), 7500);
  assert.equal(at(10_000, 0.5), 7500, "huge attempt counts do not overflow");
});
