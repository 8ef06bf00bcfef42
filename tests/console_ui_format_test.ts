/**
 * The console page's text for times, durations and payloads (src/console/ui/src/format.ts),
 * as a person reads it: ages relative to an injected now, durations in ms or s, a payload
 * indented when it is JSON and left exactly as received when it is not.
 */
import assert from "node:assert/strict";
import {
  formatAge,
  formatDuration,
  fromLocalInput,
  prettyJson,
  toLocalInput,
} from "../src/console/ui/src/format.ts";

Deno.test("console format: ages, durations and missing values", () => {
  const now = 1_800_000_000_000;
  assert.equal(formatAge(now - 4_000, now), "4s ago");
  assert.equal(formatAge(now - 12 * 60_000 - 5_000, now), "12m ago");
  assert.equal(formatAge(now - 3 * 3_600_000, now), "3h ago");
  assert.equal(formatAge(now - 2 * 86_400_000, now), "2d ago");
  assert.equal(formatAge(now + 30_000, now), "in 30s");
  assert.equal(formatAge(null, now), "—");
  assert.equal(formatDuration(850), "850 ms");
  assert.equal(formatDuration(2_400), "2.4 s");
  assert.equal(formatDuration(null), "—");
});

Deno.test("console format: a JSON payload is indented; anything else is shown as received", () => {
  assert.equal(
    prettyJson('{"a":1,"b":["<img src=x>"]}'),
    '{\n  "a": 1,\n  "b": [\n    "<img src=x>"\n  ]\n}',
  );
  for (const raw of ["payload=a&b=<c>", "{not json", ""]) assert.equal(prettyJson(raw), raw);
});

Deno.test("console format: a datetime-local value round-trips to the minute", () => {
  const ms = new Date(2026, 10, 27, 9, 41).getTime();
  assert.equal(fromLocalInput(toLocalInput(ms)), ms);
  assert.equal(toLocalInput(undefined), "");
  assert.equal(fromLocalInput(""), undefined);
  assert.equal(fromLocalInput("not a date"), undefined);
});
