/**
 * Migration 6 on a database written by the previous whd (schema 5): every event and attempt is
 * kept and shown by the console (headers `{}`: they were not kept then), the console's partial
 * indexes hold the old rows of their statuses, and new deliveries keep their headers.
 */
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { INBOX_MIGRATIONS, migrate } from "../../src/inbox/migrations.ts";

const T0 = 1_700_000_000_000;

Deno.test("a schema-5 database migrates to 6: old events keep everything, shown with headers {}", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_console_migrate_" });
  const url = `file:${dir}/whd.db`;
  try {
    const old = createClient({ url });
    try {
      assert.equal(await migrate(old, INBOX_MIGRATIONS.slice(0, 5)), 5);
      for (const [id, status, error] of [["e1", "done", null], ["e2", "dead", "boom"]]) {
        await old.execute({
          sql: `INSERT INTO events (provider, id, webhook, type, payload, received_at, source,
              status, attempts, last_error, updated_at)
            VALUES ('github', ?, 'repo', 'push', '{"a":1}', ?, 'delivery', ?, 1, ?, ?)`,
          args: [id, T0 + (id === "e1" ? 0 : 1), status, error, T0 + 5],
        });
        await old.execute({
          sql: `INSERT INTO attempts (provider, id, attempt, started_at, duration_ms, outcome,
              error, output) VALUES ('github', ?, 1, ?, 7, ?, ?, 'out')`,
          args: [id, T0 + 2, status === "done" ? "ok" : "error", error],
        });
      }
    } finally {
      old.close();
    }

    const inbox = await openInbox({ url });
    try {
      const queries = inbox.console();
      const dead = await queries.detail({ provider: "github", id: "e2" });
      assert.deepEqual(dead?.event, {
        provider: "github",
        id: "e2",
        webhook: "repo",
        type: "push",
        status: "dead",
        source: "delivery",
        attempts: 1,
        received_at: T0 + 1,
        updated_at: T0 + 5,
        completed_at: null,
        next_attempt_at: null,
        last_error: "boom",
        payload: '{"a":1}',
        headers: {},
      });
      assert.deepEqual(dead?.attempts, [{
        attempt: 1,
        started_at: T0 + 2,
        duration_ms: 7,
        outcome: "error",
        error: "boom",
        output: "out",
      }]);
      // The indexes were built over the old rows: the dead one is found through them.
      assert.deepEqual((await queries.list({ status: "dead" })).events.map((e) => e.id), ["e2"]);
      assert.deepEqual(await queries.dead(), [{
        provider: "github",
        type: "push",
        count: 1,
        last_error: "boom",
        newest_at: T0 + 1,
      }]);
      assert.deepEqual(
        (await queries.list({})).events.map((e) => e.id),
        ["e2", "e1"],
      );
      // A new delivery keeps its headers.
      await inbox.accept({
        id: "e3",
        provider: "github",
        webhook: "repo",
        type: "push",
        payload: "{}",
        receivedAt: T0 + 10,
        source: "delivery",
        headers: '{"x-github-delivery":"e3"}',
      });
      const fresh = await queries.detail({ provider: "github", id: "e3" });
      assert.deepEqual(fresh?.event.headers, { "x-github-delivery": "e3" });
    } finally {
      inbox.close();
      await inbox.whenClosed();
    }
    const after = createClient({ url });
    try {
      const versions = await after.execute("SELECT MAX(version) AS v FROM schema_migrations");
      assert.equal(Number(versions.rows[0].v), 6);
      const indexes = await after.execute(
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND name IN " +
          "('events_trouble', 'events_dead', 'attempts_started') ORDER BY name",
      );
      assert.deepEqual(indexes.rows.map((r) => r.name), [
        "attempts_started",
        "events_dead",
        "events_trouble",
      ]);
    } finally {
      after.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
