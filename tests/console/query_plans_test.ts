/**
 * The console's queries stay cheap with 100k events in the store: every list, filter, count,
 * dead-letter and throughput statement is an index range or an index scan cut by a LIMIT (SQLite's
 * own EXPLAIN QUERY PLAN says so, before and after ANALYZE), never a scan of the events table; the
 * only sorts are of bounded sets (a search's first 1,000 id matches, one window's matches); a
 * filter the indexes cannot answer looks at one window of index entries per request; and a fresh
 * delivery adds no entry to the console's indexes.
 */
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import {
  CHANGE_MARK_SQL,
  COUNTS_SQL,
  DEAD_GROUPS_SQL,
  listStatement,
  MAX_SEARCH_MATCHES,
  SCAN_WINDOW,
  throughputStatement,
} from "../../src/inbox/console_queries.ts";
import type { SqlStatement } from "../../src/inbox/sql_engine.ts";

const T0 = 1_700_000_000_000;
const N = 100_000;

/** 100k events over ~28 hours, 1 s apart: mostly done, some dead/failed/ignored, a pending tail. */
const SEED = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${N - 1})
  INSERT INTO events (provider, id, webhook, type, payload, received_at, source, status, attempts,
    updated_at, last_error)
  SELECT CASE i % 3 WHEN 0 THEN 'stripe' WHEN 1 THEN 'github' ELSE 'shop' END, 'evt_' || i,
    'w', 'type.' || (i % 20), '{}', ${T0} + i * 1000, 'delivery',
    CASE WHEN i % 50 = 0 THEN 'dead' WHEN i % 51 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'ignored'
      WHEN i >= ${N - 500} THEN 'pending' ELSE 'done' END,
    1, ${T0} + i * 1000, CASE WHEN i % 50 = 0 THEN 'boom ' || i END
  FROM n`;
const SEED_ATTEMPTS = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ${
  N - 501
})
  INSERT INTO attempts (provider, id, attempt, started_at, duration_ms, outcome, error, output)
  SELECT 'stripe', 'evt_' || i, 1, ${T0} + i * 1000 + 10, 5,
    CASE WHEN i % 50 = 0 THEN 'error' ELSE 'ok' END, NULL, '' FROM n`;

/** The plan's steps, one line each. */
async function plan(
  client: ReturnType<typeof createClient>,
  stmt: SqlStatement,
): Promise<string[]> {
  const rs = await client.execute({
    sql: `EXPLAIN QUERY PLAN ${stmt.sql}`,
    args: stmt.args as Record<string, string | number>,
  });
  return rs.rows.map((r) => String(r.detail));
}

/** No step reads the events table without an index, and no step sorts it. */
function assertIndexed(name: string, steps: string[], options: { sortOk?: RegExp } = {}): void {
  const text = `${name}:\n${steps.join("\n")}`;
  for (const step of steps) {
    assert.ok(!/^SCAN (events|e|attempts)\b(?! USING)/.test(step), `full scan in ${text}`);
    if (/TEMP B-TREE/.test(step)) {
      assert.ok(options.sortOk?.test(step), `a sort in ${text}`);
    }
  }
  assert.ok(steps.some((s) => /USING (COVERING )?INDEX|PRIMARY KEY/.test(s)), `no index: ${text}`);
}

Deno.test("console queries over 100k events: index ranges with limits, no table scan, only bounded sorts", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_console_plans_" });
  const url = `file:${dir}/whd.db`;
  const inbox = await openInbox({ url });
  const raw = createClient({ url });
  try {
    await raw.execute(SEED);
    await raw.execute(SEED_ATTEMPTS);
    const cursor = btoa(`${T0 + 50_000_000}.50001`).replaceAll("=", "");
    const lists: [string, Parameters<typeof listStatement>[0]][] = [
      ["newest", {}],
      ["next page", { cursor }],
      ["dead", { status: "dead" }],
      ["failed page 2", { status: "failed", cursor }],
      ["ignored of a provider", { status: "ignored", provider: "shop" }],
      ["running", { status: "running" }],
      ["unhandled", { status: "unhandled" }],
      ["pending", { status: "pending" }],
      ["done of a type", { status: "done", type: "type.3", webhook: "w" }],
      ["time range", { since: T0 + 1_000_000, until: T0 + 2_000_000, provider: "github" }],
      ["search", { q: "evt_123" }],
      ["search in a provider", { q: "evt_99", provider: "github", status: "dead" }],
    ];
    const day = { from: T0 + N * 1000 - 86_400_000, bucket: 900_000, count: 96 };
    for (const analyzed of [false, true]) {
      if (analyzed) await raw.execute("ANALYZE");
      for (const [name, filter] of lists) {
        const list = listStatement({ ...filter, limit: 50 });
        assert.match(list.stmt.sql, /LIMIT :limit\s*$/);
        // A filter the index cannot answer looks at SCAN_WINDOW entries, read off the index alone.
        const windowed = filter.q === undefined &&
          (filter.provider !== undefined || filter.type !== undefined ||
            ["pending", "running", "done"].includes(filter.status ?? ""));
        assert.equal(list.windowEnd !== undefined, windowed, name);
        // Only a bounded set is ever sorted: a search's id matches (cut at MAX_SEARCH_MATCHES
        // before any row is read), a window's matches (at most SCAN_WINDOW).
        const sortOk = filter.q !== undefined || windowed
          ? /USE TEMP B-TREE FOR ORDER BY/
          : undefined;
        if (filter.q !== undefined) {
          assert.match(list.stmt.sql, new RegExp(`LIMIT ${MAX_SEARCH_MATCHES}\\)`));
        }
        const steps = await plan(raw, list.stmt);
        assertIndexed(name, steps, { sortOk });
        if (list.windowEnd) {
          assert.match(list.stmt.sql, new RegExp(`LIMIT ${SCAN_WINDOW}\\)`));
          assert.ok(steps.some((s) => /COVERING INDEX events_(received|trouble)/.test(s)), name);
          assertIndexed(`${name} (window end)`, await plan(raw, list.windowEnd));
        }
      }
      const dead = await plan(raw, { sql: DEAD_GROUPS_SQL, args: [] });
      assertIndexed("dead groups", dead);
      assert.ok(dead.some((s) => /COVERING INDEX events_dead/.test(s)), dead.join("\n"));
      const counts = await plan(raw, { sql: COUNTS_SQL, args: [] });
      assertIndexed("counts", counts);
      // Counting reads an index of every row, but never the table.
      assert.ok(counts.every((s) => /COVERING INDEX/.test(s)), counts.join("\n"));
      const throughput = await plan(raw, throughputStatement(day.from, day.bucket, day.count));
      assertIndexed("throughput", throughput);
      assert.deepEqual(
        throughput.filter((s) => /^SEARCH/.test(s)).map((s) => s.replace(/ \(.*\)$/, "")),
        [
          "SEARCH events USING COVERING INDEX events_received",
          ...Array(4).fill("SEARCH attempts USING COVERING INDEX attempts_started"),
        ],
      );
      assertIndexed("change mark", await plan(raw, { sql: CHANGE_MARK_SQL, args: [] }));
    }

    // The answers over the same data are right.
    const queries = inbox.console();
    const deadPage = await queries.list({ status: "dead", limit: 3 });
    assert.deepEqual(deadPage.events.map((e) => e.id), ["evt_99950", "evt_99900", "evt_99850"]);
    const next = await queries.list({ status: "dead", limit: 3, cursor: deadPage.next! });
    assert.deepEqual(next.events.map((e) => e.id), ["evt_99800", "evt_99750", "evt_99700"]);
    const counts = await queries.counts();
    assert.equal(Object.values(counts).reduce((a, b) => a + b, 0), N);
    assert.equal(counts.dead, N / 50);
    const groups = await queries.dead();
    assert.equal(groups.reduce((n, g) => n + g.count, 0), N / 50);
    assert.equal(groups.length, 6); // 3 providers × types 0 and 10 (i % 50 = 0)
    assert.match(groups[0].last_error!, /^boom \d+$/);
    const buckets = await queries.throughput(day.from, day.bucket, day.count);
    assert.equal(buckets.length, 96);
    assert.equal(buckets.reduce((n, b) => n + b.received, 0), 86_400);
    const runs = buckets.reduce((n, b) => n + b.ok + b.error, 0);
    assert.equal(runs, 86_400 - 500); // the pending tail has not run
    // A rare match far back: each request looks at one window of SCAN_WINDOW entries (empty
    // pages say where to go on), and paging reaches it.
    await raw.execute(`INSERT INTO events (provider, id, webhook, type, payload, received_at,
        source, status, attempts, updated_at)
      VALUES ('shop', 'evt_old', 'w', 'type.rare', '{}', ${T0 - 1000}, 'delivery', 'done', 1, 0)`);
    const rare: string[] = [];
    let after: string | undefined;
    let requests = 0;
    do {
      const page = await queries.list({ type: "type.rare", limit: 50, cursor: after });
      rare.push(...page.events.map((e) => e.id));
      after = page.next ?? undefined;
      requests++;
    } while (after !== undefined);
    assert.deepEqual(rare, ["evt_old"]);
    assert.equal(requests, Math.ceil((N + 1) / SCAN_WINDOW));
    const shop = await queries.list({ provider: "shop", type: "type.1", limit: 50 });
    // shop and type.1: i % 3 = 2 and i % 20 = 1, i.e. i % 60 = 41; newest first.
    assert.deepEqual(shop.events.slice(0, 3).map((e) => e.id), [
      "evt_99941",
      "evt_99881",
      "evt_99821",
    ]);
    assert.equal(shop.events.length, 50);
    const shopNext = await queries.list({ provider: "shop", type: "type.1", cursor: shop.next! });
    assert.equal(shopNext.events[0].id, `evt_${99941 - 50 * 60}`);
    const pendingOnly = await queries.list({ status: "pending", limit: 10 });
    assert.equal(pendingOnly.events.length, 10);
    assert.ok(pendingOnly.events.every((e) => e.status === "pending"));
    const search = await queries.list({ q: "evt_1234" });
    assert.deepEqual(search.events.map((e) => e.id).slice(0, 3), [
      "evt_12349",
      "evt_12348",
      "evt_12347",
    ]);
    assert.equal(search.events.length, 11);
  } finally {
    raw.close();
    inbox.close();
    await inbox.whenClosed();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a fresh delivery adds no entry to the console's indexes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_console_plans_" });
  const url = `file:${dir}/whd.db`;
  const inbox = await openInbox({ url });
  const raw = createClient({ url });
  try {
    await Promise.all(Array.from({ length: 200 }, (_, i) =>
      inbox.accept({
        id: `evt_${i}`,
        provider: "stripe",
        webhook: "w",
        type: "charge.succeeded",
        payload: "{}",
        receivedAt: T0 + i,
        source: "delivery",
        headers: '{"user-agent":"Stripe/1.0"}',
      })));
    // A partial index holds exactly the rows its WHERE selects: none of 200 pending ones.
    for (const index of ["events_trouble", "events_dead"]) {
      const rs = await raw.execute(
        `SELECT sql FROM sqlite_schema WHERE type = 'index' AND name = '${index}'`,
      );
      const where = /WHERE (.*)$/s.exec(String(rs.rows[0].sql))![1];
      const n = await raw.execute(`SELECT COUNT(*) AS n FROM events WHERE ${where}`);
      assert.equal(Number(n.rows[0].n), 0, index);
    }
    const stored = await inbox.console().detail({ provider: "stripe", id: "evt_7" });
    assert.deepEqual(stored?.event.headers, { "user-agent": "Stripe/1.0" });
  } finally {
    raw.close();
    inbox.close();
    await inbox.whenClosed();
    await Deno.remove(dir, { recursive: true });
  }
});
