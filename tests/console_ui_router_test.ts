/**
 * The console page's places survive any event id: `eventHref` and `parseRoute` (the hash the
 * page links to and reads back) give back the provider and id they were given, whatever
 * characters the id holds, and the events list's filters round-trip through the hash.
 */
import assert from "node:assert/strict";
import { eventHref, eventsHref, parseRoute } from "../src/console/ui/src/router.ts";

Deno.test("console router: an event's link gives back its provider and id, whatever the id holds", () => {
  for (
    const id of ["evt_1", "a/b", "50%", "x#y?z=1&w", "d7f1c0-8a2b 11ef", "<img src=x>", "ünï"]
  ) {
    const route = parseRoute(eventHref("shop", id));
    assert.deepEqual(route, { view: "event", provider: "shop", id }, id);
  }
});

Deno.test("console router: filters round-trip through the hash; unknown places are the events list", () => {
  const href = eventsHref({ status: "dead", type: "invoice.paid", provider: "", q: "evt_&x" });
  assert.equal(href, "#/events?status=dead&type=invoice.paid&q=evt_%26x");
  const route = parseRoute(href);
  assert.equal(route.view, "events");
  if (route.view === "events") {
    assert.deepEqual(Object.fromEntries(route.query), {
      status: "dead",
      type: "invoice.paid",
      q: "evt_&x",
    });
  }
  assert.equal(eventsHref({}), "#/events");
  assert.deepEqual(parseRoute("#/throughput?range=day"), { view: "throughput", range: "day" });
  assert.deepEqual(parseRoute("#/throughput?range=week"), { view: "throughput", range: "hour" });
  assert.equal(parseRoute("").view, "events");
  assert.equal(parseRoute("#/nowhere/at/all").view, "events");
});
