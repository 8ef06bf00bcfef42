/**
 * Measures the dispatcher as users run it: seeds N pending events into a fresh libSQL file,
 * starts `whd serve` (a real process) with one trivial handler, and reports spawn-to-listening,
 * drain time (events/s) and peak RSS of whd plus its handler hosts. Not a test: run it by hand.
 *
 * ```sh
 * deno run -A tests/dispatch/_drain_bench.ts --kind ts --events 20000
 * deno run -A tests/dispatch/_drain_bench.ts --kind exec --events 20000
 * deno run -A tests/dispatch/_drain_bench.ts --kind examples   # spawn to listening only
 * ```
 * @module
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "@libsql/client";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { REPO } from "../helpers/whd_process.ts";
import { incoming, writeFile } from "./_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    kind: { type: "string", default: "ts" },
    events: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "4" },
    /** Extra `deno run` flags for whd, e.g. `--cpu-prof`. */
    flags: { type: "string", default: "" },
  },
});
const kind = values.kind!;
const total = kind === "examples" ? 0 : Number(values.events);

/** Process ids of `pid` and all its descendants. */
function tree(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      const kids = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`).trim();
      for (const k of kids ? kids.split(" ") : []) out.push(...tree(Number(k)));
    }
  } catch { /* gone */ }
  return out;
}

/** Resident memory of a process in kB: RSS, or PSS (shared pages split among sharers). */
function rssKb(pid: number, field = "Rss"): number {
  try {
    if (field === "Rss") {
      const m = /VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${pid}/status`));
      return m ? Number(m[1]) : 0;
    }
    const m = new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(
      Deno.readTextFileSync(`/proc/${pid}/smaps_rollup`),
    );
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

const dir = await Deno.makeTempDir({ prefix: "whd_drain_" });
const handlers = kind === "examples" ? join(REPO, "handlers") : "handlers";
await writeFile(
  dir,
  "config/whd.yaml",
  `server:
  host: 127.0.0.1
database:
  url: file:data/whd.db
handlers:
  dir: ${handlers}
  concurrency: ${values.concurrency}
  watch: false
log:
  format: json
providers:
  stripe:
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
`,
);
if (kind === "ts") {
  await writeFile(dir, "handlers/stripe/_default.ts", "export default () => {};\n");
} else if (kind === "exec") {
  await writeFile(dir, "handlers/stripe/_default.sh", { text: "#!/bin/sh\nexit 0\n", mode: 0o755 });
}
await Deno.mkdir(join(dir, "data"));
const url = `file:${join(dir, "data/whd.db")}`;
{
  const inbox = await openInbox({ url });
  for (let i = 0; i < total; i += 500) {
    await Promise.all(
      Array.from(
        { length: Math.min(500, total - i) },
        (_, j) => inbox.accept(incoming(`evt_${i + j}`, "invoice.paid")),
      ),
    );
  }
  inbox.close();
}

const t0 = performance.now();
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    ...values.flags!.split(" ").filter(Boolean),
    `--config=${REPO}deno.json`,
    `${REPO}main.ts`,
    "serve",
    "--port",
    "0",
  ],
  cwd: dir,
  env: { STRIPE_WEBHOOK_SECRET: "whsec_test", NO_COLOR: "1" },
  stdout: "piped",
  stderr: "piped",
}).spawn();
let listenMs = 0;
const decoder = new TextDecoder();
const pump = async (stream: ReadableStream<Uint8Array>) => {
  let text = "";
  for await (const chunk of stream) {
    if (listenMs) continue;
    text += decoder.decode(chunk, { stream: true });
    if (text.includes('"msg":"listening"')) listenMs = performance.now() - t0;
  }
};
const pumping = Promise.all([pump(child.stdout), pump(child.stderr)]);

let doneMs = 0;
let startMs = 0;
let peakWhd = 0;
let peakAll = 0;
let peakHosts = 0;
/** Peak of the whole tree once events run (the handlers are loaded by then). */
let peakRunning = 0;
/** The same in PSS: the deno binary's pages, shared by whd and its hosts, counted once. */
let peakPss = 0;
let samples = 0;
const sampler = setInterval(() => {
  const pids = tree(child.pid);
  const rss = pids.map((p) => rssKb(p));
  const sum = rss.reduce((a, b) => a + b, 0);
  peakWhd = Math.max(peakWhd, rss[0]);
  peakAll = Math.max(peakAll, sum);
  if (startMs) peakRunning = Math.max(peakRunning, sum);
  if (++samples % 10 === 0) {
    peakPss = Math.max(peakPss, pids.map((p) => rssKb(p, "Pss")).reduce((a, b) => a + b, 0));
  }
  peakHosts = Math.max(peakHosts, pids.length - 1);
}, 50);

const reader = createClient({ url });
while (true) {
  await new Promise((r) => setTimeout(r, 100));
  if (!listenMs) continue;
  if (total === 0) {
    await new Promise((r) => setTimeout(r, 2000));
    break;
  }
  const rs = await reader.execute("SELECT count(*) AS n FROM events WHERE status = 'done'");
  const done = Number(rs.rows[0].n);
  if (done > 0 && !startMs) startMs = performance.now() - t0;
  if (done >= total) {
    doneMs = performance.now() - t0;
    break;
  }
  if (performance.now() - t0 > 600_000) throw new Error(`stuck at ${done}/${total}`);
}
clearInterval(sampler);
reader.close();
child.kill("SIGTERM");
await child.status;
await pumping;
await Deno.remove(dir, { recursive: true });
const drainMs = doneMs - listenMs;
console.log(JSON.stringify({
  kind,
  events: total,
  listen_ms: Math.round(listenMs),
  drain_ms: Math.round(drainMs),
  events_per_s: total ? Math.round(total / (drainMs / 1000)) : undefined,
  peak_rss_whd_mb: Math.round(peakWhd / 1024),
  peak_rss_all_mb: Math.round(peakAll / 1024),
  peak_rss_while_running_mb: Math.round(peakRunning / 1024),
  peak_pss_all_mb: Math.round(peakPss / 1024),
  hosts: peakHosts,
}));
