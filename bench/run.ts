/**
 * `deno task bench`: whd measured the way users run it, against a bare `Deno.serve`, the design
 * floor (`_floor_server.ts`: only the work whd's design must do) and adnanh/webhook, with wrk as
 * the load generator; prints one markdown report and writes it to `bench/results/latest.md`.
 *
 * - Load: interleaved rounds (every round runs every system once, the order rotating), each a
 *   fresh process (and for whd a fresh database) on a loopback port, a short warm-up with other
 *   ids, then `wrk -t1 -c64` sending pre-signed ~1.7 KB Stripe events with unique ids. Ratios
 *   are taken within a round; the report shows medians over rounds. The rows of whd and of the
 *   floor are counted afterwards against the 2xx wrk saw.
 * - Dispatch: `whd serve` on a seeded backlog with a trivial TS handler and with an `exit 0`
 *   executable; the claim rate over the first events at the normal and at a 10× backlog.
 * - Spawn to listening with the example handlers, peak RSS of each process tree, bytes stored
 *   per event, and the verifier micro-bench (`bench/providers_bench.ts`).
 *
 * `deno task bench:smoke` (or `deno task bench -- --smoke`) runs the same paths with tiny sizes
 * and asserts only that every system answered and nothing was lost.
 * Options: `--rounds N`, `--seconds S` (per load round).
 *
 * @module
 */
import { join } from "node:path";
import { countDone, countRows, fileBytes, seedBacklog } from "./_db.ts";
import { copyDb, measureDrain } from "./_drain.ts";
import {
  cpuPerRequest,
  type CpuRole,
  logLines,
  Procs,
  rssSampler,
  treeCpuSeconds,
} from "./_procs.ts";
import Stripe from "stripe";
import { eventBody, luaScript, PATH, signedHeaders, writePool } from "./_requests.ts";
import { type Drain, type LoadSeries, median, noLoss, renderReport } from "./_report.ts";
import {
  REPO,
  type Running,
  startBare,
  startFloor,
  startWebhook,
  startWhd,
  type SystemName,
  SYSTEMS,
  writeHandlers,
  writeWhdConfig,
} from "./_systems.ts";
import { runWrk } from "./_wrk.ts";

const args = Deno.args.filter((a) => a !== "--");
const smoke = args.includes("--smoke");
const option = (name: string, fallback: number) => {
  const at = args.indexOf(name);
  return at >= 0 ? Number(args[at + 1]) : fallback;
};
const S = {
  rounds: option("--rounds", smoke ? 1 : 5),
  seconds: option("--seconds", smoke ? 1 : 8),
  warmSeconds: 1,
  /**
   * Requests in the pool per second of a round (the design floor reaches ~20k req/s here): a
   * system that runs through its pool repeats ids, which the report flags.
   */
  poolPerSecond: 30_000,
  backlog: smoke ? 2_000 : 20_000,
  bigBacklog: smoke ? 4_000 : 200_000,
  firstK: smoke ? 500 : 5_000,
  drainCapSeconds: smoke ? 15 : 240,
  bigCapSeconds: smoke ? 10 : 120,
  spawnTries: smoke ? 1 : 3,
};
const SECRET = "whsec_bench_0123456789abcdefghijklmnop";

const missing = [];
for (const tool of ["wrk", "webhook", "sqlite3"]) {
  const found = await new Deno.Command("sh", { args: ["-c", `command -v ${tool}`], stdout: "null" })
    .output();
  if (!found.success) missing.push(tool);
}
if (missing.length > 0) {
  console.error(
    `bench: missing ${missing.join(", ")}. Install with: apt-get install ${
      missing.join(" ")
    } (Debian/Ubuntu; the webhook package is adnanh/webhook)`,
  );
  Deno.exit(1);
}

const procs = new Procs();
const tmp = await Deno.makeTempDir({ prefix: "whd_bench_" });
const abort = new AbortController();
let cleaning: Promise<void> | undefined;
let interrupted = false;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    abort.abort();
    await procs.stopAll();
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  })();
  return cleaning;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    interrupted = true;
    console.error(`\nbench: ${signal}, stopping children and removing ${tmp}`);
    cleanup().finally(() => Deno.exit(130));
  });
}

const log = (text: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${text}`);
let failures: string[] = [];
try {
  failures = await main();
} catch (error) {
  await cleanup();
  if (interrupted) Deno.exit(130);
  throw error;
}
await cleanup();
if (failures.length > 0) {
  console.error(`bench: FAILED\n- ${failures.join("\n- ")}`);
  Deno.exit(1);
}
Deno.exit(0);

async function main(): Promise<string[]> {
  const machine = await describeMachine();
  const timestamp = Math.floor(Date.now() / 1000);
  // Stripe's own library checks the signing scheme the pool uses before anything is measured.
  const sample = eventBody("evt_bench_check", timestamp);
  await new Stripe("sk_test_bench").webhooks.constructEventAsync(
    sample,
    signedHeaders(SECRET, sample, timestamp)["Stripe-Signature"],
    SECRET,
  );
  const poolSize = Math.ceil(S.seconds * S.poolPerSecond);
  const pool = join(tmp, "pool.bin");
  const warmPool = join(tmp, "warm.bin");
  log(`signing ${poolSize.toLocaleString("en-US")} requests (+ warm-up pool)`);
  const bodyBytes = await writePool(pool, poolSize, "bench", SECRET, timestamp);
  const warmSize = S.warmSeconds * S.poolPerSecond;
  await writePool(warmPool, warmSize, "warm", SECRET, timestamp);
  const script = join(tmp, "pool.lua");
  const warmScript = join(tmp, "warm.lua");
  await Deno.writeTextFile(script, luaScript(pool));
  await Deno.writeTextFile(warmScript, luaScript(warmPool));

  const load = Object.fromEntries(SYSTEMS.map((name) => [name, {
    rounds: [],
    vsBare: [],
    vsWebhook: [],
    peakRss: 0,
    peakProcesses: 0,
    stored: [],
    poolExhausted: false,
    cpuPerRequest: [],
  } as LoadSeries])) as Record<SystemName, LoadSeries>;
  const listenMs: Record<string, number[]> = {};

  for (let round = 0; round < S.rounds; round++) {
    const order = SYSTEMS.map((_, i) => SYSTEMS[(i + round) % SYSTEMS.length]);
    const rates: Partial<Record<SystemName, number>> = {};
    for (const name of order) {
      const dir = join(tmp, `round${round}-${name}`);
      await Deno.mkdir(dir);
      const db = join(dir, "whd.db");
      const running = await startSystem(name, dir, db);
      (listenMs[name] ??= []).push(running.listenMs);
      const rss = rssSampler(running.proc.pid);
      const series = load[name];
      try {
        const warm = await runWrk({
          port: running.port,
          path: PATH,
          scriptFile: warmScript,
          seconds: S.warmSeconds,
          signal: abort.signal,
        });
        const cpuBefore = treeCpuSeconds(running.proc.pid);
        const result = await runWrk({
          port: running.port,
          path: PATH,
          scriptFile: script,
          seconds: S.seconds,
          signal: abort.signal,
        });
        const cpuAfter = treeCpuSeconds(running.proc.pid);
        series.cpuPerRequest.push(cpuPerRequest(cpuBefore, cpuAfter, result.requests));
        series.rounds.push(result);
        rates[name] = result.perSecond;
        const peak = rss.stop();
        if (peak.peakBytes > series.peakRss) {
          series.peakRss = peak.peakBytes;
          series.peakProcesses = peak.processes;
        }
        await procs.stop(running.proc);
        let handled = "";
        if (name !== "bare" && name !== "webhook") {
          // Handler runs in the warm-up and the round: ingest first keeps them few under load.
          if (name === "whd") {
            handled = `, handler runs ${await countDone(db)}, ${await ingestFirstChanges(
              join(dir, "whd.log"),
            )}`;
          }
          // Each pool has its own id prefix: its rows are checked against its own run's 2xx.
          const main = await countRows(db, "evt_bench_");
          const warmRows = await countRows(db, "evt_warm_");
          series.stored.push({ rows: main, acked: result.ok });
          series.stored.push({ rows: warmRows, acked: warm.ok });
          if (result.requests > poolSize || warm.requests > warmSize) series.poolExhausted = true;
          series.bytesPerEvent = (await fileBytes(db)) / (main + warmRows);
        }
        log(
          `round ${round + 1}/${S.rounds} ${name}: ${Math.round(result.perSecond)} req/s, p99 ${
            result.p99Ms.toFixed(1)
          } ms, non-2xx ${result.non2xx}, socket errors ${result.socketErrors}, wrk CPU ${
            Math.round(result.wrkCpu * 100)
          }%, peak RSS ${Math.round(peak.peakBytes / 1e6)} MB${handled}`,
        );
      } finally {
        rss.stop();
        await procs.stop(running.proc);
        await settleDisk(dir);
      }
    }
    for (const name of SYSTEMS) {
      load[name].vsBare.push(rates[name]! / rates.bare!);
      load[name].vsWebhook.push(rates[name]! / rates.webhook!);
    }
  }

  log("spawn to listening with the example handlers");
  const spawnMs: number[] = [];
  for (let i = 0; i < S.spawnTries; i++) {
    const dir = join(tmp, `spawn${i}`);
    await Deno.mkdir(dir);
    const config = await writeWhdConfig(
      dir,
      join(dir, "whd.db"),
      join(REPO, "handlers"),
      `  github:
    webhooks:
      default:
        path: /webhooks/github
        signing_secret_env: BENCH_GITHUB_SECRET
`,
    );
    const running = await startWhd(procs, `spawn${i}`, config, {
      dir,
      secret: SECRET,
      handlers: true,
      env: { BENCH_GITHUB_SECRET: "bench-github-secret" },
    });
    spawnMs.push(running.listenMs);
    await procs.stop(running.proc);
  }

  log(`seeding ${S.backlog} and ${S.bigBacklog} pending events`);
  const seedDir = join(tmp, "seed");
  await Deno.mkdir(seedDir);
  const seed = join(seedDir, "backlog.db");
  const bigSeed = join(seedDir, "big.db");
  await seedBacklog(seed, S.backlog, Date.now());
  await seedBacklog(bigSeed, S.bigBacklog, Date.now());

  const drain = async (name: string, db: string, backlog: number, handler: "ts" | "exec") => {
    const dir = join(tmp, name);
    await Deno.mkdir(dir);
    const big = backlog === S.bigBacklog;
    log(`drain ${name}: ${backlog} pending, ${handler} handler`);
    const result: Drain = await measureDrain({
      procs,
      dir,
      dbFile: big ? db : await copyDb(db, dir),
      backlog,
      handler,
      secret: SECRET,
      firstK: S.firstK,
      stopAtFirstK: big,
      capSeconds: big ? S.bigCapSeconds : S.drainCapSeconds,
    });
    log(
      `drain ${name}: ${result.done} done in ${result.seconds.toFixed(1)} s (${
        Math.round(result.perSecond)
      }/s), first ${S.firstK}: ${Math.round(result.firstKPerSecond)}/s, peak RSS ${
        Math.round(result.peakRss / 1e6)
      } MB (${result.peakProcesses} proc), another handler host started ${result.extraHostWaitsMs.length}×${
        result.extraHostWaitsMs.length > 0
          ? ` (after waits of ${result.extraHostWaitsMs.join(", ")} ms)`
          : ""
      }`,
    );
    return result;
  };
  const drainTs = await drain("drain-ts", seed, S.backlog, "ts");
  const drainExec = await drain("drain-exec", seed, S.backlog, "exec");
  const drainBig = await drain("drain-big", bigSeed, S.bigBacklog, "ts");

  const secondary: [string, string][] = [];
  const bare = load.bare.rounds;
  const fastestOther = Math.max(
    ...SYSTEMS.filter((s) => s !== "bare").map((s) =>
      median(load[s].rounds.map((w) => w.perSecond))
    ),
  );
  const bestBare = Math.max(...bare.map((w) => w.perSecond));
  secondary.push([
    "wrk is not the bottleneck",
    `wrk reached ${Math.round(bestBare).toLocaleString("en-US")} req/s against bare Deno.serve ` +
    `(wrk CPU ${Math.round(median(bare.map((w) => w.wrkCpu)) * 100)}%), ` +
    `${(bestBare / fastestOther).toFixed(1)}× the fastest other system`,
  ]);
  for (const name of ["whd", "whd-no-handlers"] as const) {
    secondary.push([
      `bytes stored per event (${name}, db + WAL / rows)`,
      `${Math.round(load[name].bytesPerEvent ?? NaN).toLocaleString("en-US")} B (body ${
        Math.round(bodyBytes)
      } B)`,
    ]);
  }
  secondary.push([
    "whd vs the design floor (median of per-round ratios)",
    `with handlers ${
      median(load.whd.vsBare.map((r, i) => r / load.floor.vsBare[i])).toFixed(2)
    }×, --no-handlers ${
      median(load["whd-no-handlers"].vsBare.map((r, i) => r / load.floor.vsBare[i])).toFixed(2)
    }× of the floor's req/s`,
  ]);
  for (const name of ["floor", "whd", "whd-no-handlers"] as const) {
    const cpu = load[name].cpuPerRequest;
    const role = (r: CpuRole) => Math.round(median(cpu.map((c) => c[r])));
    const all = Math.round(median(cpu.map((c) => Object.values(c).reduce((a, b) => a + b, 0))));
    const wrk = Math.round(
      median(load[name].rounds.map((w) => w.wrkCpu * S.seconds * 1e6 / Math.max(1, w.requests))),
    );
    secondary.push([
      `CPU per request (${name}, µs, median over rounds)`,
      `${all} in all: main thread ${role("main")}, store worker ${role("worker")}, ` +
      `V8 GC threads ${role("gc")}, runtime threads ${role("runtime")}, handler hosts ` +
      `${role("children")} (wrk ${wrk})`,
    ]);
  }
  secondary.push([
    "spawn to listening (median over rounds)",
    SYSTEMS.map((s) => `${s} ${Math.round(median(listenMs[s]))} ms`).join(", ") +
    ` (whd: trivial TS handler; with example handlers ${
      spawnMs.map((m) => Math.round(m)).join(", ")
    } ms)`,
  ]);
  secondary.push([
    `drain ${drainExec.backlog.toLocaleString("en-US")}, exec handler: first ${S.firstK}`,
    `${Math.round(drainExec.firstKPerSecond)} events/s; peak RSS ${
      Math.round(drainExec.peakRss / 1e6)
    } MB (${drainExec.peakProcesses} proc)`,
  ]);
  secondary.push([
    `${drainBig.backlog.toLocaleString("en-US")} backlog, TS handler`,
    `${drainBig.done.toLocaleString("en-US")} done in ${drainBig.seconds.toFixed(1)} s (${
      Math.round(drainBig.perSecond)
    }/s from listening)`,
  ]);
  for (const [what, d] of [["TS", drainTs], ["exec", drainExec], ["TS, big", drainBig]] as const) {
    secondary.push([
      `rows by status when the drain stopped (${what}, ${d.backlog.toLocaleString("en-US")})`,
      Object.entries(d.statuses).map(([k, v]) => `${k} ${v.toLocaleString("en-US")}`).join(", "),
    ]);
  }
  if (!smoke) secondary.push(...await verifierMicroBench());

  machine["load avg at end"] = await loadAverage();
  const report = renderReport({
    smoke,
    machine,
    settings:
      `Settings: ${S.rounds} interleaved rounds × ${S.seconds} s per system (after a ${S.warmSeconds} s warm-up with other ids), ` +
      `\`wrk -t1 -c64\`, ${Math.round(bodyBytes)} B signed Stripe events, unique ids (pool of ${
        poolSize.toLocaleString("en-US")
      }), every server on loopback in its own process; whd with default config (log level info, ` +
      `handlers.concurrency 4, durable local libSQL file, tolerance_seconds 86400 so the pre-signed pool stays valid).`,
    load,
    drainTs,
    drainExec,
    drainBig,
    spawnMs,
    secondary,
  });
  console.log(report);
  if (!smoke) {
    await Deno.mkdir(new URL("results/", import.meta.url), { recursive: true });
    const latest = new URL("results/latest.md", import.meta.url);
    await Deno.writeTextFile(latest, report);
    // Formatted as `deno fmt` wants it, so the repository's check passes with the new report.
    await new Deno.Command(Deno.execPath(), {
      args: ["fmt", "--quiet", latest.pathname],
      stdout: "null",
      stderr: "inherit",
    }).output();
    log("written to bench/results/latest.md");
  }

  const failures: string[] = [];
  for (const name of SYSTEMS) {
    const silent = load[name].rounds.filter((w) => w.ok === 0).length;
    if (silent > 0) failures.push(`${name} answered no 2xx in ${silent} round(s)`);
  }
  for (const name of ["floor", "whd", "whd-no-handlers"] as const) {
    if (!noLoss(load[name])) {
      failures.push(`${name}: stored rows < 2xx ${JSON.stringify(load[name].stored)}`);
    }
  }
  for (const d of [drainTs, drainExec, drainBig]) {
    const rows = Object.values(d.statuses).reduce((a, b) => a + b, 0);
    if (rows !== d.backlog) failures.push(`backlog of ${d.backlog}: ${rows} rows after the drain`);
    if (d.done === 0) failures.push(`backlog of ${d.backlog}: no handler run finished`);
    if (d.statuses.dead) failures.push(`backlog of ${d.backlog}: ${d.statuses.dead} dead events`);
  }
  return failures;
}

function startSystem(name: SystemName, dir: string, db: string): Promise<Running> {
  switch (name) {
    case "bare":
      return startBare(procs, dir);
    case "floor":
      return startFloor(procs, dir, db, SECRET);
    case "webhook":
      return startWebhook(procs, dir, SECRET);
    default:
      return (async () => {
        const handlers = await writeHandlers(dir, "ts");
        const config = await writeWhdConfig(dir, db, handlers);
        return await startWhd(procs, name, config, {
          dir,
          secret: SECRET,
          handlers: name === "whd",
        });
      })();
  }
}

/**
 * Removes a finished load round's files (a store of up to ~300 MB) and waits for `sync`, so the
 * next system does not share the disk with this one's write-back: the kernel writes dirty pages
 * back up to 30 s later, and a store's `fsync` then waits behind them. Deleting the files first
 * drops their pages that are not written yet.
 */
async function settleDisk(dir: string): Promise<void> {
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await new Deno.Command("sync").output().catch(() => {});
}

async function describeMachine(): Promise<Record<string, string>> {
  const text = async (cmd: string, args: string[]) => {
    const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output()
      .catch(() => undefined);
    return out ? new TextDecoder().decode(out.stdout).trim().split("\n")[0] : "?";
  };
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  const commit = await text("git", ["-C", REPO, "describe", "--always", "--dirty"]);
  return {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    cpus: `${navigator.hardwareConcurrency} × ${
      /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown CPU"
    }`,
    "load avg at start": (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(
      " ",
    ),
    deno: Deno.version.deno,
    wrk: (await text("wrk", ["-v"])).split(" ")[1] ?? "?",
    webhook: (await text("webhook", ["-version"])).replace("webhook version ", ""),
    "whd commit": commit,
  };
}

/** The 1, 5 and 15 minute load averages: how busy the machine was besides the bench. */
async function loadAverage(): Promise<string> {
  return (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
}

/** Runs `bench/providers_bench.ts` in its own process; its lines become secondary rows. */
async function verifierMicroBench(): Promise<[string, string][]> {
  log("verifier micro-bench");
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `--config=${REPO}deno.json`, `${REPO}bench/providers_bench.ts`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    return [["verifier micro-bench", `failed: ${new TextDecoder().decode(output.stderr).trim()}`]];
  }
  return new TextDecoder().decode(output.stdout).trim().split("\n").map((line) => {
    const at = line.lastIndexOf(": ");
    return [`verify: ${line.slice(0, at)}`, line.slice(at + 2)] as [string, string];
  });
}

/** How often ingest first limited and let go of handler runs in a whd log (its info lines). */
async function ingestFirstChanges(logFile: string): Promise<string> {
  const lines = await logLines(logFile, "ingest first: handler runs");
  const count = (text: string) => lines.filter((line) => line.includes(text)).length;
  return `ingest first: limited ${count("runs limited")}×, let go ${count("runs back")}× (${
    count("the CPUs calmed down")
  } on calm CPUs)`;
}
