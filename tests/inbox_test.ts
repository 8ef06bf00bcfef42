import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { UserError } from "../src/errors.ts";
import { openInbox, type OpenInboxOptions } from "../src/inbox/libsql_inbox.ts";
import { INBOX_MIGRATIONS } from "../src/inbox/migrations.ts";
import type { LibsqlInbox } from "../src/inbox/libsql_inbox.ts";
import { CONFIG, ev, INBOX_MODULE, T0 } from "./inbox/_helpers.ts";

/** Opens an inbox on a fresh file in a temp dir, runs `fn`, closes and removes everything. */
async function withInbox(
  fn: (inbox: LibsqlInbox, ctx: { dir: string; url: string }) => Promise<void>,
  options: Partial<OpenInboxOptions> = {},
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "whd_inbox_" });
  const url = `file:${dir}/data/whd.db`;
  const inbox = await openInbox({ url, ...options });
  try {
    await fn(inbox, { dir, url });
  } finally {
    inbox.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a Deno script in a child process with the project's import map. */
async function runChild(dir: string, code: string): Promise<string> {
  const file = `${dir}/child_${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(file, code);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `child failed: ${stderr}`);
  return new TextDecoder().decode(out.stdout);
}

const lease = { owner: "w1", leaseMs: 30_000, now: T0 };

// ---------------------------------------------------------------------------------------------
// accept

Deno.test("accept stores an event once and reports the second accept as a duplicate", async () => {
  await withInbox(async (inbox) => {
    assert.deepEqual(await inbox.accept(ev("evt_1")), { duplicate: false, status: "pending" });
    assert.deepEqual(
      await inbox.accept(ev("evt_1", { payload: '{"changed":true}' })),
      { duplicate: true, status: "pending" },
    );
    const rows = await inbox.find("evt_1");
    assert.equal(rows.length, 1);
    assert.deepEqual(rows[0], {
      id: "evt_1",
      provider: "stripe",
      webhook: "payments",
      type: "charge.succeeded",
      payload: JSON.stringify({ id: "evt_1", object: "event" }),
      received_at: T0,
      source: "delivery",
      status: "pending",
      attempts: 0,
      next_attempt_at: null,
      lease_owner: null,
      lease_until: null,
      last_error: null,
      updated_at: T0,
      completed_at: null,
    });
  });
});

Deno.test("a duplicate accept reports the existing row's current status", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_1"));
    const [claimed] = await inbox.claim({ ...lease, limit: 1 });
    assert.equal(claimed.id, "evt_1");
    assert.equal(await inbox.complete(claimed, "w1", T0 + 1), true);
    assert.deepEqual(await inbox.accept(ev("evt_1")), { duplicate: true, status: "done" });
  });
});

Deno.test("the same id from two providers is two events", async () => {
  await withInbox(async (inbox) => {
    assert.equal((await inbox.accept(ev("x1"))).duplicate, false);
    assert.equal((await inbox.accept(ev("x1", { provider: "github" }))).duplicate, false);
    assert.equal((await inbox.find("x1")).length, 2);
  });
});

Deno.test("200 concurrent accepts of the same id store one row and exactly one is not a duplicate", async () => {
  await withInbox(async (inbox) => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => inbox.accept(ev("evt_same", { webhook: `w${i}` }))),
    );
    assert.equal(results.filter((r) => !r.duplicate).length, 1);
    assert.ok(results.every((r) => r.status === "pending"));
    const rows = await inbox.find("evt_same");
    assert.equal(rows.length, 1);
    // The first accept issued wins.
    assert.equal(rows[0].webhook, "w0");
    assert.equal(results.findIndex((r) => !r.duplicate), 0);
  });
});

Deno.test("500 concurrent distinct accepts are all stored in far fewer transactions than accepts", async () => {
  await withInbox(async (inbox) => {
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => inbox.accept(ev(`evt_${i}`))),
    );
    assert.ok(results.every((r) => !r.duplicate));
    assert.equal((await inbox.counts()).pending, 500);
    const stats = inbox.stats();
    assert.equal(stats.accepts, 500);
    assert.equal(stats.failedTransactions, 0);
    assert.ok(stats.acceptTransactions <= 10, `${stats.acceptTransactions} transactions`);
    assert.ok(stats.largestBatch <= 256, `batch of ${stats.largestBatch} exceeds the cap`);
  });
});

Deno.test("with maxBatch 1 every accept is its own transaction (the counter counts)", async () => {
  await withInbox(async (inbox) => {
    await Promise.all(Array.from({ length: 40 }, (_, i) => inbox.accept(ev(`evt_${i}`))));
    assert.equal(inbox.stats().acceptTransactions, 40);
    assert.equal((await inbox.counts()).pending, 40);
  }, { maxBatch: 1 });
});

Deno.test("accept with status ignored stores an ignored row that is never claimed", async () => {
  await withInbox(async (inbox) => {
    assert.deepEqual(await inbox.accept(ev("evt_i"), { status: "ignored" }), {
      duplicate: false,
      status: "ignored",
    });
    assert.equal((await inbox.find("evt_i"))[0].status, "ignored");
    assert.deepEqual(await inbox.claim({ ...lease, limit: 10, now: T0 + 1e9 }), []);
  });
});

Deno.test("an accepted row is visible to a fresh client and to another process at once", async () => {
  await withInbox(async (inbox, { dir, url }) => {
    await inbox.accept(ev("evt_seen"));
    const other = createClient({ url });
    try {
      const rs = await other.execute("SELECT status FROM events WHERE id = 'evt_seen'");
      assert.equal(rs.rows[0]?.status, "pending");
    } finally {
      other.close();
    }
    await inbox.accept(ev("evt_child"));
    const out = await runChild(
      dir,
      `import { createClient } from "@libsql/client";
       const c = createClient({ url: ${JSON.stringify(url)} });
       const rs = await c.execute("SELECT id, status FROM events ORDER BY id");
       console.log(JSON.stringify(rs.rows.map((r) => [r.id, r.status])));
       c.close();`,
    );
    assert.deepEqual(JSON.parse(out), [["evt_child", "pending"], ["evt_seen", "pending"]]);
  });
});

Deno.test("accept rejects every event of a batch the store cannot write, and stores none", async () => {
  await withInbox(async (inbox, { url }) => {
    // Another connection holds the write lock longer than the inbox's busy timeout.
    const locker = createClient({ url });
    const tx = await locker.transaction("write");
    try {
      const settled = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => inbox.accept(ev(`evt_locked_${i}`))),
      );
      assert.ok(settled.every((s) => s.status === "rejected"), JSON.stringify(settled));
      assert.match(String((settled[0] as PromiseRejectedResult).reason), /inbox write failed/);
      // Claims fail the same way while the lock is held.
      await assert.rejects(inbox.claim({ ...lease, limit: 1 }), /SQLITE_BUSY/);
    } finally {
      await tx.rollback();
      tx.close();
    }
    try {
      // The failed writes left no lock behind: the other connection can write at once.
      const again = await locker.transaction("write");
      await again.execute("CREATE TABLE probe (x)");
      await again.commit();
      again.close();
    } finally {
      locker.close();
    }
    assert.equal((await inbox.list()).length, 0);
    assert.equal(inbox.stats().failedTransactions, inbox.stats().acceptTransactions);
    // The store recovers once the lock is gone.
    assert.equal((await inbox.accept(ev("evt_locked_0"))).duplicate, false);
  }, { busyTimeoutMs: 50 });
});

Deno.test("a batch that fails rejects every accept in it and stores none of them", async () => {
  await withInbox(async (inbox) => {
    const bad = ev("evt_bad", { payload: null as unknown as string }); // violates NOT NULL
    const settled = await Promise.allSettled([
      inbox.accept(ev("evt_a")),
      inbox.accept(bad),
      inbox.accept(ev("evt_b")),
    ]);
    assert.deepEqual(settled.map((s) => s.status), ["rejected", "rejected", "rejected"]);
    assert.deepEqual(await inbox.list(), []);
    assert.equal(inbox.stats().failedTransactions, 1);
    // The next batch is unaffected.
    assert.equal((await inbox.accept(ev("evt_a"))).duplicate, false);
  });
});

Deno.test("accept rejects once the inbox is closed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_inbox_" });
  try {
    const inbox = await openInbox({ url: `file:${dir}/whd.db` });
    const queued = inbox.accept(ev("evt_q"));
    inbox.close();
    await assert.rejects(queued, /closed/);
    await assert.rejects(inbox.accept(ev("evt_after")), /closed/);
    const reopened = await openInbox({ url: `file:${dir}/whd.db` });
    assert.deepEqual(await reopened.list(), []);
    reopened.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------------------------
// claim and leases

async function acceptMany(inbox: LibsqlInbox, n: number, prefix = "evt"): Promise<void> {
  await Promise.all(
    Array.from({ length: n }, (_, i) => inbox.accept(ev(`${prefix}_${i}`, { receivedAt: T0 + i }))),
  );
}

Deno.test("claim leases the oldest runnable events and a second claim gets different ones", async () => {
  await withInbox(async (inbox) => {
    await acceptMany(inbox, 5);
    const first = await inbox.claim({ ...lease, limit: 3 });
    assert.deepEqual(first.map((e) => e.id), ["evt_0", "evt_1", "evt_2"]);
    for (const e of first) {
      assert.equal(e.status, "running");
      assert.equal(e.lease_owner, "w1");
      assert.equal(e.lease_until, T0 + 30_000);
      assert.equal(e.attempts, 1);
    }
    const second = await inbox.claim({ ...lease, owner: "w2", limit: 10, now: T0 + 1 });
    assert.deepEqual(second.map((e) => e.id), ["evt_3", "evt_4"]);
    assert.deepEqual(await inbox.claim({ ...lease, limit: 10, now: T0 + 2 }), []);
  });
});

Deno.test("an expired lease is reclaimed with the attempt counted", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_crash"));
    await inbox.claim({ ...lease, limit: 1 });
    assert.deepEqual(await inbox.claim({ ...lease, owner: "w2", limit: 1, now: T0 + 30_000 }), []);
    const [again] = await inbox.claim({ ...lease, owner: "w2", limit: 1, now: T0 + 30_001 });
    assert.equal(again.id, "evt_crash");
    assert.equal(again.attempts, 2);
    assert.equal(again.lease_owner, "w2");
    // The crashed worker's lease is gone.
    assert.equal(await inbox.complete(again, "w1", T0 + 30_002), false);
    assert.equal(await inbox.complete(again, "w2", T0 + 30_002), true);
  });
});

Deno.test("two clients on the same file claiming concurrently never get the same event", async () => {
  await withInbox(async (a, { url }) => {
    await acceptMany(a, 120);
    const b = await openInbox({ url });
    try {
      const seen: string[] = [];
      const worker = async (inbox: LibsqlInbox, owner: string) => {
        for (;;) {
          const got = await inbox.claim({ owner, limit: 7, leaseMs: 60_000, now: T0 });
          if (got.length === 0) return;
          seen.push(...got.map((e) => e.id));
          await new Promise((r) => setTimeout(r, 0));
        }
      };
      await Promise.all([worker(a, "a"), worker(b, "b"), worker(a, "a2"), worker(b, "b2")]);
      assert.equal(seen.length, 120);
      assert.equal(new Set(seen).size, 120);
    } finally {
      b.close();
    }
  });
});

Deno.test("two processes claiming from one file at once never get the same event", async () => {
  await withInbox(async (inbox, { dir, url }) => {
    await acceptMany(inbox, 300);
    const worker = (owner: string) =>
      `import { openInbox } from ${JSON.stringify(INBOX_MODULE)};
       const inbox = await openInbox({ url: ${JSON.stringify(url)} });
       await Deno.writeTextFile(${JSON.stringify(dir)} + "/ready_" + ${JSON.stringify(owner)}, "");
       // Barrier: start claiming when the parent creates the go file.
       while (true) { try { await Deno.stat(${JSON.stringify(`${dir}/go`)}); break; }
         catch { await new Promise((r) => setTimeout(r, 5)); } }
       const ids = [];
       for (;;) {
         const got = await inbox.claim({ owner: ${JSON.stringify(owner)}, limit: 2,
           leaseMs: 60_000, now: ${T0} });
         if (got.length === 0) break;
         ids.push(...got.map((e) => e.id));
         await new Promise((r) => setTimeout(r, 1));
       }
       inbox.close();
       console.log(JSON.stringify(ids));`;
    const children = [runChild(dir, worker("p1")), runChild(dir, worker("p2"))];
    // Open the barrier once both children have opened the inbox.
    const ready = async (owner: string) => {
      for (;;) {
        try {
          return await Deno.stat(`${dir}/ready_${owner}`);
        } catch {
          await new Promise((r) => setTimeout(r, 10));
        }
      }
    };
    // (A child that dies before it is ready fails the test instead of hanging it.)
    await Promise.race([Promise.all([ready("p1"), ready("p2")]), Promise.all(children)]);
    await Deno.writeTextFile(`${dir}/go`, "");
    const [one, two] = (await Promise.all(children)).map((o) => JSON.parse(o) as string[]);
    const all = [...one, ...two];
    assert.equal(all.length, 300, `p1 ${one.length} + p2 ${two.length}`);
    assert.equal(new Set(all).size, 300);
    const leased = await inbox.list({ status: "running", limit: 1000 });
    assert.equal(leased.length, 300);
    const owners = new Map(leased.map((e) => [e.id, e.lease_owner]));
    for (const id of one) assert.equal(owners.get(id), "p1");
    for (const id of two) assert.equal(owners.get(id), "p2");
  });
});

Deno.test("complete, fail, bury and markUnhandled act only for the lease owner", async () => {
  await withInbox(async (inbox) => {
    await acceptMany(inbox, 4);
    const [a, b, c, d] = await inbox.claim({ ...lease, limit: 4 });
    const t = T0 + 100;
    assert.equal(await inbox.complete(a, "intruder", t), false);
    assert.equal(await inbox.fail(b, "intruder", "boom", t + 5, t), false);
    assert.equal(await inbox.bury(c, "intruder", "boom", t), false);
    assert.equal(await inbox.markUnhandled(d, "intruder", t), false);
    assert.equal((await inbox.counts()).running, 4);

    assert.equal(await inbox.complete(a, "w1", t), true);
    assert.equal(await inbox.fail(b, "w1", "boom", t + 5_000, t), true);
    assert.equal(await inbox.bury(c, "w1", "gave up", t), true);
    assert.equal(await inbox.markUnhandled(d, "w1", t), true);

    const [ra] = await inbox.find(a.id);
    assert.equal(ra.status, "done");
    assert.equal(ra.completed_at, t);
    assert.equal(ra.lease_owner, null);
    const [rb] = await inbox.find(b.id);
    assert.deepEqual([rb.status, rb.last_error, rb.next_attempt_at], ["failed", "boom", t + 5_000]);
    const [rc] = await inbox.find(c.id);
    assert.deepEqual([rc.status, rc.last_error], ["dead", "gave up"]);
    assert.equal((await inbox.find(d.id))[0].status, "unhandled");

    // Once settled the lease is gone: a second settlement is refused.
    assert.equal(await inbox.complete(a, "w1", t + 1), false);
    assert.equal(await inbox.bury(b, "w1", "late", t + 1), false);
  });
});

Deno.test("release gives the event back as pending without counting the attempt", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_r"));
    const [e] = await inbox.claim({ ...lease, limit: 1 });
    assert.equal(e.attempts, 1);
    assert.equal(await inbox.release(e, "someone-else", T0 + 1), false);
    assert.equal(await inbox.release(e, "w1", T0 + 1), true);
    const [row] = await inbox.find("evt_r");
    assert.deepEqual([row.status, row.attempts, row.lease_owner], ["pending", 0, null]);
    const [again] = await inbox.claim({ ...lease, limit: 1, now: T0 + 2 });
    assert.equal(again.attempts, 1);
    // With notBefore it waits.
    assert.equal(await inbox.release(again, "w1", T0 + 3, T0 + 10_000), true);
    assert.deepEqual(await inbox.claim({ ...lease, limit: 1, now: T0 + 9_999 }), []);
    assert.equal((await inbox.claim({ ...lease, limit: 1, now: T0 + 10_000 })).length, 1);
  });
});

Deno.test("a failed event is not claimable before next_attempt_at and is claimable from then", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("evt_f"));
    const [e] = await inbox.claim({ ...lease, limit: 1 });
    await inbox.fail(e, "w1", "boom", T0 + 60_000, T0 + 10);
    assert.deepEqual(await inbox.claim({ ...lease, limit: 1, now: T0 + 59_999 }), []);
    const [retry] = await inbox.claim({ ...lease, limit: 1, now: T0 + 60_000 });
    assert.equal(retry.id, "evt_f");
    assert.equal(retry.attempts, 2);
    assert.equal(retry.last_error, "boom");
  });
});

Deno.test("claimOne leases a specific event unless it is done, dead or leased by another", async () => {
  await withInbox(async (inbox) => {
    await acceptMany(inbox, 3);
    const key = { provider: "stripe", id: "evt_0" };
    const mine = await inbox.claimOne(key, lease);
    assert.equal(mine?.status, "running");
    assert.equal(mine?.attempts, 1);
    assert.equal(await inbox.claimOne(key, { ...lease, owner: "w2", now: T0 + 1 }), null);
    assert.equal(
      (await inbox.claimOne(key, { ...lease, owner: "w2", now: T0 + 30_001 }))?.lease_owner,
      "w2",
    );
    await inbox.complete(key, "w2", T0 + 30_002);
    assert.equal(await inbox.claimOne(key, { ...lease, now: T0 + 40_000 }), null);
    assert.equal(await inbox.claimOne({ provider: "stripe", id: "nope" }, lease), null);
    // claim does not hand out what claimOne leased.
    await inbox.claimOne({ provider: "stripe", id: "evt_1" }, lease);
    assert.deepEqual((await inbox.claim({ ...lease, limit: 5 })).map((e) => e.id), ["evt_2"]);
  });
});

// ---------------------------------------------------------------------------------------------
// operator commands

Deno.test("requeue by key and by status puts failed, dead, unhandled and ignored events back", async () => {
  await withInbox(async (inbox) => {
    await acceptMany(inbox, 4);
    await inbox.accept(ev("gh_1", { provider: "github" }));
    await inbox.accept(ev("evt_ign"), { status: "ignored" });
    const claimed = await inbox.claim({ ...lease, limit: 10 });
    const byId = new Map(claimed.map((e) => [e.id, e]));
    await inbox.fail(byId.get("evt_0")!, "w1", "x", T0 + 1e9, T0);
    await inbox.bury(byId.get("evt_1")!, "w1", "x", T0);
    await inbox.bury(byId.get("gh_1")!, "w1", "x", T0);
    await inbox.markUnhandled(byId.get("evt_2")!, "w1", T0);

    const later = T0 + 5_000;
    assert.deepEqual(await inbox.requeue({ provider: "stripe", id: "evt_0" }, later), [
      { provider: "stripe", id: "evt_0" },
    ]);
    const [r0] = await inbox.find("evt_0");
    assert.deepEqual([r0.status, r0.attempts, r0.next_attempt_at], ["pending", 0, later]);
    // A running event is not requeued by key.
    assert.deepEqual(await inbox.requeue({ provider: "stripe", id: "evt_3" }, later), []);

    assert.deepEqual(await inbox.requeue({ status: "dead", provider: "stripe" }, later), [
      { provider: "stripe", id: "evt_1" },
    ]);
    assert.deepEqual(await inbox.requeue({ status: "dead" }, later), [
      { provider: "github", id: "gh_1" },
    ]);
    assert.deepEqual(await inbox.requeue({ status: "unhandled" }, later), [
      { provider: "stripe", id: "evt_2" },
    ]);
    assert.deepEqual(await inbox.requeue({ status: "ignored" }, later), [
      { provider: "stripe", id: "evt_ign" },
    ]);
    await assert.rejects(inbox.requeue({ status: "done" }, later), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /replay/);
      return true;
    });
    const next = await inbox.claim({ ...lease, limit: 10, now: later });
    assert.deepEqual(next.map((e) => e.id).sort(), ["evt_0", "evt_1", "evt_2", "evt_ign", "gh_1"]);
    assert.ok(next.every((e) => e.attempts === 1));
  });
});

Deno.test("replay runs a done event again as source replay, and only a done one", async () => {
  await withInbox(async (inbox) => {
    await acceptMany(inbox, 2);
    const [a, b] = await inbox.claim({ ...lease, limit: 2 });
    await inbox.complete(a, "w1", T0 + 1);
    assert.equal(await inbox.replay(b, T0 + 2), false);
    assert.equal(await inbox.replay({ provider: "stripe", id: "missing" }, T0 + 2), false);
    assert.equal(await inbox.replay(a, T0 + 2), true);
    const [row] = await inbox.find(a.id);
    assert.deepEqual(
      [row.status, row.source, row.attempts, row.completed_at, row.payload],
      ["pending", "replay", 0, null, a.payload],
    );
    assert.equal(await inbox.replay(a, T0 + 3), false);
    assert.deepEqual((await inbox.claim({ ...lease, limit: 5, now: T0 + 3 })).map((e) => e.id), [
      a.id,
    ]);
  });
});

Deno.test("purge deletes done and ignored rows received before the cutoff", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("old_done", { receivedAt: T0 }));
    await inbox.accept(ev("old_ignored", { receivedAt: T0 }), { status: "ignored" });
    await inbox.accept(ev("old_pending", { receivedAt: T0 }));
    await inbox.accept(ev("new_ignored", { receivedAt: T0 + 1_000 }), { status: "ignored" });
    const [done] = await inbox.claim({ ...lease, limit: 1 });
    assert.equal(done.id, "old_done");
    await inbox.complete(done, "w1", T0 + 1);
    assert.equal(await inbox.purge(T0 + 1_000), 2);
    assert.deepEqual(
      (await inbox.list()).map((e) => e.id).sort(),
      ["new_ignored", "old_pending"],
    );
    assert.equal(await inbox.purge(T0 + 1_000), 0);
  });
});

Deno.test("counts reports every status, zero included", async () => {
  await withInbox(async (inbox) => {
    assert.deepEqual(await inbox.counts(), {
      pending: 0,
      running: 0,
      done: 0,
      failed: 0,
      dead: 0,
      ignored: 0,
      unhandled: 0,
    });
    await acceptMany(inbox, 3);
    await inbox.accept(ev("i"), { status: "ignored" });
    const [a] = await inbox.claim({ ...lease, limit: 1 });
    await inbox.complete(a, "w1", T0);
    await inbox.claim({ ...lease, limit: 1 });
    assert.deepEqual(await inbox.counts(), {
      pending: 1,
      running: 1,
      done: 1,
      failed: 0,
      dead: 0,
      ignored: 1,
      unhandled: 0,
    });
  });
});

Deno.test("list is newest first, filters by status, provider and type, and defaults to 50", async () => {
  await withInbox(async (inbox) => {
    await acceptMany(inbox, 60);
    await inbox.accept(ev("gh_push", { provider: "github", type: "push", receivedAt: T0 + 100 }));
    await inbox.accept(ev("gh_pr", { provider: "github", type: "pull_request", receivedAt: T0 }));
    const all = await inbox.list();
    assert.equal(all.length, 50);
    assert.equal(all[0].id, "gh_push");
    assert.equal(all[1].id, "evt_59");
    for (let i = 1; i < all.length; i++) assert.ok(all[i - 1].received_at >= all[i].received_at);
    assert.equal((await inbox.list({ limit: 1000 })).length, 62);
    assert.deepEqual((await inbox.list({ provider: "github" })).map((e) => e.id), [
      "gh_push",
      "gh_pr",
    ]);
    assert.deepEqual((await inbox.list({ type: "push" })).map((e) => e.id), ["gh_push"]);
    await inbox.claim({ ...lease, limit: 2 });
    assert.deepEqual(
      (await inbox.list({ status: "running" })).map((e) => e.id).sort(),
      ["evt_0", "gh_pr"],
    );
    assert.deepEqual(await inbox.list({ status: "running", provider: "nope" }), []);
    assert.equal((await inbox.list({ limit: 3 })).length, 3);
  });
});

Deno.test("find returns the event from every provider that has the id, or narrows to one", async () => {
  await withInbox(async (inbox) => {
    await inbox.accept(ev("shared", { provider: "stripe" }));
    await inbox.accept(ev("shared", { provider: "github" }));
    await inbox.accept(ev("other"));
    assert.deepEqual((await inbox.find("shared")).map((e) => e.provider), ["github", "stripe"]);
    assert.deepEqual((await inbox.find("shared", "stripe")).map((e) => e.provider), ["stripe"]);
    assert.deepEqual(await inbox.find("missing"), []);
  });
});

// ---------------------------------------------------------------------------------------------
// opening and migrations

Deno.test("open creates the directory, uses WAL and synchronous FULL, and reopening is a no-op", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_inbox_" });
  const url = `file:${dir}/nested/deeper/whd.db`;
  try {
    const first = await openInbox({ url });
    await first.accept(ev("evt_keep"));
    first.close();
    const second = await openInbox({ url });
    assert.equal((await second.find("evt_keep")).length, 1);
    second.close();
    const raw = createClient({ url });
    try {
      assert.equal((await raw.execute("PRAGMA journal_mode")).rows[0].journal_mode, "wal");
      const versions = await raw.execute("SELECT version FROM schema_migrations ORDER BY version");
      assert.deepEqual(
        versions.rows.map((r) => r.version),
        INBOX_MIGRATIONS.map((m) => m.version),
      );
      const indexes = await raw.execute(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'events'",
      );
      const names = indexes.rows.map((r) => String(r.name));
      assert.ok(names.includes("events_claim") && names.includes("events_received"), `${names}`);
    } finally {
      raw.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("several processes opening a new database at once all succeed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_inbox_" });
  const url = `file:${dir}/whd.db`;
  try {
    const code = `import { openInbox } from ${JSON.stringify(INBOX_MODULE)};
      const inbox = await openInbox({ url: ${JSON.stringify(url)} });
      console.log(JSON.stringify(await inbox.counts()));
      inbox.close();`;
    const outs = await Promise.all([runChild(dir, code), runChild(dir, code), runChild(dir, code)]);
    for (const out of outs) assert.equal(JSON.parse(out).pending, 0);
    const raw = createClient({ url });
    assert.equal(
      (await raw.execute("SELECT COUNT(*) AS n FROM schema_migrations")).rows[0].n,
      INBOX_MIGRATIONS.length,
    );
    raw.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a database written by a newer whd is refused with a clear message", async () => {
  await withInbox(async (inbox, { url }) => {
    inbox.close();
    await inbox.whenClosed();
    const raw = createClient({ url });
    const future = INBOX_MIGRATIONS.length + 1;
    await raw.execute({
      sql: "INSERT INTO schema_migrations (version, description, applied_at) VALUES (?, ?, ?)",
      args: [future, "from the future", T0],
    });
    raw.close();
    await assert.rejects(openInbox({ url }), (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.match(e.message, new RegExp(`schema version ${future}`));
      assert.match(e.message, /newer whd/);
      assert.match(e.message, /Upgrade whd/);
      return true;
    });
  });
});

Deno.test("a file that is not a database is refused with a UserError naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_inbox_" });
  try {
    await Deno.writeTextFile(`${dir}/junk.db`, "this is not sqlite ".repeat(100));
    await assert.rejects(openInbox({ url: `file:${dir}/junk.db` }), (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.match(e.message, /junk\.db/);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an in-memory inbox works for tests and dry runs", async () => {
  const inbox = await openInbox({ url: "file::memory:" });
  try {
    await Promise.all([inbox.accept(ev("m1")), inbox.accept(ev("m2")), inbox.accept(ev("m1"))]);
    assert.equal((await inbox.counts()).pending, 2);
    assert.equal((await inbox.claim({ ...lease, limit: 5 })).length, 2);
  } finally {
    inbox.close();
  }
});

Deno.test("a URL with an unsupported scheme is a UserError that does not echo credentials", async () => {
  await assert.rejects(
    openInbox({ url: "postgres://user:hunter2secret@db.example/whd" }),
    (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.match(e.message, /database\.url/);
      assert.doesNotMatch(e.message, /hunter2secret/);
      return true;
    },
  );
});

Deno.test("a URL the driver cannot parse is a UserError that does not echo its credentials", async () => {
  // The URL parser's own message quotes the URL it failed on, password and token included.
  await assert.rejects(
    openInbox({ url: "libsql://user:hunter2secret@bad host/db?authToken=tok3nsecret" }),
    (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.match(e.message, /database\.url/);
      assert.doesNotMatch(e.message, /hunter2secret|tok3nsecret/);
      return true;
    },
  );
});
