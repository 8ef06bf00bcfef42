/**
 * Messages between the dispatcher and a handler worker (`handler_worker.ts`).
 *
 * @module
 */
import type { Event } from "../event.ts";

/** Where a worker builds `ctx.stripe` from; the key never leaves the worker otherwise. */
export interface StripeOptions {
  apiKey: string;
  /** e.g. `http://127.0.0.1:12111` for a local fake API. */
  apiBase?: string;
  apiVersion?: string;
}

/** Main thread → worker. */
export type ToWorker =
  | {
    kind: "run";
    runId: number;
    /** Bundled module text. */
    code: string;
    event: Event;
    attempt: number;
    env: Record<string, string>;
    stripe?: StripeOptions;
  }
  | { kind: "abort"; runId: number };

/** Worker → main thread. */
export type FromWorker =
  | {
    kind: "log";
    runId: number;
    level: "debug" | "info" | "warn" | "error";
    message: string;
    fields?: Record<string, unknown>;
  }
  | { kind: "done"; runId: number; ok: true }
  | { kind: "done"; runId: number; ok: false; error: string };
