/**
 * The dispatcher: wires the parts that run stored events — the live registry
 * (`registry_watch.ts`), the poller that claims batches (`poller.ts`), the runners behind one
 * interface (`runner.ts`), the pure outcome decision (`decide.ts`) and the sync run
 * (`sync_run.ts`) — and records each outcome: done, failed (retried with backoff at
 * `next_attempt_at`), dead after `handlers.max_attempts`, or unhandled when no file matches.
 *
 * - At most `handlers.concurrency` events run at once (sync-mode {@linkcode Dispatcher.runNow}
 *   runs come on top). Module handlers run in handler host processes (`module_runner.ts`),
 *   executables as child processes of their own, so a handler that spins, blocks or exits
 *   never stalls the HTTP server, and one that overstays its timeout is killed.
 * - At least once: an event is done only after its handler succeeded and the outcome was
 *   committed. Outcomes are recorded while the next runs go on; a crash before the commit
 *   leaves the event leased, and it runs again once the lease has expired.
 * - The lease is `timeout_ms + abortGraceMs + margin` (see {@linkcode leaseMarginMs}).
 * - An event whose handler file fails to load is released to wait `loadRetryMs`, not failed.
 * - `start()` resolves once the handlers are loaded; runs (sync ones too) wait for that.
 *   With `handlers.watch`, a change rebuilds the registry, and new runs use the new code.
 *   Unhandled events that a new file now matches are re-queued.
 * - `stop(graceMs)` takes no new work, lets running handlers finish within `graceMs`, then
 *   stops them and releases their events (pending again, the attempt not counted).
 *
 * @example
 * ```ts ignore
 * const dispatcher = createDispatcher({ config, inbox, log, metrics, clock: systemClock });
 * await dispatcher.start();
 * dispatcher.notify(); // after each inbox.accept of an async webhook
 * const { ok } = await dispatcher.runNow({ provider: "stripe", id: "evt_1" }); // sync mode
 * await dispatcher.stop(config.handlers.shutdown_grace_ms);
 * ```
 * @module
 */
import { type Clock, sleep, systemClock, withTimers } from "../clock.ts";
import type { Config } from "../config/schema.ts";
import type { Event } from "../event.ts";
import { errorMessage } from "../errors.ts";
import { type EventKey, eventKeyString, type Inbox, type StoredEvent } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import type { Bundler } from "./bundler.ts";
import { decide, type RetryPolicy, type RunReport } from "./decide.ts";
import { displayPath } from "./discovery.ts";
import type { StripeOptions } from "./host_protocol.ts";
import { createHostPool } from "./module_runner.ts";
import {
  type CpuSampler,
  createIngestFirst,
  type IngestFirst,
  type IngestFirstChange,
} from "./ingest_first.ts";
import { createPoller } from "./poller.ts";
import type { HandlerRegistry, LoadedHandler } from "./registry.ts";
import { createRegistryWatch } from "./registry_watch.ts";
import { createExecRunner, createModuleRunner, type Runner } from "./runner.ts";
import { type RunNowResult, runSync } from "./sync_run.ts";
import { createRecorder, type RunRecord } from "./outcomes.ts";
import { outputTail } from "./output_tail.ts";
import { fromReply } from "./handler_reply.ts";
import { ATTEMPT_OUTPUT_BYTES } from "../inbox/attempts.ts";

export type { RunNowResult } from "./sync_run.ts";

/** Dependencies and knobs of {@linkcode createDispatcher}. */
export interface DispatcherOptions {
  config: Pick<Config, "handlers" | "providers">;
  inbox: Inbox;
  log: Logger;
  metrics: Metrics;
  /** Time and timers; a plain `Clock` gets the real timers. Default the system clock. */
  clock?: Clock;
  /** Lease owner name; default `<hostname>:<pid>:<random>`. */
  owner?: string;
  /** Jitter source for backoff; default `Math.random`. */
  random?: () => number;
  /** `ctx.env` and the source of API keys; default `Deno.env.toObject()`, read at each (re)load. */
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
  /** CPU busy share for ingest first. Default: the machine's (`os.cpus()`). */
  sampleCpu?: CpuSampler;
}

/** A running dispatcher. */
export interface Dispatcher {
  /** Loads the handlers (logging load errors), starts watching and polling. */
  start(): Promise<void>;
  /** Stops taking work; waits up to `graceMs` (default `handlers.shutdown_grace_ms`), then releases. */
  stop(graceMs?: number): Promise<void>;
  /** Wakes the poller now (handlers changed, or an event became runnable). */
  notify(): void;
  /** An async delivery was stored: wakes the poller and counts it for ingest first. */
  accepted(): void;
  /** Sync mode: leases this event and runs its handler now, waiting for the recorded outcome. */
  runNow(key: EventKey): Promise<RunNowResult>;
  /** Rebuilds the registry from disk. */
  reload(): Promise<HandlerRegistry>;
  /** The current handlers (empty until `start` or `reload`). */
  readonly registry: HandlerRegistry;
  /** Handlers running now. */
  readonly running: number;
}

interface _Active {
  cancel: AbortController;
  /** Resolves when the handler has finished (its outcome may still be recording). */
  ran: Promise<void>;
  /** The recorded outcome. */
  result: Promise<RunNowResult>;
}

/**
 * The slack a lease has beyond a run's own limit (`timeout_ms` plus the abort grace): it
 * covers what happens outside the timer — waiting in the poller's queue, starting the handler
 * host or process, recording the outcome in the inbox — and small clock differences between
 * hosts sharing one database. That overhead is about constant, so the margin is `timeout_ms`
 * clamped to 2–10 s: the default 30 s timeout gets 10 s, a 2 s timeout gets 2 s, so an event
 * orphaned by a crash is retried after roughly twice its timeout plus a second instead of
 * waiting a fixed 10 s. A claimed event waits in the queue at most half the margin.
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

/** Creates a dispatcher; nothing runs until `start()` (or, for `runNow`, a load). */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { config, inbox, metrics } = options;
  const settings = config.handlers;
  const clock = withTimers(options.clock ?? systemClock);
  const log = options.log.child({ component: "dispatch" });
  const owner = options.owner ??
    `${Deno.hostname()}:${Deno.pid}:${crypto.randomUUID().slice(0, 8)}`;
  const abortGraceMs = options.abortGraceMs ?? 1000;
  const margin = options.leaseMarginMs ?? leaseMarginMs(settings.timeout_ms);
  const leaseMs = settings.timeout_ms + abortGraceMs + margin;
  const policy: RetryPolicy = {
    maxAttempts: settings.max_attempts,
    backoffBaseMs: settings.backoff_base_ms,
    backoffMaxMs: settings.backoff_max_ms,
    loadRetryMs: options.loadRetryMs ?? 5000,
    random: options.random,
  };
  const readEnv = options.env ?? (() => Deno.env.toObject());
  let env = options.env ? undefined : readEnv();
  const stripeFor = (provider: string, vars: Record<string, string>): StripeOptions | undefined => {
    const p = config.providers.find((c) => c.name === provider);
    if (!p || p.type !== "stripe" || !p.api_key_env) return undefined;
    const apiKey = vars[p.api_key_env];
    if (!apiKey) return undefined;
    return { apiKey, apiBase: p.api_base, apiVersion: p.api_version };
  };
  const runners: Record<"module" | "exec", Runner> = {
    module: createModuleRunner({
      pool: createHostPool({ abortGraceMs, maxIdle: settings.concurrency, clock }),
      env: () => env ?? readEnv(),
      stripeFor,
    }),
    exec: createExecRunner({ abortGraceMs, clock }),
  };
  const active = new Map<string, _Active>();
  /** Webhooks with `order_key`: a recorded outcome of theirs may let the next event of its key run. */
  const ordered = new Set(
    config.providers.flatMap((p) =>
      p.webhooks.filter((w) => w.order_key !== undefined).map((w) => `${p.name}\u0000${w.name}`)
    ),
  );
  const ingestFirst: IngestFirst | undefined = settings.ingest_first
    ? createIngestFirst({
      clock,
      sampleCpu: options.sampleCpu,
      onChange: (limiting, why) => {
        metrics.set("whd_handler_slots", {}, limiting ? 1 : settings.concurrency);
        logIngestFirst(log, limiting, why, settings.concurrency);
      },
    })
    : undefined;
  let handlersRunning = 0;
  let recording = 0;
  let started = false;
  let stopping = false;
  let lock: Promise<unknown> = Promise.resolve();
  /** Serializes claim-and-queue between the poller and sync runs. */
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = lock.then(fn);
    lock = next.catch(() => {});
    return next;
  };

  metrics.describe("whd_handlers_running", "Handler runs in progress.");
  metrics.set("whd_handler_slots", {}, settings.concurrency);
  const record = createRecorder({ inbox, owner, log, metrics, clock });

  const live = createRegistryWatch({
    dir: settings.dir,
    bundler: options.bundler,
    log,
    clock,
    debounceMs: options.debounceMs,
    async onReload(next) {
      if (!options.env) env = readEnv();
      if (!started) return;
      log.info("handlers reloaded", { handlers: next.handlers.length, errors: next.errors.length });
      await requeueNewlyHandled(next).catch((error) =>
        log.warn("could not re-queue unhandled events", { error: errorMessage(error) })
      );
      poller.notify();
    },
  });

  const requeueNewlyHandled = async (next: HandlerRegistry) => {
    const unhandled = await inbox.list({ status: "unhandled", limit: 1000 });
    for (const row of unhandled) {
      const handler = next.resolve(row.provider, row.type);
      if (handler && !handler.error) await inbox.requeue(row, clock.now());
    }
  };

  /** A handler's path for logs, worked out once per loaded handler. */
  const displayed = new WeakMap<LoadedHandler, string>();
  const display = (handler: LoadedHandler) => {
    let text = displayed.get(handler);
    if (text === undefined) displayed.set(handler, text = displayPath(handler.path));
    return text;
  };

  /**
   * Looks the event up in the registry and runs its handler, keeping the tail of its output in
   * `output`. Never throws.
   */
  const runHandler = async (
    stored: StoredEvent,
    signal: AbortSignal,
    output: { text: () => string },
  ): Promise<RunReport> => {
    const handler = live.current.resolve(stored.provider, stored.type);
    if (!handler) return { kind: "unhandled" };
    if (handler.error) return { kind: "load_error", error: handler.error };
    const tail = outputTail(
      options.log.child({
        provider: stored.provider,
        event_id: stored.id,
        event_type: stored.type,
        attempt: stored.attempts,
        handler: display(handler),
      }),
      ATTEMPT_OUTPUT_BYTES,
    );
    output.text = tail.text;
    const runLog = tail.log;
    handlersRunning++;
    metrics.set("whd_handlers_running", {}, handlersRunning);
    try {
      const result = await runners[handler.kind].run(_toEvent(stored), {
        handler,
        attempt: stored.attempts,
        timeoutMs: settings.timeout_ms,
        log: runLog,
        signal,
      });
      return { kind: "ran", attempt: stored.attempts, result };
    } catch (error) {
      return {
        kind: "ran",
        attempt: stored.attempts,
        result: { ok: false, error: errorMessage(error) },
      };
    } finally {
      handlersRunning--;
      metrics.set("whd_handlers_running", {}, handlersRunning);
    }
  };

  /** Runs a leased event and records its outcome; tracked in `active` until recorded. */
  const execute = (stored: StoredEvent): _Active => {
    const k = eventKeyString(stored);
    const cancel = new AbortController();
    const ran = Promise.withResolvers<void>();
    const result = (async () => {
      const startedAt = clock.now();
      const output = { text: () => "" };
      let report: RunReport;
      try {
        report = await runHandler(stored, cancel.signal, output);
      } finally {
        ran.resolve();
      }
      recording++;
      try {
        const run: RunRecord | undefined = report.kind === "ran"
          ? { startedAt, result: report.result, output: output.text() }
          : undefined;
        const now = clock.now();
        const outcome = await record(stored, decide(report, policy, now), now - startedAt, run);
        if (ordered.has(`${stored.provider}\u0000${stored.webhook}`)) poller.notify();
        const reply = run?.result.reply;
        return outcome.ok && outcome.status === "done" && reply
          ? { ...outcome, response: fromReply(reply) }
          : outcome;
      } finally {
        recording--;
      }
    })().finally(() => active.delete(k));
    const entry = { cancel, ran: ran.promise, result };
    active.set(k, entry);
    return entry;
  };

  const release = (stored: StoredEvent) => inbox.release(stored, owner, clock.now());

  const poller = createPoller({
    async claim(limit) {
      const claimed = await inbox.claim({ owner, limit, leaseMs, now: clock.now() });
      const fresh: StoredEvent[] = [];
      for (const stored of claimed) {
        if (active.has(eventKeyString(stored))) await release(stored).catch(() => false);
        else fresh.push(stored);
      }
      return fresh;
    },
    release,
    run: (stored) => execute(stored).ran,
    exclusive,
    recording: () => recording,
    concurrency: settings.concurrency,
    gate: ingestFirst,
    maxQueueWaitMs: margin / 2,
    pollMs: options.pollMs ?? 1000,
    clock,
    log,
  });

  let loading: Promise<void> | undefined;
  const ready = () => live.loaded ? Promise.resolve() : (loading ??= live.reload().then(() => {}));

  return {
    get registry() {
      return live.current;
    },
    get running() {
      return handlersRunning;
    },
    notify: () => poller.notify(),
    accepted() {
      ingestFirst?.accepted();
      poller.notify();
    },
    reload: () => live.reload(),
    async start() {
      if (started || stopping) return;
      await ready();
      if (stopping) return;
      if (!live.current.exists) {
        log.warn("handlers directory does not exist; every event will be marked unhandled", {
          dir: settings.dir,
        });
      }
      started = true;
      if (settings.watch && live.current.exists) live.watch();
      poller.start();
    },
    async stop(graceMs = settings.shutdown_grace_ms) {
      stopping = true;
      await poller.stop();
      await live.close();
      const running = [...active.values()];
      if (running.length > 0) {
        await Promise.race([
          Promise.allSettled(running.map((a) => a.ran)),
          sleep(clock, graceMs),
        ]);
        for (const a of active.values()) a.cancel.abort();
        await Promise.allSettled([...active.values()].map((a) => a.result));
      }
      await Promise.all([runners.module.close(), runners.exec.close()]);
    },
    async runNow(key: EventKey): Promise<RunNowResult> {
      await ready();
      const result = await runSync({
        inbox,
        owner,
        leaseMs,
        clock,
        exclusive,
        active: (k) => active.get(eventKeyString(k))?.result,
        take: (k) => poller.take(k),
        execute: (stored) => execute(stored).result,
        stopping: () => stopping,
      }, key);
      // Deliveries that join one run share its Response: each gets its own copy.
      return result.response ? { ...result, response: result.response.clone() } : result;
    },
  };
}

/**
 * One line per change of ingest first (README "Ingest first"): when handler runs are limited to
 * one and when the configured concurrency comes back, with why and the CPU share behind it.
 */
function logIngestFirst(
  log: Logger,
  limiting: boolean,
  why: IngestFirstChange,
  concurrency: number,
): void {
  const cpu = why.busy === undefined ? {} : { cpu_busy: Math.round(why.busy * 100) / 100 };
  if (limiting) {
    log.info("ingest first: handler runs limited to 1 while deliveries arrive on busy CPUs", cpu);
  } else {
    log.info(`ingest first: handler runs back to ${concurrency} at once`, {
      reason: why.reason === "quiet" ? "deliveries stopped" : "the CPUs calmed down",
      ...cpu,
    });
  }
}
