/**
 * Accept throughput of the libSQL inbox: group commit against one transaction per accept.
 *
 * Both sides use the same code and file settings (WAL, synchronous=FULL, fresh file in a temp
 * dir); the baseline is the inbox opened with `maxBatch: 1`, so every accept is its own
 * transaction and its own fsync. Two loads: a burst of N accepts issued at once, and 64
 * concurrent callers each accepting one event at a time (like 64 HTTP connections). Each
 * measurement is the median of 3 rounds, sides alternating.
 *
 * Run: `deno run -A bench/inbox_accept_bench.ts [N]`
 *
 * @module
 */
import type { IncomingEvent } from "../src/event.ts";
import { openInbox } from "../src/inbox/libsql_inbox.ts";

const N = Number(Deno.args[0] ?? 2000);
const CALLERS = 64;
const ROUNDS = 3;
const PAYLOAD = JSON.stringify({ object: "event", data: { pad: "x".repeat(1500) } });

function event(i: number): IncomingEvent {
  return {
    id: `evt_${i}`,
    provider: "stripe",
    webhook: "payments",
    type: "charge.succeeded",
    payload: PAYLOAD,
    receivedAt: Date.now(),
    source: "delivery",
  };
}

type Load = "burst" | "callers";

/** Accepts/second for one run on a fresh database; also the transactions used. */
async function run(load: Load, maxBatch: number): Promise<{ rate: number; txs: number }> {
  const dir = await Deno.makeTempDir({ prefix: "whd_bench_" });
  const inbox = await openInbox({ url: `file:${dir}/whd.db`, maxBatch });
  try {
    const start = performance.now();
    if (load === "burst") {
      await Promise.all(Array.from({ length: N }, (_, i) => inbox.accept(event(i))));
    } else {
      let next = 0;
      await Promise.all(Array.from({ length: CALLERS }, async () => {
        while (next < N) await inbox.accept(event(next++));
      }));
    }
    const seconds = (performance.now() - start) / 1000;
    const counts = await inbox.counts();
    if (counts.pending !== N) throw new Error(`stored ${counts.pending} of ${N}`);
    return { rate: N / seconds, txs: inbox.stats().acceptTransactions };
  } finally {
    inbox.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

for (const load of ["burst", "callers"] as const) {
  const group: number[] = [];
  const base: number[] = [];
  let groupTxs = 0;
  for (let round = 0; round < ROUNDS; round++) {
    base.push((await run(load, 1)).rate);
    const g = await run(load, 256);
    group.push(g.rate);
    groupTxs = g.txs;
  }
  const b = median(base);
  const g = median(group);
  const label = load === "burst" ? `${N} at once` : `${CALLERS} callers, ${N} total`;
  console.log(
    `inbox accept, one transaction each (${label}): ${b.toFixed(0)} accepts/s (1.00× baseline)`,
  );
  console.log(
    `inbox accept, group commit (${label}): ${g.toFixed(0)} accepts/s (${
      (g / b).toFixed(2)
    }× baseline) [${groupTxs} transactions for ${N} accepts]`,
  );
}
