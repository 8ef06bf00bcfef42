/**
 * Module handler runs through the handler host pool (child processes) against the old design,
 * a Worker, in the same run: a warm run of a trivial handler (N runs, one host / one worker,
 * reused), and a cold start (a fresh host / worker up to its first finished run). Also prints
 * the resident memory of a warm host.
 *
 * `deno run -A bench/handler_run_bench.ts`
 *
 * @module
 */
import { createHostPool } from "../src/dispatch/module_runner.ts";
import type { Event } from "../src/event.ts";
import { memoryLogger } from "../src/ops/log.ts";

const N = 300;
const COLD = 5;
const code = `export default (event, ctx) => { ctx.log.info("ran", { id: event.id }); };`;
const event: Event = {
  id: "evt_bench",
  provider: "stripe",
  webhook: "main",
  type: "invoice.paid",
  payload: { amount: 1 },
  received_at: new Date(0).toISOString(),
  source: "delivery",
};
const log = memoryLogger();
const request = { code, event, attempt: 1, env: {}, timeoutMs: 10_000, log };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function workerRunner(): { run(): Promise<void>; close(): void } {
  const worker = new Worker(new URL("./_worker_baseline.ts", import.meta.url), { type: "module" });
  let runId = 0;
  const waiting = new Map<number, () => void>();
  worker.onmessage = (e) => {
    if (e.data.kind === "done") {
      if (!e.data.ok) throw new Error(e.data.error);
      waiting.get(e.data.runId)?.();
    }
  };
  return {
    run() {
      const id = ++runId;
      return new Promise<void>((resolve) => {
        waiting.set(id, resolve);
        worker.postMessage({ runId: id, code, event });
      });
    },
    close: () => worker.terminate(),
  };
}

async function hostColdMs(): Promise<number> {
  const pool = createHostPool();
  const t0 = performance.now();
  const result = await pool.run(request);
  const ms = performance.now() - t0;
  await pool.close();
  if (!result.ok) throw new Error(result.error);
  return ms;
}

async function workerColdMs(): Promise<number> {
  const t0 = performance.now();
  const runner = workerRunner();
  await runner.run();
  const ms = performance.now() - t0;
  runner.close();
  return ms;
}

// Warm runs.
const pool = createHostPool();
for (let i = 0; i < 10; i++) await pool.run(request);
let t0 = performance.now();
for (let i = 0; i < N; i++) {
  const result = await pool.run(request);
  if (!result.ok) throw new Error(result.error);
}
const hostUs = (performance.now() - t0) / N * 1000;
const [pid] = pool.pids;
const rssKb = Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))![1]);
await pool.close();

const worker = workerRunner();
for (let i = 0; i < 10; i++) await worker.run();
t0 = performance.now();
for (let i = 0; i < N; i++) await worker.run();
const workerUs = (performance.now() - t0) / N * 1000;
worker.close();

// Cold starts.
const hostCold: number[] = [];
const workerCold: number[] = [];
for (let i = 0; i < COLD; i++) {
  hostCold.push(await hostColdMs());
  workerCold.push(await workerColdMs());
}

console.log(
  `warm module handler run, host process: ${hostUs.toFixed(0)} µs/run ` +
    `(${(hostUs / workerUs).toFixed(2)}× baseline)`,
);
console.log(
  `warm module handler run, Worker (baseline): ${workerUs.toFixed(0)} µs/run (1.00× baseline)`,
);
console.log(
  `cold start to first run done, host process: ${
    median(hostCold).toFixed(0)
  } ms median of ${COLD} ` +
    `(${(median(hostCold) / median(workerCold)).toFixed(2)}× baseline)`,
);
console.log(
  `cold start to first run done, Worker (baseline): ${
    median(workerCold).toFixed(0)
  } ms median of ${COLD} (1.00× baseline)`,
);
console.log(`warm host resident memory: ${(rssKb / 1024).toFixed(1)} MB`);
