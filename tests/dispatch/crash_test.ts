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
