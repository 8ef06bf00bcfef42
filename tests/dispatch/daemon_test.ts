/**
 * The dispatcher inside the real `whd serve` process: a spinning handler does not slow
 * ingestion and is really stopped at its timeout, `mode: sync` answers by the handler's
 * outcome, and edited handler files are picked up without a restart.
 */
import assert from "node:assert/strict";
import { processTree } from "../helpers/processes.ts";
import { daemonProject } from "./_daemon.ts";
import { appendLine, lines, waitFor } from "./_helpers.ts";

/** Long timeout (the spinner keeps spinning), no background retry, quick shutdown. */
const SETTINGS = { timeout_ms: 20_000, backoff_base_ms: 600_000, shutdown_grace_ms: 0 };

Deno.test("whd serve keeps answering deliveries within a second while a handler spins forever", async () => {
  const project = await daemonProject(SETTINGS);
  const marker = project.path("spinning");
  await project.handler(
    "spin.ts",
    `export default () => {
      Deno.writeTextFileSync(${JSON.stringify(marker)}, "spinning");
      while (true) {}
    };`,
  );
  const server = await project.start();
  try {
    const a = await project.deliver(server, "evt_spin", "spin");
    assert.equal(a.status, 200);
    await waitFor(async () => (await lines(marker)).length > 0, 30_000, "the spinner to start");

    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const b = await project.deliver(server, `evt_b${i}`, "other");
      assert.equal(b.status, 200, JSON.stringify(b.body));
      assert.deepEqual(b.body, { received: true });
      times.push(Math.round(b.ms));
    }
    console.log(`deliveries while a handler spins: ${times.join(", ")} ms`);
    assert.ok(times[0] < 1000, `first delivery during the spin took ${times[0]} ms`);
    assert.ok(Math.max(...times) < 1000, `a delivery took ${Math.max(...times)} ms`);

    const events = await project.events();
    assert.equal(events.find((e) => e.id === "evt_spin")?.status, "running", "still spinning");
    assert.equal(events.filter((e) => e.id.startsWith("evt_b")).length, 5, "all stored");
  } finally {
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.logs());
    assert.match(server.logs(), /"msg":"stopped"/);
    await project.remove();
  }
});

/** The fields of `/proc/<pid>/stat` after the command name (state first), or undefined. */
function procStat(pid: number): string[] | undefined {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return text.slice(text.lastIndexOf(")") + 2).split(" ");
  } catch {
    return undefined;
  }
}

/** user + system CPU time of these processes, in clock ticks (1/100 s on Linux). */
function cpuTicks(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const stat = procStat(pid);
    if (stat) ticks += Number(stat[11]) + Number(stat[12]);
  }
  return ticks;
}

Deno.test("a spinning handler is killed after timeout + grace: its host process is gone, whd's process tree goes idle, and SIGTERM exits 0", async () => {
  const project = await daemonProject({ ...SETTINGS, timeout_ms: 1000 });
  const marker = project.path("spinner.pid");
  await project.handler(
    "spin.ts",
    `export default () => {
      Deno.writeTextFileSync(${JSON.stringify(marker)}, String(Deno.pid));
      while (true) {}
    };`,
  );
  const server = await project.start();
  let stopped = false;
  try {
    assert.equal((await project.deliver(server, "evt_spin", "spin")).status, 200);
    const pid = await waitFor(async () => Number((await lines(marker))[0]), 30_000, "the spin");
    assert.ok(processTree(server.child.pid).includes(pid), "the handler runs in a child of whd");
    await waitFor(() => procStat(pid) === undefined, 15_000, `spinning host ${pid} to be gone`);
    await waitFor(
      async () => (await project.events())[0].status === "failed",
      15_000,
      "the run to be recorded as failed",
    );
    const [row] = await project.events();
    assert.match(row.last_error ?? "", /timed out after 1000 ms/);

    // Nothing in whd's tree keeps a core busy any more: well under half a core over a second.
    const tree = processTree(server.child.pid);
    const before = cpuTicks(tree);
    await new Promise((r) => setTimeout(r, 1000));
    const used = cpuTicks(tree) - before;
    assert.ok(used < 50, `whd's processes used ${used} ticks (1/100 s) in one second`);

    const t0 = Date.now();
    const status = await server.stop("SIGTERM");
    stopped = true;
    assert.equal(status.code, 0, server.logs());
    assert.ok(Date.now() - t0 < 10_000, `SIGTERM → exit took ${Date.now() - t0} ms`);
    assert.match(server.logs(), /"msg":"stopped"/);
  } finally {
    if (!stopped) await server.stop("SIGKILL");
    await project.remove();
  }
});

Deno.test("mode: sync answers 500 while the handler fails, 200 once a retry succeeds, then duplicate without running again", async () => {
  const project = await daemonProject(SETTINGS);
  const runs = project.path("runs.txt");
  await project.handler(
    "flaky.ts",
    `export default async (event, ctx) => {
      ${appendLine(runs, `"run " + ctx.attempt`)}
      if (ctx.attempt === 1) throw new Error("first attempt fails");
    };`,
  );
  const server = await project.start();
  try {
    const first = await project.deliver(server, "evt_sync", "flaky", true);
    assert.equal(first.status, 500);
    assert.equal(first.body.error, "handler_failed");
    assert.deepEqual(await lines(runs), ["run 1"]);
    const [failed] = await project.events();
    assert.equal(failed.status, "failed");
    assert.equal(failed.attempts, 1);
    assert.match(failed.last_error ?? "", /first attempt fails/);

    // The provider retries the same delivery: the handler runs again, now successfully.
    const retry = await project.deliver(server, "evt_sync", "flaky", true);
    assert.equal(retry.status, 200, JSON.stringify(retry.body));
    assert.deepEqual(await lines(runs), ["run 1", "run 2"]);

    // A further retry of a done event is acknowledged without running the handler.
    const again = await project.deliver(server, "evt_sync", "flaky", true);
    assert.equal(again.status, 200);
    assert.deepEqual(again.body, { received: true, duplicate: true });
    assert.deepEqual(await lines(runs), ["run 1", "run 2"]);
    const [done] = await project.events();
    assert.equal(done.status, "done");
    assert.equal(done.attempts, 2);
  } finally {
    assert.equal((await server.stop("SIGTERM")).code, 0, server.logs());
    await project.remove();
  }
});

Deno.test("mode: sync answers 200 only after the handler has run", async () => {
  const project = await daemonProject(SETTINGS);
  const ran = project.path("ran.txt");
  await project.handler(
    "slow_ok.ts",
    `export default async (event) => {
      await new Promise((r) => setTimeout(r, 300));
      ${appendLine(ran, `"ran " + event.id`)}
    };`,
  );
  const server = await project.start();
  try {
    const answer = await project.deliver(server, "evt_ok", "slow_ok", true);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { received: true });
    assert.deepEqual(await lines(ran), ["ran evt_ok"], "the handler finished before the 200");
    assert.equal((await project.events())[0].status, "done");
  } finally {
    assert.equal((await server.stop("SIGTERM")).code, 0, server.logs());
    await project.remove();
  }
});

Deno.test("hot reload: after a handler file is edited under whd serve, the next delivery runs the new code", async () => {
  const project = await daemonProject(SETTINGS);
  const out = project.path("versions.txt");
  const version = (v: string) =>
    project.handler(
      "order.created.ts",
      `export default async (event) => {
        ${appendLine(out, `"${v} " + event.id`)}
      };`,
    );
  await version("v1");
  const server = await project.start();
  const reloads = () => server.logs().split('"msg":"handlers reloaded"').length - 1;
  try {
    assert.equal((await project.deliver(server, "ord_1", "order.created")).status, 200);
    await waitFor(async () => (await lines(out)).length === 1, 30_000, "the first run");
    assert.deepEqual(await lines(out), ["v1 ord_1"]);

    const before = reloads();
    await version("v2");
    await waitFor(() => reloads() > before, 30_000, "whd to reload the handlers");
    assert.equal((await project.deliver(server, "ord_2", "order.created")).status, 200);
    await waitFor(async () => (await lines(out)).length === 2, 30_000, "the second run");
    assert.deepEqual(await lines(out), ["v1 ord_1", "v2 ord_2"]);
  } finally {
    assert.equal((await server.stop("SIGTERM")).code, 0, server.logs());
    await project.remove();
  }
});
