/**
 * Ingest first: while deliveries are arriving and the machine's CPUs are busy (≥ 75%), handler
 * runs are limited to one at a time, each followed by a rest 29 times as long as it ran
 * (at most 1 s), so the CPU goes to verifying, storing and acknowledging
 * deliveries (what providers time out on and retry) instead of to handlers (which wait in the
 * inbox and lose nothing). When the burst passes — no delivery for `quietMs`, or the CPUs
 * stayed calm for `calmMs` — the configured concurrency comes back and the backlog drains at
 * full speed.
 *
 * Handlers that wait on I/O (an API call, a database) add little CPU: they keep their full
 * concurrency unless the deliveries alone keep the CPUs that busy. Only CPU contention
 * triggers it.
 *
 * The state is re-evaluated lazily, at most every `sampleMs`, whenever the poller asks for its
 * slots; no timers.
 *
 * @example
 * ```ts
 * import { ManualClock } from "../clock.ts";
 * import { createIngestFirst } from "./ingest_first.ts";
 * const clock = new ManualClock();
 * const gate = createIngestFirst({ clock, sampleCpu: () => 0.97 });
 * gate.accepted();
 * clock.advance(300);
 * gate.slots(4); // 1: deliveries are arriving and the CPUs are saturated
 * ```
 * @module
 */
import { cpus } from "node:os";
import type { Clock } from "../clock.ts";
import type { RunGate } from "./poller.ts";

/** The share (0–1) of CPU time the machine spent busy since the previous call; undefined: unknown. */
export type CpuSampler = () => number | undefined;

/** Options of {@linkcode createIngestFirst}. */
export interface IngestFirstOptions {
  clock: Clock;
  /** Default {@linkcode systemCpuSampler}(). */
  sampleCpu?: CpuSampler;
  /** Shortest time between two CPU samples. Default 250. */
  sampleMs?: number;
  /**
   * Busy share from which, with deliveries arriving, runs are limited. Default 0.75: whd busy
   * acknowledging leaves a core partly idle (each delivery waits on the store, the store on the
   * HTTP thread), so on two cores a saturating load measured 70–85% busy, and at 0.9 the limit
   * engaged in some load runs and not in others (handlers then took a fifth of the throughput).
   */
  busyAbove?: number;
  /** Busy share under which the limit is lifted again. Default 0.6. */
  calmBelow?: number;
  /**
   * How long every sample must stay under `calmBelow` before the limit is lifted. Default 1000:
   * a single calm sample in a burst (a stall on the disk, the machine's other tenants) let
   * handlers run at full concurrency in the middle of a load (bench: 722 handler runs in a round
   * instead of ~300, p99 85 ms instead of 15–20).
   */
  calmMs?: number;
  /** The burst is over after this long without a delivery. Default 1000. */
  quietMs?: number;
  /** Called when the limit starts (true) or ends (false), with why. */
  onChange?: (limiting: boolean, why: IngestFirstChange) => void;
}

/**
 * Why the limit started or ended: `busy` (deliveries arriving on CPUs that busy), `calm` (the CPUs
 * stayed below `calmBelow`; `busy` is the last sample), or `quiet` (no delivery for `quietMs`).
 */
export interface IngestFirstChange {
  reason: "busy" | "calm" | "quiet";
  /** The CPU share of the sample behind the change; undefined for `quiet`. */
  busy?: number;
}

/** The ingest-first gate the poller consults (a {@linkcode RunGate}). */
export interface IngestFirst extends RunGate {
  /** Counts a stored delivery (the request path calls it after each accept). */
  accepted(): void;
  /** The runs allowed at once now: 1 while limiting, else `concurrency`. */
  slots(concurrency: number): number;
  /**
   * How long a slot rests after a run of `runMs` before the next: 29× the run while limiting
   * (the one slot runs at most a thirtieth of the time), at most 1 s; else 0.
   */
  rest(runMs: number): number;
  /** True while runs are limited. */
  readonly limiting: boolean;
}

/**
 * The rest after a run, as a multiple of the run, while limiting. At 3× a trivial handler ran
 * ~100–150 events/s during a saturating load and those runs (~0.5 ms of CPU each, in whd, the
 * store worker and the host) cost whd 5–8% of its deliveries a second; at 9× it ran ~45/s and
 * the deliveries got +8%; at 29× it runs ~15/s and the deliveries got another +16% (medians of
 * 4–5 interleaved rounds, higher in each; README "Performance"). The events wait in the inbox
 * and drain at full concurrency once the burst is over.
 */
const _REST_FACTOR = 29;
const _MAX_REST_MS = 1000;

/** Creates the gate; it limits nothing until deliveries arrive on saturated CPUs. */
export function createIngestFirst(options: IngestFirstOptions): IngestFirst {
  const { clock } = options;
  const sampleCpu = options.sampleCpu ?? systemCpuSampler();
  const sampleMs = options.sampleMs ?? 250;
  const busyAbove = options.busyAbove ?? 0.75;
  const calmBelow = options.calmBelow ?? 0.6;
  const quietMs = options.quietMs ?? 1000;
  const calmMs = options.calmMs ?? 1000;
  let lastAcceptAt = -Infinity;
  let lastSampleAt = clock.now();
  let limiting = false;
  /** When the current run of calm samples began (the start of the first one's interval). */
  let calmSince: number | undefined;

  const set = (next: boolean, why: IngestFirstChange) => {
    if (next === limiting) return;
    limiting = next;
    options.onChange?.(next, why);
  };
  const update = () => {
    const now = clock.now();
    if (now - lastAcceptAt >= quietMs) return set(false, { reason: "quiet" }); // no burst
    if (now - lastSampleAt < sampleMs) return;
    const intervalStart = lastSampleAt;
    lastSampleAt = now;
    const busy = sampleCpu();
    if (busy === undefined) return;
    if (busy < calmBelow) {
      calmSince ??= intervalStart;
      if (now - calmSince >= calmMs) set(false, { reason: "calm", busy });
      return;
    }
    calmSince = undefined;
    if (busy >= busyAbove) set(true, { reason: "busy", busy });
  };

  return {
    accepted() {
      lastAcceptAt = clock.now();
    },
    slots(concurrency) {
      update();
      return limiting ? 1 : concurrency;
    },
    rest(runMs) {
      update();
      return limiting ? Math.min(runMs * _REST_FACTOR, _MAX_REST_MS) : 0;
    },
    get limiting() {
      update();
      return limiting;
    },
  };
}

/**
 * A {@linkcode CpuSampler} over every CPU of the machine (`os.cpus()` times: busy is
 * everything but idle). Undefined on the first call and where the times are not available.
 */
export function systemCpuSampler(
  read: () => { busy: number; total: number } | undefined = _readCpus,
): CpuSampler {
  let previous = read();
  return () => {
    const current = read();
    if (!current || !previous) {
      previous = current;
      return undefined;
    }
    const total = current.total - previous.total;
    const busy = current.busy - previous.busy;
    previous = current;
    return total > 0 ? Math.min(1, Math.max(0, busy / total)) : undefined;
  };
}

function _readCpus(): { busy: number; total: number } | undefined {
  try {
    let busy = 0;
    let total = 0;
    for (const { times } of cpus()) {
      const all = times.user + times.nice + times.sys + times.idle + times.irq;
      total += all;
      busy += all - times.idle;
    }
    return total > 0 ? { busy, total } : undefined;
  } catch {
    return undefined;
  }
}
