/**
 * Messages between the dispatcher's host pool (`module_runner.ts`) and a handler host process
 * (`handler_host.ts`), one JSON object per line.
 *
 * - Parent → host, on the host's stdin: {@linkcode ToHost} lines.
 * - Host → parent, on the host's stdout: {@linkcode FromHost} lines, each written as
 *   `"\n" + prefix + JSON + "\n"`, where `prefix` is a random string the parent puts in the
 *   host's environment as {@linkcode HOST_PREFIX_ENV} (the host removes it before any handler
 *   runs). The leading newline ends any partial line a handler wrote to stdout itself; every
 *   other stdout line (and every stderr line) is the handler's own output, logged as such.
 * - Before each `done`, the host writes `"\n" + prefix + runId + "\n"` to stderr; the parent
 *   settles a run once it has read both, so stderr output of a run is never attributed to the
 *   next one (stdout and stderr are separate pipes read independently).
 * - A host keeps every module it loaded by hash, and the last `env` it was sent: a run of a
 *   known hash carries no code, and a run with the same env carries none.
 *
 * @module
 */
import type { Event } from "../event.ts";
import type { LogLevel } from "../ops/log.ts";
import type { HandlerReply } from "./handler_reply.ts";

/** Environment variable carrying the per-host protocol line prefix. */
export const HOST_PREFIX_ENV = "WHD_HANDLER_HOST_PREFIX";

/** Where a host builds `ctx.stripe` from; the key never leaves the host otherwise. */
export interface StripeOptions {
  apiKey: string;
  /** e.g. `http://127.0.0.1:12111` for a local fake API. */
  apiBase?: string;
  apiVersion?: string;
}

/** Parent → host. */
export type ToHost =
  | {
    kind: "run";
    runId: number;
    /** Content hash of the handler's bundled code: the host's cache key. */
    hash: string;
    /** Bundled module text; sent only with the first run of `hash` on this host. */
    code?: string;
    event: Event;
    attempt: number;
    /** `ctx.env`; omitted when unchanged since this host's previous run. */
    env?: Record<string, string>;
    stripe?: StripeOptions;
  }
  | { kind: "abort"; runId: number };

/** Host → parent. `runId` -1: not attributable to a run. */
export type FromHost =
  | {
    kind: "log";
    runId: number;
    level: LogLevel;
    message: string;
    fields?: Record<string, unknown>;
  }
  /** Sent once, when the host is up and reads runs. */
  | { kind: "ready" }
  /** The module a run carried code for is imported; the handler starts now. */
  | { kind: "loaded"; runId: number }
  /** `reply`: the `Response` the handler returned, serialized. */
  | { kind: "done"; runId: number; ok: true; reply?: HandlerReply }
  | { kind: "done"; runId: number; ok: false; error: string };
