/**
 * A small closed-loop HTTP load generator for the benchmarks: `connections` workers each send
 * requests back to back for `seconds`; returns requests per second and status counts.
 * @module
 */

/** One request to send: built per call so bodies/ids can vary. */
export type MakeRequest = (i: number) => { url: string; init: RequestInit };

/** Result of {@linkcode load}. */
export interface LoadResult {
  requests: number;
  perSecond: number;
  statuses: Record<number, number>;
}

/** Runs the load and reports throughput. */
export async function load(
  make: MakeRequest,
  connections: number,
  seconds: number,
): Promise<LoadResult> {
  const statuses: Record<number, number> = {};
  let requests = 0;
  let counter = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < deadline) {
      const { url, init } = make(counter++);
      const response = await fetch(url, init);
      await response.body?.cancel();
      statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      requests++;
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  return { requests, perSecond: requests / elapsed, statuses };
}
