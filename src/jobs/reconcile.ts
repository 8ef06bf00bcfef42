/**
 * Scheduled reconciliation: `whd serve` runs the Stripe backfill (the same code as
 * `whd backfill`) for every provider with a `reconcile:` block, at start and then every
 * `reconcile.every`. A lock in the inbox (`reconcile:<provider>`) makes one process at a time
 * run it when several share a database; after a run the winner keeps the lock for the rest of
 * the period, so the processes together run it about once per period.
 *
 * @example
 * ```ts ignore
 * const scheduler = startReconcile({ config, inbox, clientFor, log, metrics, clock, owner });
 * // … on shutdown:
 * await scheduler.stop();
 * ```
 * @module
 */
import type Stripe from "stripe";
import { type Clock, withTimers } from "../clock.ts";
import type { Config, ProviderConfig, WebhookConfig } from "../config/schema.ts";
import { errorMessage, UserError } from "../errors.ts";
import type { Inbox } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import { backfill, type BackfillOptions } from "./backfill.ts";

const _UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Milliseconds of a duration such as `90s`, `15m`, `1h`, `1d` or `500ms`.
 *
 * @example
 * ```ts
 * import { parseDuration } from "./reconcile.ts";
 * parseDuration("15m"); // 900000
 * ```
 */
export function parseDuration(text: string): number {
  const match = /^([1-9][0-9]*)(ms|s|m|h|d)$/.exec(text);
  if (!match) {
    throw new UserError(`"${text}" is not a duration: write a number and a unit, e.g. 30m or 1h`, {
      exitCode: 2,
    });
  }
  return Number(match[1]) * _UNITS[match[2]];
}

/** One provider's reconciliation, resolved from its `reconcile:` block. */
export interface ReconcilePlan {
  provider: ProviderConfig;
  webhook: WebhookConfig;
  everyMs: number;
  hours: number;
}

/**
 * The plans of every provider with a `reconcile:` block. Throws a UserError for an interval
 * under a second or a webhook that is not there.
 */
export function reconcilePlans(config: Config): ReconcilePlan[] {
  const plans: ReconcilePlan[] = [];
  for (const provider of config.providers) {
    const r = provider.reconcile;
    if (!r || provider.type !== "stripe") continue;
    const where = `providers.${provider.name}.reconcile`;
    const everyMs = parseDuration(r.every);
    if (everyMs < 1_000) {
      throw new UserError(`${where}.every is ${r.every}: use at least 1s`, { exitCode: 2 });
    }
    const named = r.webhook ?? "default";
    const webhook = provider.webhooks.find((w) => w.name === named) ??
      (r.webhook === undefined && provider.webhooks.length === 1
        ? provider.webhooks[0]
        : undefined);
    if (!webhook) {
      throw new UserError(
        `${where}: no webhook "${named}" to store the events under; set ${where}.webhook to one of ${
          provider.webhooks.map((w) => w.name).join(", ")
        }`,
        { exitCode: 2 },
      );
    }
    plans.push({ provider, webhook, everyMs, hours: r.hours });
  }
  return plans;
}

/** How a run ended. `skipped`: another process holds the lock. */
export type ReconcileOutcome = "ok" | "incomplete" | "error" | "skipped";

/** What {@linkcode reconcileOnce} needs. */
export interface ReconcileOptions {
  inbox: Inbox;
  /** The provider's Stripe API client. */
  client: Stripe;
  plan: ReconcilePlan;
  /** This process's lock owner id (unique per process). */
  owner: string;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Called after an event is stored (wakes the dispatcher of this process). */
  onAccepted?: BackfillOptions["onAccepted"];
  /** Lock lease while running, renewed every third of it; default 5 min. */
  leaseMs?: number;
}

/** The lock name of a provider's reconciliation. */
export function reconcileLockName(provider: string): string {
  return `reconcile:${provider}`;
}

/**
 * Runs one reconciliation if this process gets the lock: backfill of the last `hours`, one
 * info line with the result, `whd_reconcile_runs_total` and `whd_backfilled_events_total`.
 * Never throws; a failure is logged and counted as `error`.
 */
export async function reconcileOnce(options: ReconcileOptions): Promise<ReconcileOutcome> {
  const { inbox, plan, owner, log, metrics, clock } = options;
  const provider = plan.provider.name;
  const lock = reconcileLockName(provider);
  const leaseMs = options.leaseMs ?? 300_000;
  const runs = (outcome: ReconcileOutcome) =>
    metrics.inc("whd_reconcile_runs_total", { provider, outcome });
  let held: boolean;
  try {
    held = await inbox.acquireLock(lock, owner, leaseMs, clock.now());
  } catch (error) {
    log.warn("reconcile: could not take the lock; will try next time", {
      provider,
      error: errorMessage(error),
    });
    runs("error");
    return "error";
  }
  if (!held) {
    log.debug("reconcile: another process holds the lock or ran it this period", { provider });
    runs("skipped");
    return "skipped";
  }
  // Renew the lease every third of it while the run lasts.
  const timers = withTimers(clock);
  let cancelRenew = () => {};
  const renew = () => {
    cancelRenew = timers.setTimer(Math.max(1, Math.floor(leaseMs / 3)), () => {
      inbox.acquireLock(lock, owner, leaseMs, clock.now()).catch(() => {});
      renew();
    });
  };
  renew();
  const started = clock.now();
  let outcome: ReconcileOutcome;
  try {
    const report = await backfill({
      inbox,
      client: options.client,
      provider: plan.provider,
      webhook: plan.webhook,
      since: started - plan.hours * 3_600_000,
      clock,
      metrics,
      onAccepted: options.onAccepted,
    });
    outcome = report.complete && report.errors.length === 0 ? "ok" : "incomplete";
    metrics.inc("whd_backfilled_events_total", { provider }, report.new);
    const fields = {
      provider,
      webhook: report.webhook,
      since: report.since,
      until: report.until,
      listed: report.found,
      stored: report.new,
      duplicates: report.alreadyStored,
      skipped: report.skipped,
      errors: report.errors.length,
      ms: clock.now() - started,
    };
    if (outcome === "ok") log.info("reconcile finished", fields);
    else log.warn("reconcile incomplete", { ...fields, error: report.errors[0]?.message });
  } catch (error) {
    outcome = "error";
    log.warn("reconcile failed; will try next time", { provider, error: errorMessage(error) });
  } finally {
    cancelRenew();
  }
  runs(outcome);
  // Keep the lock for the rest of the period: the other processes skip until the next one.
  await inbox.acquireLock(lock, owner, Math.max(0, plan.everyMs - 500), clock.now())
    .catch(() => {});
  return outcome;
}

/** What {@linkcode startReconcile} needs. */
export interface SchedulerOptions extends Omit<ReconcileOptions, "client" | "plan"> {
  plans: readonly ReconcilePlan[];
  /** The Stripe client of a provider (built once per provider, at start). */
  clientFor(provider: ProviderConfig): Stripe;
}

/** A running schedule. */
export interface ReconcileScheduler {
  /** Stops scheduling and waits for a run in progress (at most `graceMs`, default 10 s). */
  stop(graceMs?: number): Promise<void>;
}

/** Runs each plan now and then every `everyMs` (the next run is timed from the last start). */
export function startReconcile(options: SchedulerOptions): ReconcileScheduler {
  const timers = withTimers(options.clock);
  const cancels = new Set<() => void>();
  const running = new Set<Promise<unknown>>();
  let stopped = false;
  const later = (ms: number, fn: () => void) => {
    const cancel = timers.setTimer(ms, () => {
      cancels.delete(cancel);
      fn();
    });
    cancels.add(cancel);
  };
  for (const plan of options.plans) {
    const client = options.clientFor(plan.provider);
    let busy = false;
    const tick = () => {
      if (stopped) return;
      later(plan.everyMs, tick);
      if (busy) return; // the last run is still going: this one is skipped
      busy = true;
      const run = reconcileOnce({ ...options, client, plan }).finally(() => {
        busy = false;
        running.delete(run);
      });
      running.add(run);
    };
    later(0, tick);
  }
  return {
    async stop(graceMs = 10_000) {
      stopped = true;
      for (const cancel of cancels) cancel();
      cancels.clear();
      if (running.size === 0) return;
      let cancel = () => {};
      await Promise.race([
        Promise.allSettled([...running]),
        new Promise<void>((resolve) => cancel = timers.setTimer(graceMs, resolve)),
      ]);
      cancel();
    },
  };
}
