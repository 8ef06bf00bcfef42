/**
 * The dispatcher: leases stored events from the inbox, runs the handler each resolves to,
 * and records the outcome — done, failed (retried with backoff at `next_attempt_at`), dead
 * after `handlers.max_attempts`, or unhandled when no file matches.
 *
 * - At most `handlers.concurrency` events run at once (sync-mode {@linkcode Dispatcher.runNow}
 *   runs come on top). Module handlers run in handler host processes (`module_runner.ts`),
 *   executables as child processes of their own, so a handler that spins, blocks or exits
 *   never stalls the HTTP server, and one that overstays its timeout is killed.
 * - The lease is `timeout_ms + abortGraceMs + margin` (see {@linkcode leaseMarginMs}): a run
 *   that died with the process (kill -9) is claimed again once the lease has expired. A
 *   completed event never runs again unless replayed.
 * - An event whose handler file fails to load is released to wait `loadRetryMs`, not failed.
 * - The handlers directory is watched (`handlers.watch`); a change rebuilds the registry, and
 *   new runs use the new code. Unhandled events that a new file now matches are re-queued.
 * - `stop(graceMs)` takes no new work, lets running handlers finish within `graceMs`, then
 *   stops them and releases their events (pending again, the attempt not counted).
 *
 * @example
 * ```ts ignore
 * const dispatcher = createDispatcher({ config, inbox, log, metrics, clock: systemClock });
 * await dispatcher.start();
 * // after each inbox.accept of an async webhook:
 * dispatcher.notify();
 * // sync-mode webhook: run before answering
 * const { ok } = await dispatcher.runNow({ provider: "stripe", id: "evt_1" });
 * await dispatcher.stop(config.handlers.shutdown_grace_ms);
 * ```
 * @module
 */
import { type Clock, systemClock } from "../clock.ts";
import type { Config } from "../config/schema.ts";
import type { Event } from "../event.ts";
import { errorMessage } from "../errors.ts";
import {
  type EventKey,
  eventKeyString,
  type EventStatus,
  type Inbox,
  type StoredEvent,
} from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import { type Bundler, createBundler } from "./bundler.ts";
import { displayPath } from "./discovery.ts";
import { runExecutable } from "./exec_runner.ts";
import { createHostPool, type RunResult } from "./module_runner.ts";
import { type HandlerRegistry, type LoadedHandler, loadRegistry } from "./registry.ts";
import { backoffDelay } from "./retry.ts";
import type { StripeOptions } from "./host_protocol.ts";

/** Dependencies and knobs of {@linkcode createDispatcher}. */
export interface DispatcherOptions {
  config: Pick<Config, "handlers" | "providers">;
  inbox: Inbox;
  log: Logger;
  metrics: Metrics;
  clock?: Clock;
  /** Lease owner name; default `<hostname>:<pid>:<random>`. */
  owner?: string;
  /** Jitter source for backoff; default `Math.random`. */
  random?: () => number;
  /** `ctx.env` and the source of API keys; default `Deno.env.toObject()` at each run. */
  env?: () => Record<string, string>;
  /** How often the inbox is polled when not notified. Default 1000 ms. */
  pollMs?: number;
  /** How long an event whose handler fails to load waits before it is looked at again. Default 5000 ms. */
  loadRetryMs?: number;
  /** How long a handler has to honour its aborted signal before it is killed. Default 1000 ms. */
  abortGraceMs?: number;
  /** Lease = `timeout_ms + abortGraceMs + leaseMarginMs`. Default {@linkcode leaseMarginMs}. */
  leaseMarginMs?: number;
  /** Watch debounce. Default 150 ms. */
  debounceMs?: number;
  bundler?: Bundler;
}

/** Outcome of {@linkcode Dispatcher.runNow}. */
export interface RunNowResult {
  /** True when the event is done (or needs no handler: unhandled, ignored). */
  ok: boolean;
  /** Status after the call; `missing` when no such event is stored. */
  status: EventStatus | "missing";
  error?: string;
}

/** A running dispatcher. */
export interface Dispatcher {
  /** Loads the handlers (logging load errors), starts watching and polling. */
  start(): Promise<void>;
  /** Stops taking work; waits up to `graceMs` (default `handlers.shutdown_grace_ms`), then releases. */
  stop(graceMs?: number): Promise<void>;
  /** Wakes the poller now (call after accepting an event). */
  notify(): void;
  /** Sync mode: leases this event and runs its handler now, waiting for the result. */
  runNow(key: EventKey): Promise<RunNowResult>;
  /** Rebuilds the registry from disk. */
  reload(): Promise<HandlerRegistry>;
  /** The current handlers (empty until `start` or `reload`). */
  readonly registry: HandlerRegistry;
  /** Events running now. */
  readonly running: number;
}

interface _Active {
  promise: Promise<RunNowResult>;
  cancel: AbortController;
}

/** One look at an event by `runNow`: a run to wait for, a final answer, or its status. */
interface _RunNowStep {
  wait?: Promise<RunNowResult>;
  result?: RunNowResult;
  status?: EventStatus;
}

const _EMPTY: HandlerRegistry = {
  dir: "",
  exists: false,
  handlers: [],
  errors: [],
  resolve: () => undefined,
};

/**
 * The slack a lease has beyond a run's own limit (`timeout_ms` plus the abort grace): it
 * covers what happens outside the timer — starting the handler host or process, recording the
 * outcome in the inbox — and small clock differences between hosts sharing one database.
 * That overhead is about constant, so the margin is `timeout_ms` clamped to 2–10 s: the
 * default 30 s timeout gets 10 s, a 2 s timeout gets 2 s, so an event orphaned by a crash is
 * retried after roughly twice its timeout plus a second instead of waiting a fixed 10 s.
 *
 * @example
 * ```ts
 * import { leaseMarginMs } from "./dispatcher.ts";
 * leaseMarginMs(30_000); // 10_000
 * leaseMarginMs(1_000); // 2_000
 * ```
 */
export function leaseMarginMs(timeoutMs: number): number {
  return Math.min(10_000, Math.max(2_000, timeoutMs));
}

function _toEvent(stored: StoredEvent): Event {
  let payload: unknown;
  try {
    payload = JSON.parse(stored.payload);
  } catch {
    payload = stored.payload;
  }
  return {
    id: stored.id,
    provider: stored.provider,
    webhook: stored.webhook,
    type: stored.type,
    payload,
    received_at: new Date(stored.received_at).toISOString(),
    source: stored.source,
  };
}

/** Creates a dispatcher; nothing runs until `start()`. */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { config, inbox, metrics } = options;
  const settings = config.handlers;
  const clock = options.clock ?? systemClock;
  const log = options.log.child({ component: "dispatch" });
  const owner = options.owner ??
    `${Deno.hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
  const env = options.env ?? (() => Deno.env.toObject());
  const pollMs = options.pollMs ?? 1000;
  const loadRetryMs = options.loadRetryMs ?? 5000;
  const abortGraceMs = options.abortGraceMs ?? 1000;
  const debounceMs = options.debounceMs ?? 150;
  const leaseMs = settings.timeout_ms + abortGraceMs +
    (options.leaseMarginMs ?? leaseMarginMs(settings.timeout_ms));
  const bundler = options.bundler ?? createBundler();
  const pool = createHostPool({ abortGraceMs, maxIdle: settings.concurrency });
  const active = new Map<string, _Active>();
  /** Serializes claim-and-track between the poller and `runNow`. */
  let claimLock: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = claimLock.then(fn);
    claimLock = next.catch(() => {});
    return next;
  };

  let registry = _EMPTY;
  let started = false;
  let stopping = false;
  let loop: Promise<void> | undefined;
  let watcher: Deno.FsWatcher | undefined;
  let reloading: Promise<HandlerRegistry> | undefined;
  let reloadAgain = false;
  let wake: (() => void) | undefined;
  let woken = false;

  metrics.describe("whd_handler_runs_total", "Handler runs by provider and result.");
  metrics.describe("whd_handlers_running", "Handler runs in progress.");

  const notify = () => {
    woken = true;
    wake?.();
  };

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      if (woken) {
        woken = false;
        return resolve();
      }
      const done = () => {
        clearTimeout(timer);
        wake = undefined;
        woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      wake = done;
    });

  const display = (handler: LoadedHandler) => displayPath(handler.path);

  const stripeFor = (provider: string, vars: Record<string, string>): StripeOptions | undefined => {
    const p = config.providers.find((c) => c.name === provider);
    if (!p || p.type !== "stripe" || !p.api_key_env) return undefined;
    const apiKey = vars[p.api_key_env];
    if (!apiKey) return undefined;
    return { apiKey, apiBase: p.api_base, apiVersion: p.api_version };
  };

  const count = (provider: string, result: string) =>
    metrics.inc("whd_handler_runs_total", { provider, result });

  /** Runs one leased event to its next state. Never throws. */
  const runEvent = async (stored: StoredEvent, cancel: AbortSignal): Promise<RunNowResult> => {
    const key = { provider: stored.provider, id: stored.id };
    const handler = registry.resolve(stored.provider, stored.type);
    const fields = {
      provider: stored.provider,
      event_id: stored.id,
      event_type: stored.type,
      attempt: stored.attempts,
    };
    try {
      if (!handler) {
        await inbox.markUnhandled(key, owner, clock.now());
        count(stored.provider, "unhandled");
        log.info("no handler for event type; marked unhandled", fields);
        return { ok: true, status: "unhandled" };
      }
      if (handler.error) {
        await inbox.release(key, owner, clock.now(), clock.now() + loadRetryMs);
        count(stored.provider, "load_error");
        log.warn("handler failed to load; event waits", {
          ...fields,
          handler: display(handler),
          error: handler.error,
        });
        return { ok: false, status: "pending", error: handler.error };
      }
      const runLog = options.log.child({ ...fields, handler: display(handler) });
      const event = _toEvent(stored);
      const vars = env();
      const startedAt = performance.now();
      const result: RunResult = handler.kind === "exec"
        ? await runExecutable({
          path: handler.path,
          event,
          attempt: stored.attempts,
          timeoutMs: settings.timeout_ms,
          log: runLog,
          signal: cancel,
          abortGraceMs,
        })
        : await pool.run({
          code: handler.code!,
          event,
          attempt: stored.attempts,
          env: vars,
          stripe: stripeFor(stored.provider, vars),
          timeoutMs: settings.timeout_ms,
          log: runLog,
          signal: cancel,
        });
      const ms = Math.round(performance.now() - startedAt);
      const now = clock.now();
      if (result.cancelled) {
        await inbox.release(key, owner, now);
        count(stored.provider, "released");
        log.warn("handler stopped by shutdown; event released", fields);
        return { ok: false, status: "pending", error: "stopped by shutdown" };
      }
      if (result.ok) {
        await inbox.complete(key, owner, now);
        count(stored.provider, "done");
        runLog.info("handler done", { ms });
        return { ok: true, status: "done" };
      }
      const error = result.error ?? "handler failed";
      if (stored.attempts >= settings.max_attempts) {
        await inbox.bury(key, owner, error, now);
        count(stored.provider, "dead");
        runLog.error("handler failed; no attempts left, event is dead", { ms, error });
        return { ok: false, status: "dead", error };
      }
      const delay = backoffDelay(stored.attempts, {
        baseMs: settings.backoff_base_ms,
        maxMs: settings.backoff_max_ms,
        random: options.random,
      });
      await inbox.fail(key, owner, error, now + delay, now);
      count(stored.provider, "failed");
      runLog.warn("handler failed; will retry", { ms, error, retry_in_ms: delay });
      return { ok: false, status: "failed", error };
    } catch (error) {
      // The inbox write failed: the lease expires and the event runs again.
      log.error("could not record handler outcome", { ...fields, error: errorMessage(error) });
      return { ok: false, status: "running", error: errorMessage(error) };
    }
  };

  const track = (stored: StoredEvent): _Active => {
    const k = eventKeyString(stored);
    const cancel = new AbortController();
    const entry: _Active = {
      cancel,
      promise: runEvent(stored, cancel.signal).finally(() => {
        active.delete(k);
        metrics.set("whd_handlers_running", {}, active.size);
        notify();
      }),
    };
    active.set(k, entry);
    metrics.set("whd_handlers_running", {}, active.size);
    return entry;
  };

  const pollLoop = async () => {
    while (!stopping) {
      const free = settings.concurrency - active.size;
      let claimed: StoredEvent[] = [];
      if (free > 0) {
        await exclusive(async () => {
          try {
            claimed = await inbox.claim({ owner, limit: free, leaseMs, now: clock.now() });
          } catch (error) {
            log.error("inbox claim failed", { error: errorMessage(error) });
          }
          for (const stored of claimed) {
            if (stopping || active.has(eventKeyString(stored))) {
              await inbox.release(stored, owner, clock.now()).catch(() => false);
            } else {
              track(stored);
            }
          }
        });
        if (claimed.length > 0 && claimed.length === free) continue;
      }
      await sleep(pollMs);
    }
  };

  const requeueNewlyHandled = async (next: HandlerRegistry) => {
    const unhandled = await inbox.list({ status: "unhandled", limit: 1000 });
    for (const row of unhandled) {
      const handler = next.resolve(row.provider, row.type);
      if (handler && !handler.error) await inbox.requeue(row, clock.now());
    }
  };

  const reload = (): Promise<HandlerRegistry> => {
    if (reloading) {
      reloadAgain = true;
      return reloading;
    }
    reloading = (async () => {
      let next: HandlerRegistry;
      do {
        reloadAgain = false;
        const before = registry;
        next = await loadRegistry(settings.dir, bundler);
        registry = next;
        const known = new Set(before.errors.map((e) => `${e.path}\n${e.message}`));
        for (const e of next.errors) {
          if (!known.has(`${e.path}\n${e.message}`)) {
            log.error("handler failed to load", { path: e.path, error: e.message });
          }
        }
        if (started) {
          log.info("handlers reloaded", {
            handlers: next.handlers.length,
            errors: next.errors.length,
          });
          await requeueNewlyHandled(next).catch((error) =>
            log.warn("could not re-queue unhandled events", { error: errorMessage(error) })
          );
        }
      } while (reloadAgain);
      reloading = undefined;
      notify();
      return next;
    })();
    return reloading;
  };

  const watch = () => {
    try {
      watcher = Deno.watchFs(settings.dir, { recursive: true });
    } catch (error) {
      log.warn("cannot watch handlers directory; changes need a restart", {
        dir: settings.dir,
        error: errorMessage(error),
      });
      return;
    }
    (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        for await (const change of watcher!) {
          if (change.kind === "access") continue;
          clearTimeout(timer);
          timer = setTimeout(() => {
            if (!stopping) void reload();
          }, debounceMs);
        }
      } catch { /* closed */ }
      clearTimeout(timer);
    })();
  };

  return {
    get registry() {
      return registry;
    },
    get running() {
      return active.size;
    },
    notify,
    reload,
    async start() {
      if (started) return;
      await reload();
      if (!registry.exists) {
        log.warn("handlers directory does not exist; every event will be marked unhandled", {
          dir: settings.dir,
        });
      }
      started = true;
      if (settings.watch && registry.exists) watch();
      loop = pollLoop();
    },
    async stop(graceMs = settings.shutdown_grace_ms) {
      stopping = true;
      watcher?.close();
      notify();
      await loop;
      await reloading;
      const running = [...active.values()];
      if (running.length > 0) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          Promise.allSettled(running.map((a) => a.promise)),
          new Promise((r) => timer = setTimeout(r, graceMs)),
        ]);
        clearTimeout(timer);
        for (const a of active.values()) a.cancel.abort();
        await Promise.allSettled([...active.values()].map((a) => a.promise));
      }
      await pool.close();
    },
    async runNow(key: EventKey): Promise<RunNowResult> {
      const deadline = Date.now() + leaseMs;
      while (true) {
        if (stopping) return { ok: false, status: "pending", error: "whd is shutting down" };
        // Under the claim lock: a poll cannot have claimed this event without tracking it
        // yet, so `claimOne` (which lets an owner re-lease its own event) never runs it twice.
        const step = await exclusive(async (): Promise<_RunNowStep> => {
          const mine = active.get(eventKeyString(key));
          if (mine) return { wait: mine.promise };
          const [row] = await inbox.find(key.id, key.provider);
          if (!row) return { result: { ok: false, status: "missing", error: "no such event" } };
          switch (row.status) {
            case "done":
            case "unhandled":
            case "ignored":
              return { result: { ok: true, status: row.status } };
            case "dead":
              return { result: { ok: false, status: "dead", error: row.last_error ?? "dead" } };
          }
          const stored = await inbox.claimOne(key, { owner, leaseMs, now: clock.now() });
          return stored ? { wait: track(stored).promise } : { status: row.status };
        });
        if (step.wait) return await step.wait;
        if (step.result) return step.result;
        if (Date.now() > deadline) {
          return { ok: false, status: step.status!, error: "event is being processed elsewhere" };
        }
        // Leased by another process: wait for it to settle.
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}
