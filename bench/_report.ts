/**
 * Turns the bench's measurements into markdown: the machine, one table of the load rounds, one
 * of the targets from issue 9 (met / not met), and a small table of secondary figures.
 *
 * @module
 */
import type { CpuRole } from "./_procs.ts";
import { LABELS, type SystemName, SYSTEMS } from "./_systems.ts";
import type { WrkResult } from "./_wrk.ts";

/** Everything one system did over the load rounds. */
export interface LoadSeries {
  rounds: WrkResult[];
  /** Its req/s over the bare baseline's, one per round (taken within the round). */
  vsBare: number[];
  /** Its req/s over adnanh/webhook's, one per round. */
  vsWebhook: number[];
  /** Peak resident memory of its process tree over all rounds (bytes) and how many processes. */
  peakRss: number;
  peakProcesses: number;
  /** For whd: per wrk run (warm-up and measured), rows with that run's ids and its 2xx. */
  stored: { rows: number; acked: number }[];
  /** For whd: true when a round sent more requests than the pool holds (ids repeated). */
  poolExhausted: boolean;
  /** For whd: bytes of database + WAL per stored row, after the last round. */
  bytesPerEvent?: number;
  /** CPU µs per request of its process tree by role, one per measured run (reported for whd). */
  cpuPerRequest: Record<CpuRole, number>[];
}

/** A drain measurement. */
export interface Drain {
  backlog: number;
  /** Events done when it stopped (the backlog, unless the time cap hit). */
  done: number;
  /** Seconds from listening until `done` events were done. */
  seconds: number;
  /** `done / seconds`. */
  perSecond: number;
  /** Events/s between the first done event and the first `firstK` (claim cost). */
  firstKPerSecond: number;
  firstK: number;
  capped: boolean;
  peakRss: number;
  /** Processes in whd's tree when its RSS peaked (whd and the handler hosts it had started). */
  peakProcesses: number;
  /** How long a run had waited each time whd started another handler host (its log lines). */
  extraHostWaitsMs: number[];
  /** Rows per status after whd stopped (all rows: nothing may be missing). */
  statuses: Record<string, number>;
}

/** All the figures of one run. */
export interface Report {
  smoke: boolean;
  machine: Record<string, string>;
  settings: string;
  load: Record<SystemName, LoadSeries>;
  drainTs: Drain;
  drainExec: Drain;
  drainBig: Drain;
  spawnMs: number[];
  /** Best req/s wrk reached against the bare server, and wrk's CPU then. */
  secondary: [string, string][];
}

/** The median of `values` (NaN for none). */
export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const int = (n: number) => Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "–";
const ms = (n: number) => Number.isFinite(n) ? `${n < 10 ? n.toFixed(1) : Math.round(n)} ms` : "–";
const ratio = (n: number) => Number.isFinite(n) ? `${n.toFixed(3)}×` : "–";
const mb = (bytes: number) => `${Math.round(bytes / 1e6)} MB`;
const mark = (ok: boolean) => ok ? "met" : "**not met**";

/** Whether every 2xx of every round of `series` has a stored row. */
export function noLoss(series: LoadSeries): boolean {
  return !series.poolExhausted && series.stored.every((s) => s.rows >= s.acked);
}

/** The whole report as markdown. */
export function renderReport(r: Report): string {
  const out: string[] = [];
  out.push(`### whd benchmark${r.smoke ? " (smoke: tiny durations, figures meaningless)" : ""}`);
  out.push("");
  out.push(
    Object.entries(r.machine).map(([k, v]) => `${k}: ${v}`).join(" · "),
  );
  out.push("");
  out.push(r.settings);
  out.push("");
  out.push(
    "| system | req/s | × bare | × webhook | p50 | p99 | non-2xx / socket errors | stored ≥ 2xx | peak RSS | wrk CPU |",
  );
  out.push("|---|---|---|---|---|---|---|---|---|---|");
  for (const name of SYSTEMS) {
    const s = r.load[name];
    const nonOk = s.rounds.reduce((n, w) => n + w.non2xx, 0);
    const socket = s.rounds.reduce((n, w) => n + w.socketErrors, 0);
    const stored = s.stored.length > 0
      ? `${noLoss(s) ? "yes" : "**NO**"} (${int(sum(s.stored.map((x) => x.rows)))} rows / ${
        int(sum(s.stored.map((x) => x.acked)))
      } 2xx)${s.poolExhausted ? " pool exhausted" : ""}`
      : "n/a (no store)";
    out.push(
      `| ${LABELS[name]} | ${int(median(s.rounds.map((w) => w.perSecond)))} | ${
        ratio(median(s.vsBare))
      } | ${ratio(median(s.vsWebhook))} | ${ms(median(s.rounds.map((w) => w.p50Ms)))} | ${
        ms(median(s.rounds.map((w) => w.p99Ms)))
      } | ${int(nonOk)} / ${int(socket)} | ${stored} | ${
        mb(s.peakRss)
      } (${s.peakProcesses} proc) | ${Math.round(median(s.rounds.map((w) => w.wrkCpu)) * 100)}% |`,
    );
  }
  out.push("");
  out.push(
    "Medians over rounds; × columns are the median of per-round ratios. wrk CPU is wrk's " +
      "user+sys time over wall time (100% = one core): below 100% against whd, wrk was waiting " +
      "for the server, not the other way round. Stored counts the rows carrying each wrk run's " +
      "ids (warm-ups included) against that run's 2xx; rows may exceed the 2xx by requests in " +
      "flight when wrk stopped (at most one per connection).",
  );
  out.push("");

  const whd = r.load.whd;
  const nonOk = whd.rounds.reduce((n, w) => n + w.non2xx + w.socketErrors, 0);
  const claimRatio = r.drainTs.firstKPerSecond / r.drainBig.firstKPerSecond;
  const rows: [string, string, string, boolean][] = [
    ["whd with handlers vs bare", ratio(median(whd.vsBare)), "≥ 0.15×", median(whd.vsBare) >= 0.15],
    [
      "whd with handlers vs adnanh/webhook",
      ratio(median(whd.vsWebhook)),
      "≥ 1.5×",
      median(whd.vsWebhook) >= 1.5,
    ],
    [
      "whd with handlers p99 (64 connections)",
      ms(median(whd.rounds.map((w) => w.p99Ms))),
      "≤ 25 ms",
      median(whd.rounds.map((w) => w.p99Ms)) <= 25,
    ],
    ["whd with handlers non-2xx + socket errors", int(nonOk), "0", nonOk === 0],
    [
      "every 2xx stored (both whd modes)",
      noLoss(whd) && noLoss(r.load["whd-no-handlers"]) ? "yes" : "no",
      "yes",
      noLoss(whd) && noLoss(r.load["whd-no-handlers"]),
    ],
    [
      `drain ${int(r.drainTs.backlog)} backlog, trivial TS handler`,
      `${int(r.drainTs.perSecond)} events/s (${r.drainTs.seconds.toFixed(1)} s${
        r.drainTs.capped ? `, cap hit at ${int(r.drainTs.done)}` : ""
      })`,
      "≥ 2,000 events/s",
      !r.drainTs.capped && r.drainTs.perSecond >= 2000,
    ],
    [
      `drain ${int(r.drainExec.backlog)} backlog, \`exit 0\` executable`,
      `${int(r.drainExec.perSecond)} events/s (${r.drainExec.seconds.toFixed(1)} s${
        r.drainExec.capped ? `, cap hit at ${int(r.drainExec.done)}` : ""
      })`,
      "≥ 500 events/s",
      !r.drainExec.capped && r.drainExec.perSecond >= 500,
    ],
    [
      `claim cost: first ${int(r.drainTs.firstK)} events, ${int(r.drainTs.backlog)} vs ${
        int(r.drainBig.backlog)
      } backlog`,
      `${int(r.drainTs.firstKPerSecond)} vs ${int(r.drainBig.firstKPerSecond)} events/s (${
        claimRatio.toFixed(2)
      }×)${r.drainBig.capped ? `, cap hit at ${int(r.drainBig.done)}` : ""}`,
      "within 1.5×",
      claimRatio <= 1.5 && claimRatio >= 1 / 1.5,
    ],
    [
      "spawn to listening, example handlers",
      `${ms(median(r.spawnMs))} (median of ${r.spawnMs.length})`,
      "≤ 500 ms",
      median(r.spawnMs) <= 500,
    ],
    [
      "peak RSS whd + handler hosts (load rounds; TS drain)",
      `${mb(whd.peakRss)} (${whd.peakProcesses} proc); ${
        mb(r.drainTs.peakRss)
      } (${r.drainTs.peakProcesses} proc)`,
      "≤ 300 MB",
      Math.max(whd.peakRss, r.drainTs.peakRss) <= 300e6,
    ],
  ];
  out.push("| target (issue 9) | measured | target | |");
  out.push("|---|---|---|---|");
  for (const [what, measured, target, ok] of rows) {
    out.push(`| ${what} | ${measured} | ${target} | ${mark(ok)} |`);
  }
  out.push("");
  out.push("| secondary | |");
  out.push("|---|---|");
  for (const [what, value] of r.secondary) out.push(`| ${what} | ${value} |`);
  out.push("");
  return out.join("\n");
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}
