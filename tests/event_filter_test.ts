import assert from "node:assert/strict";
import { matchesEvents } from "../src/config/event_filter.ts";

Deno.test("an absent events list accepts every type", () => {
  assert.equal(matchesEvents("anything.at.all", undefined), true);
});

Deno.test("an exact entry matches only that type and its dotted sub-types", () => {
  const events = ["invoice.paid", "pull_request"];
  assert.equal(matchesEvents("invoice.paid", events), true);
  assert.equal(matchesEvents("invoice.payment_failed", events), false);
  assert.equal(matchesEvents("pull_request.opened", events), true);
  assert.equal(matchesEvents("pull_request_review.submitted", events), false);
});

Deno.test("a trailing * matches a family", () => {
  const events = ["customer.subscription.*"];
  assert.equal(matchesEvents("customer.subscription.deleted", events), true);
  assert.equal(matchesEvents("customer.updated", events), false);
  assert.equal(matchesEvents("x", ["*"]), true);
});
