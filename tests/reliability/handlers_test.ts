/**
 * Flooding and child-spawning handlers against a real whd: a run's output costs the log at
 * most the cap (64 KiB per stream) plus one truncation line; everything an executable handler
 * started dies with it at the timeout and at shutdown, and whd exits promptly on SIGTERM.
 */
import assert from "node:assert/strict";
import { alive, jsonLines, project } from "./_project.ts";

const CAP = 65_536;
const bytes = (line: string) => new TextEncoder().encode(line).length + 1;

/** The raw log lines (as written) of one event's run. */
function linesOf(logs: string, eventId: string): string[] {
  return logs.split("\n").filter((l) => l.startsWith("{") && JSON.parse(l).event_id === eventId);
}

Deno.test("flood: exec and module handlers put at most the cap of log lines per run, marked once", async () => {
  const p = await project({ handlers: { timeout_ms: 30_000 } });
  try {
    await p.handler(
      "flood.exec.sh",
      `#!/bin/sh\nyes "flood line on stdout" | head -n 200000\n` +
        `yes "flood line on stderr" | head -n 200000 >&2\n`,
    );
    await p.handler(
      "flood.module.ts",
      `export default (event, ctx) => {
  for (let i = 0; i < 100000; i++) console.log("flood line", i);
  for (let i = 0; i < 100000; i++) ctx.log.info("tick", { i });
};
`,
    );
    const server = await p.start();
    try {
      assert.equal(await p.deliver(server, "evt_flood_exec", "flood.exec"), 200);
      assert.equal(await p.deliver(server, "evt_flood_module", "flood.module"), 200);
      await p.waitFor(["evt_flood_exec", "evt_flood_module"], ["done"]);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
    const logs = server.logs();
    // Executable runs: a warning line; module runs: a console line from the handler host.
    const isMarker = (l: string) =>
      JSON.parse(l).msg === "handler output truncated" ||
      String(JSON.parse(l).line).startsWith("handler output truncated");
    const isRunner = (l: string) => /^handler (done|failed)/.test(String(JSON.parse(l).msg));

    const exec = linesOf(logs, "evt_flood_exec");
    for (const stream of ["stdout", "stderr"]) {
      const mine = exec.filter((l) => JSON.parse(l).stream === stream);
      const output = mine.filter((l) => !isMarker(l));
      const total = output.reduce((n, l) => n + bytes(l), 0);
      assert.ok(output.length > 100, `exec ${stream} output reached the log`);
      assert.ok(total <= CAP, `exec ${stream}: ${total} bytes of log lines`);
      assert.equal(mine.filter(isMarker).length, 1, `exec ${stream} marked once`);
    }

    const module = linesOf(logs, "evt_flood_module").filter((l) => !isRunner(l));
    const output = module.filter((l) => !isMarker(l));
    const total = output.reduce((n, l) => n + bytes(l), 0);
    assert.ok(output.length > 100, "module output reached the log");
    assert.ok(total <= CAP, `module: ${total} bytes of log lines`);
    assert.equal(module.filter(isMarker).length, 1, "module marked once");
    console.log(
      `flood: exec ${exec.length} lines / ${exec.reduce((n, l) => n + bytes(l), 0)} B, ` +
        `module ${module.length} lines / ${module.reduce((n, l) => n + bytes(l), 0)} B of log`,
    );
  } finally {
    await p.remove();
  }
});

const SPAWN = `#!/bin/sh
sleep 600 &
echo $! >> spawned.pids
sleep 601 | cat &
jobs -p >> spawned.pids
sh -c 'trap "" TERM; echo $$ >> spawned.pids; while :; do sleep 1; done' &
wait
`;

async function spawnedPids(path: string, count: number): Promise<number[]> {
  const deadline = Date.now() + 20_000;
  while (true) {
    const text = await Deno.readTextFile(path).catch(() => "");
    const pids = text.trim().split(/\s+/).filter(Boolean).map(Number);
    if (pids.length >= count) return pids;
    if (Date.now() > deadline) throw new Error(`handler did not record its pids: ${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("spawn: at the timeout everything an executable handler started is gone", async () => {
  const p = await project({ handlers: { timeout_ms: 1000 } });
  try {
    await p.handler("spawn.exec.sh", SPAWN);
    const server = await p.start();
    try {
      assert.equal(await p.deliver(server, "evt_spawn", "spawn.exec"), 200);
      const pids = await spawnedPids(p.path("spawned.pids"), 3);
      const [row] = await p.waitFor(["evt_spawn"], ["dead"]);
      assert.match(row.last_error ?? "", /timed out after 1000 ms/);
      assert.deepEqual(pids.filter(alive), [], `left running: ${pids.filter(alive)}`);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  } finally {
    await p.remove();
  }
});

Deno.test("spawn: on SIGTERM whd stops a running handler's whole group and exits promptly", async () => {
  const p = await project({ handlers: { timeout_ms: 600_000, shutdown_grace_ms: 300 } });
  try {
    await p.handler("spawn.exec.sh", SPAWN);
    const server = await p.start();
    assert.equal(await p.deliver(server, "evt_hang", "spawn.exec"), 200);
    const pids = await spawnedPids(p.path("spawned.pids"), 3);
    const started = performance.now();
    const status = await server.stop("SIGTERM");
    const ms = Math.round(performance.now() - started);
    assert.equal(status.code, 0, server.logs());
    // 300 ms of shutdown grace, then SIGTERM to the group and SIGKILL 1 s later (the abort
    // grace) for the child that ignores SIGTERM: seconds, not the handler's 600 s.
    assert.ok(ms < 10_000, `whd took ${ms} ms to exit`);
    assert.deepEqual(pids.filter(alive), [], `left running: ${pids.filter(alive)}`);
    const released = jsonLines(server.logs()).some((l) =>
      String(l.msg).includes("stopped by shutdown")
    );
    assert.ok(released, "the run was released, not failed");
    const [row] = await p.waitFor(["evt_hang"], ["pending"]);
    assert.equal(row.status, "pending");
    console.log(`spawn: whd exited ${ms} ms after SIGTERM with a handler group running`);
  } finally {
    await p.remove();
  }
});
