/**
 * Readiness: whether this whd can take deliveries and run handlers, and if not, why. The
 * admin listener's `/readyz` renders it; the public `/healthz` never consults it (a load
 * balancer's liveness check must not touch the store).
 *
 * @example
 * ```ts
 * import { HandlerState, readiness } from "./health.ts";
 * const handlers = new HandlerState();
 * handlers.loaded();
 * readiness({ store: () => ({ available: true }), handlers });
 * // { ready: true, database: { writable: true }, handlers: { state: "loaded" } }
 * ```
 * @module
 */

/** Why the database is not writable, as `/readyz` names it. */
export type StoreProblem = "locked" | "read-only" | "full" | "io-error" | "unreachable";

/** What the inbox says of itself (`LibsqlInbox.health()`). */
export type StoreHealth =
  | { available: true }
  | { available: false; reason: string; since: number };

/**
 * The kind of store trouble a driver message shows: SQLite's result codes (`SQLITE_BUSY`,
 * `SQLITE_READONLY`, `SQLITE_FULL`, `SQLITE_IOERR`…) or their texts; anything else, a timeout
 * or a dead worker included, is `unreachable`.
 */
export function classifyStoreError(message: string): StoreProblem {
  if (/SQLITE_BUSY|SQLITE_LOCKED|database is locked|database table is locked/i.test(message)) {
    return "locked";
  }
  if (/SQLITE_READONLY|readonly database|read-only/i.test(message)) return "read-only";
  if (/SQLITE_FULL|disk is full|no space left/i.test(message)) return "full";
  // A write the file refused: an immutable or read-only-mounted file (EPERM/EROFS) or a failing
  // disk (EIO). SQLite reports both as SQLITE_IOERR_WRITE.
  if (/SQLITE_IOERR|disk I\/O error/i.test(message)) return "io-error";
  return "unreachable";
}

/** Where the handlers are: loading (bundling) after start, loaded, failed, or off. */
export type HandlerPhase = "loading" | "loaded" | "failed" | "off";

/** The handlers' phase, set by `serve` as the dispatcher starts. */
export class HandlerState {
  #phase: HandlerPhase = "loading";
  #error: string | undefined;

  /** The handlers are loaded: runs can start. */
  loaded(): void {
    this.#phase = "loaded";
    this.#error = undefined;
  }

  /** Loading failed with `error` (already scrubbed). */
  failed(error: string): void {
    this.#phase = "failed";
    this.#error = error;
  }

  /** This process runs no handlers (`--no-handlers`, or a worker that does not): always ready. */
  off(): void {
    this.#phase = "off";
  }

  /** The current phase, and the error when it failed. */
  get(): { state: HandlerPhase; error?: string } {
    return this.#error === undefined
      ? { state: this.#phase }
      : { state: this.#phase, error: this.#error };
  }
}

/** What readiness reads. */
export interface ReadinessSources {
  store(): StoreHealth;
  handlers: HandlerState;
  /** Current time in ms (for `unavailable_ms`). Default `Date.now`. */
  now?: () => number;
}

/** The `/readyz` body. */
export interface Readiness {
  ready: boolean;
  /** One line per reason it is not ready (absent when ready). */
  reasons?: string[];
  database:
    | { writable: true }
    | { writable: false; problem: StoreProblem; error: string; unavailable_ms: number };
  handlers: { state: HandlerPhase; error?: string };
}

/** Reads every source once: ready when the database is writable and the handlers are loaded. */
export function readiness(sources: ReadinessSources): Readiness {
  const now = sources.now ?? Date.now;
  const store = sources.store();
  const handlers = sources.handlers.get();
  const reasons: string[] = [];
  let database: Readiness["database"];
  if (store.available) {
    database = { writable: true };
  } else {
    const problem = classifyStoreError(store.reason);
    database = {
      writable: false,
      problem,
      error: store.reason,
      unavailable_ms: Math.max(0, now() - store.since),
    };
    reasons.push(`database not writable: ${problem}`);
  }
  if (handlers.state === "loading") reasons.push("handlers not loaded yet");
  if (handlers.state === "failed") reasons.push("handlers failed to load");
  const ready = reasons.length === 0;
  return ready ? { ready, database, handlers } : { ready, reasons, database, handlers };
}
