/**
 * The throughput chart's buckets with the settled ones remembered: a bucket that ended long
 * enough ago (every run that started in it has been recorded) never changes, so only the recent
 * buckets are counted again when the chart refreshes. The store then reads the last minutes of
 * receipts and runs per refresh, not the whole hour or day.
 *
 * @example
 * ```ts ignore
 * const throughput = new ThroughputCache(inbox.console(), { settleMs: 90_000 });
 * const buckets = await throughput.read(from, 60_000, 60, Date.now());
 * ```
 * @module
 */
import type { ConsoleQueries, ThroughputBucket } from "../inbox/console_queries.ts";

/** Settled buckets of the ranges the console shows, by bucket size and start. */
export class ThroughputCache {
  #queries: Pick<ConsoleQueries, "throughput">;
  #settleMs: number;
  #settled = new Map<number, Map<number, ThroughputBucket>>();

  /**
   * `settleMs`: how long after a bucket ends a run that started in it may still be recorded
   * (the handlers' timeout and the lease margin); default 5 minutes.
   */
  constructor(queries: Pick<ConsoleQueries, "throughput">, options: { settleMs?: number } = {}) {
    this.#queries = queries;
    this.#settleMs = options.settleMs ?? 300_000;
  }

  /** `count` buckets of `bucketMs` from `from`, oldest first; counts only unsettled ones. */
  async read(
    from: number,
    bucketMs: number,
    count: number,
    now: number,
  ): Promise<ThroughputBucket[]> {
    let settled = this.#settled.get(bucketMs);
    if (settled === undefined) this.#settled.set(bucketMs, settled = new Map());
    for (const t of settled.keys()) if (t < from) settled.delete(t);
    const out: ThroughputBucket[] = [];
    while (out.length < count && settled.has(from + out.length * bucketMs)) {
      out.push(settled.get(from + out.length * bucketMs)!);
    }
    if (out.length === count) return out;
    const fresh = await this.#queries.throughput(
      from + out.length * bucketMs,
      bucketMs,
      count - out.length,
    );
    for (const bucket of fresh) {
      if (bucket.t + bucketMs + this.#settleMs <= now) settled.set(bucket.t, bucket);
      out.push(bucket);
    }
    return out;
  }
}
