/**
 * The exact window `whd backfill --hours N` asks Stripe for: from N hours before now, to now —
 * both ends, through the CLI, against the fake Stripe API that records every request.
 */
import assert from "node:assert/strict";
import { ManualClock } from "../src/clock.ts";
import { register as registerBackfill } from "../src/cli/backfill.ts";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import { runCli } from "./fakes/cli_harness.ts";
import { startFakeStripe } from "./fakes/stripe_api.ts";
import { stripeProvider, testConfig } from "./fakes/stripe_config.ts";
import { tempDir } from "./helpers/temp_dir.ts";

const KEY = "sk_test_window_0123456789";
// A day ahead of the real clock, so a window taken from Date.now() instead of the injected
// clock shows; not a whole second, so a window computed in seconds must round the right way.
const NOW = Math.floor(Date.now() / 1000) * 1000 + 86_400_000 + 750;
const nowSec = Math.floor(NOW / 1000);

for (const hours of [1, 24, 720]) {
  Deno.test(`backfill --hours ${hours} lists exactly [now - ${hours} h, now]`, async () => {
    await using dir = await tempDir();
    const fake = await startFakeStripe({ keys: [KEY] });
    try {
      const start = nowSec - hours * 3600;
      const edge = (created: number, id: string) =>
        fake.addEvent({ type: "invoice.paid", created, id });
      edge(start - 1, "evt_before_window");
      edge(start, "evt_window_start");
      edge(start + 1, "evt_window_start_plus_1");
      edge(nowSec, "evt_now");
      const provider = stripeProvider(fake.url);
      const run = await runCli(registerBackfill, ["backfill", "--hours", String(hours), "--json"], {
        config: testConfig([provider]),
        env: { STRIPE_SECRET_KEY: KEY },
        inbox: () => openInbox({ url: `file:${dir.path}/whd.db` }),
        clock: new ManualClock(NOW),
      });
      assert.equal(run.error, undefined, String(run.error));

      const lists = fake.state.requests.filter((r) => r.path === "/v1/events");
      assert.ok(lists.length >= 1);
      for (const r of lists) {
        // Lower end: exactly N hours before now, inclusive, in whole seconds.
        const lower = ["gte", "gt"].map((op) => [op, r.query.get(`created[${op}]`)])
          .filter(([, v]) => v !== null);
        assert.deepEqual(lower, [["gte", String(start)]]);
        // Upper end: nothing created up to now may be cut off.
        const lte = r.query.get("created[lte]");
        const lt = r.query.get("created[lt]");
        assert.ok(lte === null || Number(lte) >= nowSec, `created[lte]=${lte} cuts the window`);
        assert.ok(lt === null || Number(lt) > nowSec, `created[lt]=${lt} cuts the window`);
        assert.equal(r.query.get("created"), null);
      }
      const report = JSON.parse(run.out);
      assert.equal(report.since, new Date(NOW - hours * 3_600_000).toISOString());
      assert.equal(report.until, new Date(NOW).toISOString());
      assert.equal(report.found, 3);
      const inbox = await openInbox({ url: `file:${dir.path}/whd.db` });
      try {
        const ids = (await inbox.list({ provider: "stripe", limit: 10 })).map((e) => e.id).sort();
        assert.deepEqual(ids, ["evt_now", "evt_window_start", "evt_window_start_plus_1"]);
      } finally {
        inbox.close();
      }
    } finally {
      await fake.close();
    }
  });
}
