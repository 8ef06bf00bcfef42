import assert from "node:assert/strict";
import type { OpenInboxOptions } from "../../src/inbox/libsql_inbox.ts";
import { ev, INBOX_MODULE, runChild, T0, withDir, withInbox } from "./_helpers.ts";

// The same contract on each way the inbox can reach SQLite: the store worker on the libsql
// driver (default), the worker on @libsql/client, and @libsql/client on the calling thread (the
// path libsql:// and http(s):// servers take).
const ENGINES: [string, Partial<OpenInboxOptions>][] = [
  ["worker + libsql driver", {}],
  ["worker + @libsql/client", { native: false }],
  ["@libsql/client on this thread", { worker: false }],
];

for (const [name, options] of ENGINES) {
  Deno.test(`${name}: accept, dedupe, claim in order, grouped outcomes, purge tombstones`, async () => {
    await withInbox(async (inbox) => {
      const accepted = await Promise.all([
        inbox.accept(ev("a", { receivedAt: T0 + 2 })),
        inbox.accept(ev("b", { receivedAt: T0 + 1 })),
        inbox.accept(ev("a", { receivedAt: T0 + 3 })),
        inbox.accept(ev("i"), { status: "ignored" }),
      ]);
      assert.deepEqual(accepted.map((r) => r.duplicate), [false, false, true, false]);
      const claimed = await inbox.claim({ owner: "w", limit: 10, leaseMs: 1_000, now: T0 });
      assert.deepEqual(claimed.map((e) => [e.id, e.attempts, e.lease_until]), [
        ["b", 1, T0 + 1_000],
        ["a", 1, T0 + 1_000],
      ]);
      assert.deepEqual(
        await Promise.all([
          inbox.complete(claimed[0], "w", T0 + 5),
          inbox.fail(claimed[1], "intruder", "x", T0 + 9, T0 + 5),
        ]),
        [true, false],
      );
      // a's lease expires: it is claimed again with the attempt counted.
      const [again] = await inbox.claim({ owner: "v", limit: 10, leaseMs: 1_000, now: T0 + 1_001 });
      assert.deepEqual([again.id, again.attempts], ["a", 2]);
      assert.equal(await inbox.purge(T0 + 100), 2);
      assert.deepEqual(await inbox.accept(ev("b", { receivedAt: T0 + 50 })), {
        duplicate: true,
        status: "done",
      });
      assert.deepEqual(await inbox.counts(), {
        pending: 0,
        running: 1,
        done: 0,
        failed: 0,
        dead: 0,
        ignored: 0,
        unhandled: 0,
      });
    }, { ...options, now: () => T0 + 200 });
  });
}

Deno.test("worker + libsql driver: one descriptor of the database file, whether it created the file or not", async () => {
  // A second connection left open by migrating through another client made the store worker's
  // transactions slower (README "Performance"). Each open runs in a process of its own, as
  // whd serve does, and counts the descriptors it holds on the file itself.
  await withDir(async ({ dir, url }) => {
    const openAndCount = (id: string) =>
      runChild(
        dir,
        `import { openInbox } from ${JSON.stringify(INBOX_MODULE)};
         const inbox = await openInbox({ url: ${JSON.stringify(url)} });
         await inbox.accept({ provider: "stripe", id: ${JSON.stringify(id)}, webhook: "main",
           type: "t", payload: "{}", receivedAt: Date.now(), source: "delivery" });
         const path = Deno.realPathSync(${JSON.stringify(`${dir}/whd.db`)});
         let count = 0;
         for (const fd of Deno.readDirSync("/proc/self/fd")) {
           try { if (Deno.readLinkSync("/proc/self/fd/" + fd.name) === path) count++; } catch {}
         }
         console.log(JSON.stringify({ count, pending: (await inbox.counts()).pending }));
         inbox.close();`,
      ).then((out) => JSON.parse(out));
    assert.deepEqual(await openAndCount("created"), { count: 1, pending: 1 });
    assert.deepEqual(await openAndCount("reopened"), { count: 1, pending: 2 });
  });
});
