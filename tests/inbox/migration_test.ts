import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { INBOX_MIGRATIONS, migrate } from "../../src/inbox/migrations.ts";
import { T0, withDir } from "./_helpers.ts";

// A row of the version-1 schema: [id, status, received_at, next_attempt_at, lease_until].
const ROWS: [string, string, number, number | null, number | null][] = [
  ["p_fresh", "pending", T0 + 10, null, null],
  ["p_requeued", "pending", T0, T0 + 500, null],
  ["p_later", "pending", T0 + 1, T0 + 5_000, null],
  ["r_expired", "running", T0 + 2, null, T0 + 100],
  ["r_live", "running", T0 + 3, null, T0 + 2_000],
  ["f_due", "failed", T0 + 4, T0 + 300, null],
  ["f_later", "failed", T0 + 5, T0 + 9_000, null],
  ["done", "done", T0 + 6, null, null],
  ["dead", "dead", T0 + 7, null, null],
  ["ignored", "ignored", T0 + 8, null, null],
  ["unhandled", "unhandled", T0 + 9, null, null],
];

Deno.test("a version-1 database is migrated: every row kept and claimable in the right order", async () => {
  await withDir(async ({ url }) => {
    const raw = createClient({ url });
    try {
      assert.equal(await migrate(raw, INBOX_MIGRATIONS.slice(0, 1)), 1);
      for (const [id, status, received, next, leaseUntil] of ROWS) {
        await raw.execute({
          sql: `INSERT INTO events (provider, id, webhook, type, payload, received_at, source,
              status, attempts, next_attempt_at, lease_owner, lease_until, last_error, updated_at,
              completed_at)
            VALUES ('stripe', ?, 'payments', 'charge.succeeded', ?, ?, 'delivery', ?, ?, ?, ?, ?,
              ?, ?, ?)`,
          args: [
            id,
            JSON.stringify({ id }),
            received,
            status,
            status === "pending" ? 0 : 1,
            next,
            leaseUntil === null ? null : "old-owner",
            leaseUntil,
            status === "failed" || status === "dead" ? "boom" : null,
            received + 1,
            status === "done" ? received + 1 : null,
          ],
        });
      }
    } finally {
      raw.close();
    }
    const before = await (async () => {
      const c = createClient({ url });
      try {
        return (await c.execute("SELECT * FROM events ORDER BY id")).rows.map((r) => ({ ...r }));
      } finally {
        c.close();
      }
    })();
    assert.equal(before.length, ROWS.length);

    const inbox = await openInbox({ url });
    try {
      // Every row reads back exactly as the old schema held it.
      for (const row of before) {
        const [now] = await inbox.find(String(row.id), "stripe");
        assert.deepEqual(now, {
          id: row.id,
          provider: row.provider,
          webhook: row.webhook,
          type: row.type,
          payload: row.payload,
          received_at: row.received_at,
          source: row.source,
          status: row.status,
          attempts: row.attempts,
          next_attempt_at: row.next_attempt_at,
          lease_owner: row.lease_owner,
          lease_until: row.lease_until,
          last_error: row.last_error,
          updated_at: row.updated_at,
          completed_at: row.completed_at,
        });
      }
      // One at a time, claims follow the order each row became runnable.
      const claimOne = async (now: number) =>
        (await inbox.claim({ owner: "new", limit: 1, leaseMs: 1e12, now }))[0]?.id;
      const order: (string | undefined)[] = [];
      for (let i = 0; i < 5; i++) order.push(await claimOne(T0 + 1_000));
      assert.deepEqual(order, ["p_fresh", "r_expired", "f_due", "p_requeued", undefined]);
      const later: (string | undefined)[] = [];
      for (let i = 0; i < 4; i++) later.push(await claimOne(T0 + 10_000));
      assert.deepEqual(later, ["r_live", "p_later", "f_later", undefined]);
      // done, dead, ignored and unhandled rows are never claimed.
      assert.equal(await claimOne(T0 + 1e11), undefined);
      const counts = await inbox.counts();
      assert.deepEqual(counts, {
        pending: 0,
        running: 7,
        done: 1,
        failed: 0,
        dead: 1,
        ignored: 1,
        unhandled: 1,
      });
    } finally {
      inbox.close();
      await inbox.whenClosed();
    }
    const after = createClient({ url });
    try {
      const versions = await after.execute(
        "SELECT version FROM schema_migrations ORDER BY version",
      );
      assert.deepEqual(versions.rows.map((r) => r.version), INBOX_MIGRATIONS.map((m) => m.version));
    } finally {
      after.close();
    }
  });
});
