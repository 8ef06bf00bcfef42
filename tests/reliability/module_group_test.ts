/**
 * A module handler that starts a process and then hangs: at its timeout whd kills its host's
 * whole process group, so the process it started is gone too (hosts run detached, in a group
 * of their own), and whd goes on serving.
 */
import assert from "node:assert/strict";
import { alive, project } from "./_project.ts";

Deno.test("spawn: at the timeout a module handler's host and what it started are gone", async () => {
  const p = await project({ handlers: { timeout_ms: 1000 } });
  try {
    const pidFile = p.path("module.pids");
    await p.handler(
      "spawn.module.ts",
      `export default async () => {
  const child = new Deno.Command("sleep", { args: ["600"], stdout: "null", stderr: "null" }).spawn();
  await Deno.writeTextFile(${JSON.stringify(pidFile)}, String(child.pid));
  await new Promise(() => {}); // hangs, ignoring its signal
};
`,
    );
    const server = await p.start();
    try {
      assert.equal(await p.deliver(server, "evt_mspawn", "spawn.module"), 200);
      const deadline = Date.now() + 20_000;
      let pid = 0;
      while (!pid) {
        pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
        assert.ok(Date.now() < deadline, "the handler never started its process");
        if (!pid) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(alive(pid));
      const [row] = await p.waitFor(["evt_mspawn"], ["dead"]);
      assert.match(row.last_error ?? "", /timed out after 1000 ms/);
      // The group is killed as the run ends; give the kernel a moment to reap.
      const gone = Date.now() + 2_000;
      while (alive(pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
      assert.equal(alive(pid), false, `sleep ${pid} outlived its handler`);
      assert.equal(await p.deliver(server, "evt_after", "order.created"), 200);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  } finally {
    await p.remove();
  }
});
