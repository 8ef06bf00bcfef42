/**
 * Bulk retry of many dead events through the console handler on a real libSQL file: every event
 * dead when the request came is re-queued, in short transactions of 1,000 (a delivery accepted
 * meanwhile is not held up behind one long UPDATE), and an event that died after the request
 * came is left alone.
 */
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { ManualClock } from "../../src/clock.ts";
import { createConsole } from "../../src/console/console_routes.ts";
import { handlerTable } from "../../src/console/console_handlers.ts";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { createLogger } from "../../src/ops/log.ts";

Deno.test("bulk retry re-queues 2,500 dead events in chunks; one that died after the request stays dead", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_console_bulk_" });
  const url = `file:${dir}/whd.db`;
  const clock = new ManualClock(1_700_000_000_000);
  const inbox = await openInbox({ url, now: () => clock.now() });
  const raw = createClient({ url });
  const statements: string[] = [];
  try {
    const T = clock.now();
    await raw.execute(
      `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 2499)
      INSERT INTO events (provider, id, webhook, type, payload, received_at, source, status,
        attempts, updated_at, last_error)
      SELECT 'shop', 'd' || i, 'orders', 'order.failed', '{}', ${T} - 10000 + i, 'delivery', 'dead',
        1, ${T} - 5000, 'boom' FROM n`,
    );
    // One event died after the request's time (its handler ran again meanwhile).
    await raw.execute(`INSERT INTO events (provider, id, webhook, type, payload, received_at,
        source, status, attempts, updated_at, last_error)
      VALUES ('shop', 'late', 'orders', 'order.failed', '{}', ${T}, 'delivery', 'dead', 1,
        ${T + 1}, 'boom')`);
    let woken = 0;
    const app = createConsole({
      inbox: {
        ...Object.fromEntries(
          (["console", "replay", "backlog", "find"] as const).map((m) => [m, inbox[m].bind(inbox)]),
        ) as Pick<typeof inbox, "console" | "replay" | "backlog" | "find">,
        requeue: (target, now) => {
          statements.push(JSON.stringify(target));
          return inbox.requeue(target, now);
        },
      },
      handlers: () => handlerTable({ providers: [], handlers: { dir: "handlers" } } as never, null),
      scrub: (text) => text,
      clock,
      log: createLogger({ level: "error", write: () => {} }),
      wake: () => woken++,
    });
    const session = await app.handle(
      new Request("http://127.0.0.1:9090/api/session", { headers: { host: "127.0.0.1:9090" } }),
    );
    const { csrf } = await session.json();
    const response = await app.handle(
      new Request("http://127.0.0.1:9090/api/dead/retry", {
        method: "POST",
        headers: { "x-csrf-token": csrf, host: "127.0.0.1:9090" },
        body: JSON.stringify({ provider: "shop" }),
      }),
    );
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { requeued: 2500 });
    assert.equal(statements.length, 3, "three chunks of at most 1,000");
    assert.ok(statements.every((s) => JSON.parse(s).limit === 1000));
    assert.ok(woken >= 1);
    const counts = await inbox.console().counts();
    assert.equal(counts.pending, 2500);
    assert.equal(counts.dead, 1);
    const [late] = await inbox.find("late", "shop");
    assert.equal(late.status, "dead");
    app.close();
  } finally {
    raw.close();
    inbox.close();
    await inbox.whenClosed();
    await Deno.remove(dir, { recursive: true });
  }
});
