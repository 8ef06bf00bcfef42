/**
 * The poller: claims runnable events from the inbox in batches and keeps up to `concurrency`
 * of them running (fewer while its `gate` says so: see `ingest_first.ts`). Events claimed
 * beyond the free slots wait in a small local queue, sized
 * from how long runs take so that none waits longer than `maxQueueWaitMs` (a queued event is
 * leased: its lease covers the wait, the run and the outcome's commit). An event that did
 * wait too long is given back (`release`) instead of run. A run's slot frees as soon as its
 * handler finished; recording its outcome does not hold up the next claim.
 *
 * It claims when woken ({@linkcode Poller.notify}) with room to take more, when runs free room
 * after a full batch or a wake-up, and every `pollMs` otherwise. Time and timers come from the
 * injected clock.
 *
 * @example
 * ```ts ignore
 * const poller = createPoller({ claim, release, run, exclusive, concurrency: 4,
 *   maxQueueWaitMs: 1000, pollMs: 1000, clock: systemClock, log });
 * poller.start();
 * poller.notify(); // after an event was accepted
 * await poller.stop(); // queued events are released
 * ```
 * @module
 */
import type { TimerClock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import { type EventKey, eventKeyString, type StoredEvent } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";

/** Dependencies and knobs of {@linkcode createPoller}. */
export interface PollerOptions {
  /** Leases up to `limit` runnable events (the inbox's `claim`). */
  claim(limit: number): Promise<StoredEvent[]>;
  /** Gives a leased event back unrun (pending again, the attempt not counted). */
  release(stored: StoredEvent): Promise<unknown>;
  /** Runs one leased event; resolves when its handler has finished (the slot is free). */
  run(stored: StoredEvent): Promise<void>;
  /** Serializes a claim and its queuing with other claimers (sync runs). */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** Outcomes still being recorded; they count against the next batch. Default none. */
  recording?: () => number;
  concurrency: number;
  /** Holds runs below `concurrency` for a while (ingest first). Default: none. */
  gate?: RunGate;
  /** Longest time a claimed event may wait in the local queue before it is released. */
  maxQueueWaitMs: number;
  /** Largest batch claimed at once. Default 256. */
  maxBatch?: number;
  pollMs: number;
  clock: TimerClock;
  log: Logger;
}

/** What may hold runs back: {@linkcode createIngestFirst} in `ingest_first.ts`. */
export interface RunGate {
  /** The runs allowed at once now, given `concurrency`. */
  slots(concurrency: number): number;
  /** How long a slot rests after a run that took `runMs` before it takes the next event. */
  rest(runMs: number): number;
}

/** A running poller. */
export interface Poller {
  /** Starts the claim loop. */
  start(): void;
  /**
   * Wakes it to claim (an event was accepted, or handlers changed); without room, the run that
   * frees a slot wakes it.
   */
  notify(): void;
  /** Removes a queued (claimed, not started) event and returns it, for a sync run. */
  take(key: EventKey): StoredEvent | undefined;
  /** Stops claiming, releases the queued events, and resolves when the loop has ended. */
  stop(): Promise<void>;
  /** Runs started by the poller and not finished. */
  readonly running: number;
  /** Claimed events waiting for a slot. */
  readonly queued: number;
}

interface _Queued {
  stored: StoredEvent;
  at: number;
}

/** How much the average run time moves per finished run (exponential moving average). */
const _EWMA = 0.2;

/** Creates a poller; nothing happens until `start()`. */
export function createPoller(options: PollerOptions): Poller {
  const { clock, concurrency, log } = options;
  const maxBatch = options.maxBatch ?? 256;
  const recording = options.recording ?? (() => 0);
  const slots = () => options.gate?.slots(concurrency) ?? concurrency;
  const resting = new Set<() => void>();
  const queue: _Queued[] = [];
  const releasing = new Set<Promise<unknown>>();
  let running = 0;
  let avgRunMs: number | undefined;
  let stopping = false;
  let more = false;
  let woken = false;
  let wake: (() => void) | undefined;
  let loop: Promise<void> | undefined;

  /** Events worth holding: the slots, plus what the slots get through in half the max wait. */
  const target = () => {
    const now = slots();
    if (avgRunMs === undefined) return now;
    const prefetch = Math.floor(now * (options.maxQueueWaitMs / 2) / Math.max(avgRunMs, 1));
    return now + Math.min(maxBatch, prefetch);
  };

  const signal = () => {
    woken = true;
    wake?.();
  };

  const giveBack = (stored: StoredEvent) => {
    const p = options.release(stored).catch((error) =>
      log.warn("could not release a claimed event", { error: errorMessage(error) })
    );
    releasing.add(p);
    p.finally(() => releasing.delete(p));
  };

  const pump = () => {
    while (!stopping && queue.length > 0 && running < slots()) {
      const { stored, at } = queue.shift()!;
      const startedAt = clock.now();
      if (startedAt - at > options.maxQueueWaitMs) {
        giveBack(stored);
        continue;
      }
      running++;
      options.run(stored).catch(() => {}).finally(() => {
        const ran = clock.now() - startedAt;
        const rest = stopping ? 0 : options.gate?.rest(ran) ?? 0;
        const free = () => {
          running--;
          // The slot's time per event (run and rest) sizes the prefetch.
          const ms = clock.now() - startedAt;
          avgRunMs = avgRunMs === undefined ? ms : avgRunMs + _EWMA * (ms - avgRunMs);
          pump();
          if (more && queue.length + running <= target() / 2) signal();
        };
        if (rest <= 0) return free();
        const cancel = clock.setTimer(rest, () => {
          resting.delete(cancel);
          free();
        });
        resting.add(cancel);
      });
    }
  };

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken || stopping) {
        woken = false;
        return resolve();
      }
      const done = () => {
        cancel();
        wake = undefined;
        woken = false;
        resolve();
      };
      const cancel = clock.setTimer(ms, done);
      wake = done;
    });

  /** Events the poller could take now: its target less those queued, running or recording. */
  const room = () => target() - queue.length - running - recording();

  const claimOnce = async (): Promise<boolean> => {
    const want = room();
    if (want <= 0) return false;
    let claimed = 0;
    await options.exclusive(async () => {
      let batch: StoredEvent[] = [];
      try {
        batch = await options.claim(Math.min(want, maxBatch));
      } catch (error) {
        log.error("inbox claim failed", { error: errorMessage(error) });
      }
      claimed = batch.length;
      const now = clock.now();
      for (const stored of batch) {
        if (stopping) giveBack(stored);
        else queue.push({ stored, at: now });
      }
    });
    more = claimed > 0 && claimed === Math.min(want, maxBatch);
    pump();
    return more;
  };

  const run = async () => {
    while (!stopping) {
      woken = false;
      const full = await claimOnce();
      if (full && !stopping && queue.length + running < target()) continue;
      await wait(options.pollMs);
    }
  };

  return {
    get running() {
      return running;
    },
    get queued() {
      return queue.length;
    },
    start() {
      loop ??= run();
    },
    notify() {
      more = true;
      // Without room the loop would only wait again, re-arming its timer once per accepted
      // delivery; the run that frees a slot signals instead (`more` is set).
      if (room() > 0) signal();
    },
    take(key: EventKey) {
      const k = eventKeyString(key);
      const i = queue.findIndex((q) => eventKeyString(q.stored) === k);
      return i < 0 ? undefined : queue.splice(i, 1)[0].stored;
    },
    async stop() {
      stopping = true;
      // Resting slots end now: their runs are over.
      for (const cancel of resting) cancel();
      running -= resting.size;
      resting.clear();
      signal();
      await loop;
      for (const { stored } of queue.splice(0)) giveBack(stored);
      await Promise.all([...releasing]);
    },
  };
}
