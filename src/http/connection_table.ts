/**
 * The open connections of the listener, each in a phase with a deadline: waiting for its first
 * request's headers (`head`), for the next request on a kept-alive connection (`idle`), for a
 * request's body (`body`), running the request (`busy`, no deadline: handlers have their
 * own timeout), or sending a last answer before the connection closes (`closing`). A periodic `expired(now)` sweep returns those past their deadline; `oldestIdle()`
 * is the connection to give up first when descriptors or connection slots run out.
 *
 * @example
 * ```ts
 * import { ConnectionTable } from "./connection_table.ts";
 * const table = new ConnectionTable<string>({
 *   headMs: 10_000,
 *   idleMs: 5_000,
 *   bodyMs: 30_000,
 *   closingMs: 1_000,
 * });
 * const entry = table.add("conn", 0);   // phase head, deadline 10 000
 * table.enter(entry, "busy", 50);
 * table.enter(entry, "idle", 60);      // deadline 5 060
 * table.expired(6_000);                // [entry]
 * ```
 * @module
 */

/** What a connection is waiting for. */
export type Phase = "head" | "idle" | "body" | "busy" | "closing";

/** The time each waiting phase may last, in milliseconds. */
export interface PhaseTimeouts {
  /** From accept until the first request's headers are complete. */
  headMs: number;
  /** From a response until the next request's headers are complete. */
  idleMs: number;
  /** From a request's headers until its body has been read. */
  bodyMs: number;
  /** From a last answer (`Connection: close`) until the connection must be closed. */
  closingMs: number;
}

/** One connection in the table. */
export interface Entry<T> {
  readonly id: number;
  readonly value: T;
  phase: Phase;
  /** When the current phase times out (ms on the table's clock); Infinity when busy. */
  deadline: number;
  /** When the current phase began. */
  since: number;
}

/** Tracks connections by phase; oldest-waiting first for reaping. */
export class ConnectionTable<T> {
  #next = 1;
  #all = new Map<number, Entry<T>>();
  /** Connections waiting for a request (head or idle), in the order they started waiting. */
  #waiting = new Map<number, Entry<T>>();
  /** How long each phase but `busy` may last. */
  #limits: Record<Exclude<Phase, "busy">, number>;

  /** A table whose phases time out after `timeouts`. */
  constructor(timeouts: PhaseTimeouts) {
    this.#limits = {
      head: timeouts.headMs,
      idle: timeouts.idleMs,
      body: timeouts.bodyMs,
      closing: timeouts.closingMs,
    };
  }

  /** Open connections. */
  get size(): number {
    return this.#all.size;
  }

  /** Connections waiting for a request (head or idle phase). */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Adds a just-accepted connection in phase `head`. */
  add(value: T, now: number): Entry<T> {
    const entry: Entry<T> = { id: this.#next++, value, phase: "head", deadline: 0, since: now };
    this.#all.set(entry.id, entry);
    this.enter(entry, "head", now);
    return entry;
  }

  /** Moves `entry` to `phase` at `now`, restarting its deadline. */
  enter(entry: Entry<T>, phase: Phase, now: number): void {
    entry.phase = phase;
    entry.since = now;
    entry.deadline = phase === "busy" ? Infinity : now + this.#limits[phase];
    this.#waiting.delete(entry.id);
    if (phase === "head" || phase === "idle") {
      if (this.#all.has(entry.id)) this.#waiting.set(entry.id, entry);
    }
  }

  /** Forgets a closed connection. */
  remove(entry: Entry<T>): void {
    this.#all.delete(entry.id);
    this.#waiting.delete(entry.id);
  }

  /**
   * The connection that has waited longest for a request, if it has waited at least
   * `minWaitMs` by `now` (a connection just opened is likely sending its request right now).
   */
  oldestIdle(now: number, minWaitMs = 0): Entry<T> | undefined {
    for (const entry of this.#waiting.values()) {
      return now - entry.since >= minWaitMs ? entry : undefined;
    }
    return undefined;
  }

  /** Connections past their deadline at `now`. */
  expired(now: number): Entry<T>[] {
    const out: Entry<T>[] = [];
    for (const entry of this.#all.values()) if (entry.deadline <= now) out.push(entry);
    return out;
  }

  /** Every open connection. */
  entries(): Entry<T>[] {
    return [...this.#all.values()];
  }
}
