import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { CLAIM_SQL } from "../../src/inbox/libsql_inbox.ts";
import { ev, T0, withInbox } from "./_helpers.ts";

// The claim's cost must not grow with the backlog: SQLite must reach the rows through the two
// claim indexes (range scans cut at the limit), never by scanning or sorting the table.
Deno.test("a claim reads the claim indexes in order and never scans or sorts the events table", async () => {
  await withInbox(async (inbox, { url }) => {
    // Enough rows of every kind that the planner has a choice to make.
    await Promise.all(
      Array.from({ length: 300 }, (_, i) => inbox.accept(ev(`evt_${i}`, { receivedAt: T0 + i }))),
    );
    const claimed = await inbox.claim({ owner: "w", limit: 100, leaseMs: 10, now: T0 });
    for (const e of claimed.slice(0, 50)) await inbox.complete(e, "w", T0);
    const raw = createClient({ url });
    try {
      for (const analyzed of [false, true]) {
        if (analyzed) await raw.execute("ANALYZE");
        const plan = await raw.execute({
          sql: `EXPLAIN QUERY PLAN ${CLAIM_SQL}`,
          args: { owner: "w", until: T0 + 1, now: T0, limit: 16 },
        });
        const steps = plan.rows.map((r) => String(r.detail));
        const onEvents = steps.filter((s) => / events\b/.test(s));
        assert.deepEqual(onEvents.map((s) => s.replace(/ \(.*\)$/, "")).sort(), [
          "SCAN events USING INDEX events_ready",
          "SEARCH events USING INDEX events_due",
          "SEARCH events USING INTEGER PRIMARY KEY",
        ], steps.join("\n"));
        // The order-key check (ordering.ts) is an index lookup per candidate, never a scan.
        const onOrder = steps.filter((s) => /\bo\b/.test(s) && !/SUBQUERY/.test(s));
        assert.deepEqual(
          onOrder.map((s) => s.replace(/ \(.*\)$/, "")),
          ["SEARCH o USING INDEX events_order", "SEARCH o USING INDEX events_order"],
          steps.join("\n"),
        );
      }
    } finally {
      raw.close();
    }
  });
});
