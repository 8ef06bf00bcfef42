/**
 * Against real `whd serve` processes under HTTP load: kill -9 several times and restart (every
 * 2xx has its row at the end), and a duplicate storm across two processes on one database
 * (500 copies of one id: one row, one handler run). While each process is up, `/healthz`
 * answers within 100 ms and it does not exit on its own; no canary secret is printed.
 */
import assert from "node:assert/strict";
import { parseConfig } from "../../src/config/loader.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";
import type { WhdServer } from "../helpers/whd_process.ts";
import { CANARIES, leakIn, type Project, project } from "./_project.ts";
import { adminUrl, healthzBoundMs, sqlite } from "./_store.ts";

/** Waits until the admin listener's `/readyz` answers 200. */
async function ready(server: WhdServer): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (true) {
    const response = await fetch(`${adminUrl(server)}/readyz`);
    await response.body?.cancel();
    if (response.status === 200) return;
    assert.ok(Date.now() < deadline, "whd never became ready");
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Signs and POSTs `{id, type}` to `/hooks/shop`; 0 when the connection failed. */
async function poster(p: Project) {
  const config = parseConfig(await Deno.readTextFile(p.path("config/whd.yaml")), "whd.yaml");
  const webhook = config.providers[1].webhooks[0];
  return async (server: WhdServer, id: string): Promise<number> => {
    const body = JSON.stringify({ id, type: "order.created" });
    const headers = await PROVIDERS.hmac.sign(webhook, body, { secret: CANARIES.SHOP_SECRET });
    try {
      const response = await fetch(`${server.url}/hooks/shop`, { method: "POST", headers, body });
      await response.body?.cancel();
      return response.status;
    } catch {
      return 0;
    }
  };
}

/** The poller, on a thread of its own so the test's own load does not delay it. */
const _POLLER = `
let running = true, slowest = 0, failed = "";
self.onmessage = async (e) => {
  if (e.data.stop) { running = false; return; }
  while (running) {
    const started = performance.now();
    try {
      const r = await fetch(e.data.url + "/healthz");
      await r.body?.cancel();
      if (r.status !== 200) failed ||= "status " + r.status;
      if (running) slowest = Math.max(slowest, performance.now() - started);
    } catch (error) {
      if (running) failed ||= String(error);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  self.postMessage({ slowest, failed });
};`;

/** Polls `/healthz` from a worker until `stop()`; returns the slowest answer (ms). */
function healthPoller(server: WhdServer) {
  const url = URL.createObjectURL(new Blob([_POLLER], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const result = new Promise<{ slowest: number; failed: string }>((resolve) =>
    worker.onmessage = (e) => resolve(e.data)
  );
  worker.postMessage({ url: server.url });
  return {
    async stop(): Promise<number> {
      worker.postMessage({ stop: true });
      const { slowest, failed } = await result;
      worker.terminate();
      URL.revokeObjectURL(url);
      assert.equal(failed, "", `/healthz failed: ${failed}`);
      return slowest;
    },
  };
}

Deno.test("kill -9 under load, 3 times, restart each time: every acknowledged event is stored", async () => {
  const p = await project({ log: { level: "info" } });
  try {
    const post = await poster(p);
    const acknowledged: string[] = [];
    let sent = 0;
    let slowestHealthz = 0;
    for (let round = 0; round < 3; round++) {
      const server = await p.start();
      const health = healthPoller(server);
      let killed = false;
      const load = async (lane: number) => {
        for (let i = 0; !killed; i++) {
          const id = `evt_r${round}_l${lane}_${i}`;
          sent++;
          if ((await post(server, id)) === 200) acknowledged.push(id);
        }
      };
      const lanes = [0, 1, 2, 3].map(load);
      await new Promise((r) => setTimeout(r, 800));
      slowestHealthz = Math.max(slowestHealthz, await health.stop());
      assert.equal(server.child.pid > 0, true);
      const status = server.stop("SIGKILL");
      killed = true;
      assert.equal((await status).signal, "SIGKILL", "whd exited before it was killed");
      await Promise.all(lanes);
      assert.equal(leakIn(server.logs()), undefined);
    }
    // A last clean start: the file opens (WAL recovered) and the count is final.
    const server = await p.start();
    assert.equal(await post(server, "evt_last"), 200);
    acknowledged.push("evt_last");
    const last = await server.stop();
    assert.equal(last.code, 0, `${JSON.stringify(last)}\n${server.logs()}`);
    const stored = new Set(await sqlite(p.path("data/whd.db"), "SELECT id FROM events"));
    const lost = acknowledged.filter((id) => !stored.has(id));
    assert.deepEqual(lost, [], `acknowledged but lost: ${lost.length}`);
    assert.ok(acknowledged.length > 100, `only ${acknowledged.length} acknowledged`);
    assert.ok(slowestHealthz < healthzBoundMs(), `/healthz took ${slowestHealthz} ms under load`);
    console.log(
      `kill -9 ×3 under load: ${sent} sent, ${acknowledged.length} acknowledged, ` +
        `${stored.size} stored, 0 lost; slowest /healthz ${slowestHealthz.toFixed(1)} ms`,
    );
  } finally {
    await p.remove();
  }
});

Deno.test("duplicate storm: 500 copies of one id across two whd processes → 1 row, 1 run", async () => {
  const p = await project({ handlers: { max_attempts: 3 } });
  try {
    const runs = p.path("runs.log");
    await p.handler(
      "order.created.ts",
      `export default async (event) => {
  await Deno.writeTextFile(${JSON.stringify(runs)}, event.id + "\\n", { append: true });
};
`,
    );
    const post = await poster(p);
    const a = await p.start();
    const b = await p.start();
    try {
      // Both have loaded their handlers (bundling is CPU work) before the storm starts.
      for (const server of [a, b]) await ready(server);
      const healthA = healthPoller(a);
      const healthB = healthPoller(b);
      const statuses: number[] = [];
      for (let wave = 0; wave < 10; wave++) {
        statuses.push(
          ...await Promise.all(
            Array.from({ length: 50 }, (_, i) => post(i % 2 ? a : b, "evt_storm")),
          ),
        );
      }
      const slowest = Math.max(await healthA.stop(), await healthB.stop());
      assert.equal(statuses.length, 500);
      assert.deepEqual([...new Set(statuses)], [200]);
      await p.waitFor(["evt_storm"], ["done"]);
      // Both dispatchers had time to (wrongly) run it again.
      await new Promise((r) => setTimeout(r, 500));
      const rows = await sqlite(p.path("data/whd.db"), "SELECT COUNT(*) FROM events");
      assert.deepEqual(rows, ["1"]);
      const ran = (await Deno.readTextFile(runs)).trim().split("\n");
      assert.deepEqual(ran, ["evt_storm"]);
      assert.ok(slowest < healthzBoundMs(), `/healthz took ${slowest} ms during the storm`);
      console.log(
        `duplicate storm: 500 copies → 1 row, 1 run; slowest /healthz ${slowest.toFixed(1)} ms`,
      );
    } finally {
      assert.equal((await a.stop()).code, 0);
      assert.equal((await b.stop()).code, 0);
    }
    assert.equal(leakIn(a.logs() + b.logs()), undefined);
  } finally {
    await p.remove();
  }
});
