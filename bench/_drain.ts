/**
 * Dispatch speed: `whd serve` started on a database that already holds a pending backlog, timed
 * from listening until every event is done (or a time cap), polling the file with `sqlite3`.
 *
 * @module
 */
import { join } from "node:path";
import { countByStatus, countDone } from "./_db.ts";
import { logLines, type Procs, rssSampler, sleep } from "./_procs.ts";
import type { Drain } from "./_report.ts";
import { startWhd, writeHandlers, writeWhdConfig } from "./_systems.ts";

/** Options of {@linkcode measureDrain}. */
export interface DrainOptions {
  procs: Procs;
  /** An empty directory for this run. */
  dir: string;
  /** A seeded database file (used in place; copy it first to keep the seed). */
  dbFile: string;
  backlog: number;
  handler: "ts" | "exec";
  secret: string;
  /** The claim-cost window: events/s from the first done event to the first `firstK`. */
  firstK: number;
  /** Stop once `firstK` are done instead of draining everything. */
  stopAtFirstK?: boolean;
  capSeconds: number;
  pollMs?: number;
}

/** Starts whd on the backlog and measures how fast it drains. */
export async function measureDrain(o: DrainOptions): Promise<Drain> {
  const handlers = await writeHandlers(o.dir, o.handler);
  const config = await writeWhdConfig(o.dir, o.dbFile, handlers);
  const whd = await startWhd(o.procs, `drain-${o.handler}-${o.backlog}`, config, {
    dir: o.dir,
    secret: o.secret,
    handlers: true,
  });
  const listenedAt = performance.now();
  const rss = rssSampler(whd.proc.pid);
  const target = o.stopAtFirstK ? o.firstK : o.backlog;
  let first: { t: number; done: number } | undefined;
  let firstKAt: { t: number; done: number } | undefined;
  let done = 0;
  let now = listenedAt;
  let peakRss = 0;
  let peakProcesses = 0;
  try {
    while (true) {
      done = await countDone(o.dbFile);
      now = performance.now();
      if (first === undefined && done > 0) first = { t: now, done };
      if (firstKAt === undefined && done >= o.firstK) firstKAt = { t: now, done };
      if (done >= target || (now - listenedAt) / 1000 >= o.capSeconds) break;
      if (whd.proc.exited()) {
        throw new Error(`whd exited while draining (log: ${whd.proc.logFile})`);
      }
      await sleep(o.pollMs ?? 100);
    }
  } finally {
    const peak = rss.stop();
    await o.procs.stop(whd.proc);
    peakRss = peak.peakBytes;
    peakProcesses = peak.processes;
  }
  const end = firstKAt ?? { t: now, done };
  const seconds = (now - listenedAt) / 1000;
  return {
    backlog: o.backlog,
    done,
    seconds,
    perSecond: done / seconds,
    firstK: o.firstK,
    firstKPerSecond: first && end.t > first.t
      ? (end.done - first.done) / ((end.t - first.t) / 1000)
      : 0,
    capped: done < target,
    peakRss,
    peakProcesses,
    extraHostWaitsMs: await _extraHostWaits(whd.proc.logFile),
    statuses: await countByStatus(o.dbFile),
  };
}

/** The `waited_ms` of whd's "starting another handler host" log lines. */
async function _extraHostWaits(logFile: string): Promise<number[]> {
  return (await logLines(logFile, "starting another handler host"))
    .map((line) => Number(/waited_ms=(\d+)/.exec(line)?.[1] ?? NaN));
}

/** Copies a database file (and its WAL, if any) to `dir/whd.db`; returns the new path. */
export async function copyDb(dbFile: string, dir: string): Promise<string> {
  const to = join(dir, "whd.db");
  await Deno.copyFile(dbFile, to);
  await Deno.copyFile(`${dbFile}-wal`, `${to}-wal`).catch(() => {});
  return to;
}
