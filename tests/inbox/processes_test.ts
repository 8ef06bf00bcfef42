import assert from "node:assert/strict";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { ev, INBOX_MODULE, runChild, spawnChild, T0, withInbox } from "./_helpers.ts";

/** Resolves when `path` exists (polled); a dead child fails the wait through `guard`. */
async function waitForFile(path: string, guard: Promise<unknown>): Promise<void> {
  const poll = async () => {
    for (;;) {
      try {
        await Deno.stat(path);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 10));
      }
    }
  };
  await Promise.race([poll(), guard.then(() => assert.fail(`child exited before ${path}`))]);
}

Deno.test("two processes claiming batches and completing them run every event exactly once", async () => {
  await withInbox(async (inbox, { dir, url }) => {
    const N = 400;
    await Promise.all(
      Array.from({ length: N }, (_, i) => inbox.accept(ev(`evt_${i}`, { receivedAt: T0 + i }))),
    );
    const worker = (owner: string) =>
      `import { openInbox } from ${JSON.stringify(INBOX_MODULE)};
       const inbox = await openInbox({ url: ${JSON.stringify(url)} });
       await Deno.writeTextFile(${JSON.stringify(dir)} + "/ready_${owner}", "");
       while (true) { try { await Deno.stat(${JSON.stringify(`${dir}/go`)}); break; }
         catch { await new Promise((r) => setTimeout(r, 5)); } }
       const runs = [];
       for (;;) {
         const got = await inbox.claim({ owner: "${owner}", limit: 8, leaseMs: 600_000,
           now: Date.now() });
         if (got.length === 0) break;
         // Run the batch: each event's run is the interval between its claim and its outcome.
         await Promise.all(got.map(async (e) => {
           const start = performance.timeOrigin + performance.now();
           await new Promise((r) => setTimeout(r, Math.random() * 3));
           const completed = await inbox.complete(e, "${owner}", Date.now());
           runs.push({ id: e.id, attempts: e.attempts, start,
             end: performance.timeOrigin + performance.now(), completed });
         }));
       }
       inbox.close();
       await inbox.whenClosed();
       console.log(JSON.stringify(runs));`;
    const children = [runChild(dir, worker("p1")), runChild(dir, worker("p2"))];
    const all = Promise.all(children);
    await waitForFile(`${dir}/ready_p1`, all);
    await waitForFile(`${dir}/ready_p2`, all);
    await Deno.writeTextFile(`${dir}/go`, "");
    type Run = { id: string; attempts: number; start: number; end: number; completed: boolean };
    const [one, two] = (await all).map((o) => JSON.parse(o) as Run[]);
    const runs = [...one, ...two];
    assert.ok(one.length > 0 && two.length > 0, `p1 ran ${one.length}, p2 ran ${two.length}`);
    // Every event ran once, in one process, and its outcome was accepted.
    assert.equal(runs.length, N);
    assert.equal(new Set(runs.map((r) => r.id)).size, N);
    assert.ok(runs.every((r) => r.completed && r.attempts === 1));
    const rows = await inbox.list({ limit: 1000 });
    assert.equal(rows.length, N);
    assert.ok(rows.every((r) => r.status === "done" && r.attempts === 1), "all done once");
  });
});

Deno.test("kill -9 in the middle of batches loses nothing acknowledged; every event still runs", async () => {
  await withInbox(async (inbox, { dir, url }) => {
    const N = 300;
    await Promise.all(
      Array.from({ length: N }, (_, i) => inbox.accept(ev(`evt_${i}`, { receivedAt: T0 + i }))),
    );
    const LEASE = 1_500;
    // The victim claims batches, "runs" each event (a line in ran.log) and completes it, while
    // accepting new events; every acknowledged write is printed only after its promise resolved.
    const victim = await spawnChild(
      dir,
      `import { openInbox } from ${JSON.stringify(INBOX_MODULE)};
       const inbox = await openInbox({ url: ${JSON.stringify(url)} });
       const ran = await Deno.open(${JSON.stringify(`${dir}/ran.log`)},
         { append: true, create: true });
       const out = (line) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\\n"));
       let n = 0;
       for (;;) {
         const got = await inbox.claim({ owner: "victim", limit: 16, leaseMs: ${LEASE},
           now: Date.now() });
         await Promise.all([
           ...got.map(async (e) => {
             ran.writeSync(new TextEncoder().encode(e.id + "\\n"));
             if (await inbox.complete(e, "victim", Date.now())) out("completed " + e.id);
           }),
           ...Array.from({ length: 8 }, async () => {
             const id = "new_" + n++;
             const r = await inbox.accept({ id, provider: "stripe", webhook: "payments",
               type: "charge.succeeded", payload: "{}", receivedAt: Date.now(),
               source: "delivery" });
             if (!r.duplicate) out("accepted " + id);
           }),
         ]);
       }`,
    );
    // Kill it once it has acknowledged some work, while it is in the middle of more.
    const reader = victim.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while ((text.match(/completed /g) ?? []).length < 40) {
      const { value, done } = await reader.read();
      if (done) assert.fail(`the victim exited early: ${text}`);
      text += value;
    }
    victim.kill("SIGKILL");
    const status = await victim.status;
    assert.equal(status.signal, "SIGKILL");
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await victim.stderr.cancel();
    const lines = text.split("\n").filter((l) => l.length > 0);
    // A line cut by the kill is not an acknowledgement.
    const complete = text.endsWith("\n") ? lines : lines.slice(0, -1);
    const completed = complete.filter((l) => l.startsWith("completed ")).map((l) => l.slice(10));
    const accepted = complete.filter((l) => l.startsWith("accepted ")).map((l) => l.slice(9));
    assert.ok(completed.length >= 40 && accepted.length > 0);

    // Nothing acknowledged is lost: a fresh connection sees every completed and accepted event.
    const after = await openInbox({ url });
    try {
      for (const id of completed) {
        assert.equal((await after.find(id, "stripe"))[0]?.status, "done", `${id} was done`);
      }
      for (const id of accepted) assert.equal((await after.find(id, "stripe")).length, 1, id);

      // Every event still runs at least once: the survivor drains what the victim left,
      // including the events whose leases died with it (reclaimed once the lease expires).
      const deadline = Date.now() + 30_000;
      for (;;) {
        const left = await after.counts();
        if (left.pending === 0 && left.running === 0) break;
        assert.ok(Date.now() < deadline, `not drained: ${JSON.stringify(left)}`);
        const got = await after.claim({
          owner: "survivor",
          limit: 64,
          leaseMs: 60_000,
          now: Date.now(),
        });
        if (got.length === 0) await new Promise((r) => setTimeout(r, 100));
        for (const e of got) {
          await Deno.writeTextFile(`${dir}/ran.log`, e.id + "\n", { append: true });
          assert.equal(await after.complete(e, "survivor", Date.now()), true);
        }
      }
      const ran = new Set((await Deno.readTextFile(`${dir}/ran.log`)).split("\n"));
      const rows = await after.list({ limit: 100_000 });
      assert.ok(rows.length >= N + accepted.length);
      for (const row of rows) {
        assert.equal(row.status, "done", `${row.id} is ${row.status}`);
        assert.ok(ran.has(row.id), `${row.id} never ran`);
      }
    } finally {
      after.close();
      await after.whenClosed();
    }
  });
});
