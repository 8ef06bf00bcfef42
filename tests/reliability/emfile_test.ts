/**
 * Out of descriptors: the listener under `ulimit -n 256` with no connection limit to protect
 * it, flooded with 1000 idle connections. accept() fails with EMFILE; the listener logs it (one
 * line a second at most), closes the oldest idle connections and goes on accepting: the process
 * stays up and a new connection is served within 100 ms (`HEALTH_MS`, see `_attack.ts`).
 */
import assert from "node:assert/strict";
import { REPO } from "../helpers/whd_process.ts";
import { assertHealthy, connect, healthz, readToEnd } from "./_attack.ts";
import { alive, jsonLines } from "./_project.ts";

Deno.test("EMFILE: accept errors are logged once a second, idle connections reaped, serving goes on", async () => {
  const deno = [Deno.execPath(), "run", "--allow-all", `--config=${REPO}deno.json`]
    .map((a) => `'${a}'`).join(" ");
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n 256 && exec ${deno} '${REPO}tests/reliability/_emfile_server.ts'`],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const decoder = new TextDecoder();
  let out = "";
  let logs = "";
  const { promise: listening, resolve } = Promise.withResolvers<number>();
  const pumping = Promise.all([
    (async () => {
      for await (const chunk of child.stdout) {
        out += decoder.decode(chunk);
        const match = /port (\d+)/.exec(out);
        if (match) resolve(Number(match[1]));
      }
    })(),
    (async () => {
      for await (const chunk of child.stderr) logs += decoder.decode(chunk);
    })(),
  ]);
  const flood: Deno.TcpConn[] = [];
  try {
    const port = await listening;
    for (let batch = 0; batch < 10; batch++) {
      flood.push(...await Promise.all(Array.from({ length: 100 }, () => connect(port))));
      await new Promise((r) => setTimeout(r, 100));
    }
    let closedByServer = 0;
    for (const c of flood) readToEnd(c).then(() => closedByServer++);
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(alive(child.pid), logs);
    const probes = [];
    for (let i = 0; i < 10; i++) {
      probes.push(await healthz(port));
      await new Promise((r) => setTimeout(r, 50));
    }
    assertHealthy(probes);
    // The oldest idle connections were closed to make room for the new ones.
    assert.ok(closedByServer > 0, "no idle connection was reaped");
  } finally {
    for (const c of flood) c.close();
    child.kill("SIGTERM");
  }
  const status = await child.status;
  await pumping;
  assert.equal(status.code, 0, logs);
  assert.match(out, /stopped/);
  const failures = jsonLines(logs).filter((l) =>
    l.msg === "accepting a connection failed; retrying"
  );
  assert.ok(failures.length >= 1, `no EMFILE seen:\n${logs}`);
  assert.match(String(failures[0].error), /Too many open files/);
  // One line a second at most: consecutive lines at least a second apart.
  const times = failures.map((l) => Date.parse(String(l.time)));
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 1000, logs);
  assert.doesNotMatch(logs, /Uncaught|panicked/);
});
