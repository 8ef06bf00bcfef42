/**
 * Token-bucket rate limiting with bounded memory, driven by an injectable clock.
 *
 * Each key has a bucket of `burst` tokens that refills continuously at
 * `requestsPerMinute / 60` tokens per second; a request takes one token or is refused with the
 * seconds until one is there. No timers: buckets are refilled lazily when touched.
 *
 * Memory: buckets are kept in least-recently-used order. A bucket that has refilled to full
 * is indistinguishable from a new one, so each new key drops a few such buckets from the idle
 * end at no cost to accuracy; `maxKeys` caps the count outright by dropping the least recently
 * used bucket (which, if not yet full, forgets that key's debt — the price of a hard bound).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "./rate_limit.ts";
 * import { systemClock } from "../clock.ts";
 * const limiter = new RateLimiter({ requestsPerMinute: 60, burst: 10, clock: systemClock });
 * const verdict = limiter.take("203.0.113.7");
 * if (!verdict.ok) console.log(`retry in ${verdict.retryAfterSeconds}s`);
 * ```
 * @module
 */

import type { Clock } from "../clock.ts";

/**
 * The bucket size when `burst_limit` is not set: one minute's worth of requests (at least 1).
 *
 * @example
 * ```ts
 * import { defaultBurst } from "./rate_limit.ts";
 * defaultBurst(600); // 600
 * defaultBurst(0.5); // 1
 * ```
 */
export function defaultBurst(requestsPerMinute: number): number {
  return Math.max(1, Math.floor(requestsPerMinute));
}

/** Options of {@linkcode RateLimiter}. */
export interface RateLimiterOptions {
  /** Sustained rate; may be fractional (0.5 = one request every two minutes). */
  requestsPerMinute: number;
  /** Bucket capacity: requests accepted at once. Default: `requestsPerMinute`, at least 1. */
  burst?: number;
  /** Time source (tests pass a `ManualClock`). */
  clock: Clock;
  /** Most buckets kept at once; the least recently used goes first. Default 10 000. */
  maxKeys?: number;
}

/** Result of {@linkcode RateLimiter.take}. */
export type TakeResult = { ok: true } | { ok: false; retryAfterSeconds: number };

/** Full buckets dropped from the idle end per new key at most (keeps each call O(1)). */
const _SWEEP_PER_CALL = 4;
/** Tolerance for floating-point refill arithmetic. */
const _EPSILON = 1e-9;

interface _Bucket {
  tokens: number;
  /** Clock time of the last refill, ms. */
  at: number;
}

/** A set of token buckets keyed by string (a route, or a client address). */
export class RateLimiter {
  /** Bucket capacity. */
  readonly burst: number;
  /** Refill rate, requests per minute. */
  readonly requestsPerMinute: number;
  /** Hard cap on buckets kept. */
  readonly maxKeys: number;
  readonly #clock: Clock;
  /** Insertion order = least recently used first. */
  readonly #buckets = new Map<string, _Bucket>();

  constructor(options: RateLimiterOptions) {
    const { requestsPerMinute, clock } = options;
    if (!(requestsPerMinute > 0) || !Number.isFinite(requestsPerMinute)) {
      throw new RangeError(`requestsPerMinute must be a positive number, got ${requestsPerMinute}`);
    }
    const burst = options.burst ?? defaultBurst(requestsPerMinute);
    if (!Number.isInteger(burst) || burst < 1) {
      throw new RangeError(`burst must be a positive integer, got ${burst}`);
    }
    const maxKeys = options.maxKeys ?? 10_000;
    if (!Number.isInteger(maxKeys) || maxKeys < 1) {
      throw new RangeError(`maxKeys must be a positive integer, got ${maxKeys}`);
    }
    this.requestsPerMinute = requestsPerMinute;
    this.burst = burst;
    this.maxKeys = maxKeys;
    this.#clock = clock;
  }

  /** Number of buckets held (keys seen recently whose bucket is not known to be full). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Takes one token from `key`'s bucket, or says how many seconds until one is available. */
  take(key: string): TakeResult {
    const now = this.#clock.now();
    const buckets = this.#buckets;
    let bucket = buckets.get(key);
    let tokens: number;
    if (bucket === undefined) {
      // Only a new key grows the map, so that is when room is made.
      this.#sweep(now);
      if (buckets.size >= this.maxKeys) buckets.delete(buckets.keys().next().value!);
      tokens = this.burst;
      bucket = { tokens, at: now };
    } else {
      tokens = this.#refill(bucket, now);
      buckets.delete(key); // re-inserted below: the most recently used goes last
    }
    buckets.set(key, bucket);

    bucket.at = now;
    if (tokens >= 1 - _EPSILON) {
      bucket.tokens = Math.max(0, tokens - 1);
      return { ok: true };
    }
    bucket.tokens = tokens;
    const waitMs = ((1 - tokens) * 60_000) / this.requestsPerMinute;
    return { ok: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000 - _EPSILON)) };
  }

  /** Tokens in `bucket` at `now` (capped at `burst`; a clock going back adds nothing). */
  #refill(bucket: _Bucket, now: number): number {
    const elapsed = now > bucket.at ? now - bucket.at : 0;
    const tokens = bucket.tokens + (elapsed * this.requestsPerMinute) / 60_000;
    return tokens >= this.burst - _EPSILON ? this.burst : tokens;
  }

  /** Drops up to a few full buckets from the least recently used end. */
  #sweep(now: number): void {
    const buckets = this.#buckets;
    for (let i = 0; i < _SWEEP_PER_CALL; i++) {
      const oldest = buckets.entries().next();
      if (oldest.done) return;
      const [key, bucket] = oldest.value;
      if (this.#refill(bucket, now) < this.burst) return;
      buckets.delete(key);
    }
  }
}
