import assert from "node:assert/strict";
import { leaseMarginMs } from "../../src/dispatch/dispatcher.ts";
import { daemonProject } from "./_daemon.ts";
import { appendLine, lines, waitFor } from "./_helpers.ts";

const TIMEOUT_MS = 2000;

Deno.test("crash: kill -9 of whd serve mid-handler, restart, the event completes exactly once more", async () => {
  // Lease = timeout 2 s + abort grace 1 s + margin 2 s: the orphaned run is retried ~5 s later.
  const project = await daemonProject({ timeout_ms: TIMEOUT_MS, backoff_base_ms: 100 });
  const out = project.path("runs.txt");
  // The first attempt hangs (whd is killed there); later attempts finish.
  await project.handler(
    "order.created.ts",
    `export default async (event, ctx) => {
      ${appendLine(out, `"start " + ctx.attempt`)}
      if (ctx.attempt === 1) await new Promise(() => {});
      ${appendLine(out, `"done " + ctx.attempt`)}
    };`,
  );
  try {
    const first = await project.start();
    const answer = await project.deliver(first, "ord_kill", "order.created");
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    await waitFor(async () => (await lines(out)).includes("start 1"), 30_000, "first attempt");
    const killedAt = Date.now();
    const status = await first.stop("SIGKILL");
    assert.equal(status.signal, "SIGKILL");
    assert.deepEqual(await lines(out), ["start 1"], "killed before the timeout could fire");
    const [orphan] = await project.events();
    assert.equal(orphan.status, "running", "left leased by the dead process");
    assert.equal(orphan.attempts, 1);

    const second = await project.start();
    try {
      await waitFor(async () => (await lines(out)).includes("done 2"), 30_000, "second attempt");
      await waitFor(
        async () => (await project.events())[0].status === "done",
        30_000,
        "done after restart",
      );
    } finally {
      assert.equal((await second.stop("SIGTERM")).code, 0, second.logs());
    }
    const waited = Date.now() - killedAt;
    const [row] = await project.events();
    assert.equal(row.id, "ord_kill");
    assert.equal(row.attempts, 2);
    assert.deepEqual(await lines(out), ["start 1", "start 2", "done 2"]);
    console.log(`kill -9 → done after restart: ${waited} ms`);
  } finally {
    await project.remove();
  }
});

Deno.test("lease margin: 10 s for the default 30 s timeout, the timeout itself for short ones, at least 2 s", () => {
  assert.equal(leaseMarginMs(30_000), 10_000);
  assert.equal(leaseMarginMs(600_000), 10_000);
  assert.equal(leaseMarginMs(TIMEOUT_MS), 2_000);
  assert.equal(leaseMarginMs(5_000), 5_000);
  assert.equal(leaseMarginMs(100), 2_000);
});

Deno.test("crash: kill -9 mid-batch loses nothing — after a restart every acknowledged event is done and ran at least once", async () => {
  const project = await daemonProject({
    timeout_ms: TIMEOUT_MS,
    backoff_base_ms: 100,
    concurrency: 4,
  });
  const out = project.path("runs.txt");
  await project.handler(
    "order.created.ts",
    `export default async (event) => {
      await new Promise((r) => setTimeout(r, 20));
      ${appendLine(out, "event.id")}
    };`,
  );
  const ids = Array.from({ length: 150 }, (_, i) => `ord_${i}`);
  try {
    const first = await project.start();
    // Deliver while the handlers work; kill -9 once some have run: runs in flight, events
    // claimed and queued, outcomes not yet committed.
    const acknowledged: string[] = [];
    const delivering = (async () => {
      for (const id of ids) {
        try {
          const answer = await project.deliver(first, id, "order.created");
          if (answer.status !== 200) break;
          acknowledged.push(id);
        } catch {
          break; // whd is gone
        }
      }
    })();
    await waitFor(async () => (await lines(out)).length >= 10, 30_000, "some runs");
    assert.equal((await first.stop("SIGKILL")).signal, "SIGKILL");
    await delivering;
    const before = await project.events(1000);
    const stored = new Set(before.map((e) => e.id));
    assert.deepEqual(acknowledged.filter((id) => !stored.has(id)), [], "acknowledged = stored");
    assert.ok(before.some((e) => e.status !== "done"), "killed with work left");

    const second = await project.start();
    try {
      await waitFor(
        async () => (await project.events(1000)).every((e) => e.status === "done"),
        60_000,
        "all done after restart",
      );
    } finally {
      assert.equal((await second.stop("SIGTERM")).code, 0, second.logs());
    }
    const ran = new Set(await lines(out));
    assert.deepEqual(
      acknowledged.filter((id) => !ran.has(id)),
      [],
      "every acknowledged event ran at least once",
    );
    const after = await project.events(1000);
    assert.ok(after.length >= acknowledged.length);
    assert.ok(after.every((e) => e.status === "done"));
  } finally {
    await project.remove();
  }
});
