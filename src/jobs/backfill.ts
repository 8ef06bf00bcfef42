/**
 * Backfill: fetch the events Stripe created since a time and feed each one through `ingest`
 * exactly like a delivery (source `backfill`; same dedupe, counters and dispatcher wake-up), so
 * an event whd already has is neither stored nor processed twice, and a backfill cut off
 * halfway can simply be run again. Events outside the webhook's `events` or `--types` are not
 * requested from the API and are skipped if listed anyway (a delivery of one would be recorded
 * as ignored; a backfill does not go looking for them).
 *
 * @example
 * ```ts
 * import { backfill } from "./backfill.ts";
 * const report = await backfill({
 *   inbox, client: stripe, provider, webhook, clock: systemClock,
 *   since: Date.now() - 24 * 3_600_000,
 * });
 * console.log(report.found, report.new, report.alreadyStored);
 * ```
 * @module
 */
import type Stripe from "stripe";
import type { Clock } from "../clock.ts";
import { matchesEvents } from "../config/event_filter.ts";
import type { ProviderConfig, WebhookConfig } from "../config/schema.ts";
import { errorMessage } from "../errors.ts";
import { createIngest, type Ingest } from "../ingest.ts";
import type { EventKey, EventStatus, Inbox } from "../inbox/types.ts";
import { Metrics } from "../ops/metrics.ts";
import { listEventsSince, type StripeCallOptions } from "../providers/stripe_api.ts";

/** Inputs of {@linkcode backfill}. */
export interface BackfillOptions {
  inbox: Inbox;
  /** A client from `createStripeClient`. */
  client: Stripe;
  provider: ProviderConfig;
  /** The webhook the events are stored under; its `events` allowlist filters them. */
  webhook: WebhookConfig;
  /** Oldest creation time to fetch, in milliseconds since the epoch. */
  since: number;
  /** Narrows further to these types (`--types`), with the same matching as `events`. */
  types?: readonly string[];
  /** Fetch and classify, but write nothing. */
  dryRun?: boolean;
  /** Re-queue events already stored as failed or dead. */
  retryFailed?: boolean;
  clock: Clock;
  /** Receives the ingest counters (`whd_events_total`, …); default: a registry nobody reads. */
  metrics?: Metrics;
  /** Called after a new event is committed (wakes a dispatcher in the same process). */
  onAccepted?: (key: EventKey) => void;
  /** Called after every page. */
  onProgress?: (progress: BackfillProgress) => void;
  /** Waiting on 429s (tests inject one). */
  sleep?: StripeCallOptions["sleep"];
  /** Events per page, 1–100; default 100. */
  pageSize?: number;
}

/** Progress after a page. */
export interface BackfillProgress {
  page: number;
  found: number;
  new: number;
  alreadyStored: number;
  /** Share of the time window covered so far, 0–1 (events come newest first). */
  fraction: number;
}

/** An already-stored event that is stuck in failed or dead. */
export interface StuckEvent {
  id: string;
  type: string;
  status: EventStatus;
}

/** What a backfill did (or, in a dry run, would do). */
export interface BackfillReport {
  provider: string;
  webhook: string;
  /** ISO time of the window's start and of when listing began. */
  since: string;
  until: string;
  dryRun: boolean;
  /** Pages fetched. */
  pages: number;
  /** Events the API listed. */
  found: number;
  /** Listed but outside the webhook's `events` or `--types`: not stored. */
  skipped: number;
  /** Stored now (dry run: would be). */
  new: number;
  /** Already in the inbox; left alone. */
  alreadyStored: number;
  /** Already stored and stuck in failed or dead. */
  stuck: StuckEvent[];
  /** Stuck events re-queued (dry run: would be), with `retryFailed`. */
  requeued: number;
  /** Events that could not be stored, and a listing failure (no `id`). */
  errors: { id?: string; message: string }[];
  /** True when every page was listed. */
  complete: boolean;
}

const _STUCK: readonly EventStatus[] = ["failed", "dead"];

/**
 * Lists events created since `options.since` and accepts the ones the webhook takes. A failure
 * to list the first page is thrown (a UserError naming the fix); a later one ends the run with
 * `complete: false` and the error in `errors`, keeping what was stored.
 */
export async function backfill(options: BackfillOptions): Promise<BackfillReport> {
  const { provider, webhook, clock } = options;
  const until = clock.now();
  const report: BackfillReport = {
    provider: provider.name,
    webhook: webhook.name,
    since: new Date(options.since).toISOString(),
    until: new Date(until).toISOString(),
    dryRun: !!options.dryRun,
    pages: 0,
    found: 0,
    skipped: 0,
    new: 0,
    alreadyStored: 0,
    stuck: [],
    requeued: 0,
    errors: [],
    complete: false,
  };
  const keep = (type: string) =>
    matchesEvents(type, webhook.events) && matchesEvents(type, options.types);
  const ingest = createIngest({
    inbox: options.inbox,
    metrics: options.metrics ?? new Metrics(),
    onAccepted: options.onAccepted,
  }, webhook);
  const pages = listEventsSince(options.client, provider, {
    since: options.since,
    types: options.types ?? webhook.events,
    pageSize: options.pageSize,
    sleep: options.sleep,
  });
  try {
    for await (const { page, events, last } of pages) {
      report.pages = page;
      const now = clock.now();
      for (const event of events) {
        report.found++;
        if (!keep(event.type)) {
          report.skipped++;
          continue;
        }
        try {
          await _acceptOne(event, ingest, options, report, now);
        } catch (error) {
          report.errors.push({ id: event.id, message: errorMessage(error) });
        }
      }
      // Newest first: the page's last event is the oldest seen so far.
      const oldest = last ? options.since : events[events.length - 1].created * 1000;
      options.onProgress?.({
        page,
        found: report.found,
        new: report.new,
        alreadyStored: report.alreadyStored,
        fraction: until > options.since
          ? Math.min(1, Math.max(0, (until - oldest) / (until - options.since)))
          : 1,
      });
    }
    report.complete = true;
  } catch (error) {
    if (report.pages === 0) throw error;
    report.errors.push({ message: errorMessage(error) });
  }
  return report;
}

async function _acceptOne(
  event: Stripe.Event,
  ingest: Ingest,
  options: BackfillOptions,
  report: BackfillReport,
  now: number,
): Promise<void> {
  const key = { provider: options.provider.name, id: event.id };
  let status: EventStatus | undefined;
  if (options.dryRun) {
    status = (await options.inbox.find(event.id, options.provider.name))[0]?.status;
  } else {
    const result = await ingest({
      id: event.id,
      type: event.type,
      payload: JSON.stringify(event),
      receivedAt: now,
      source: "backfill",
    });
    status = result.duplicate ? result.status : undefined;
  }
  if (status === undefined) {
    report.new++;
    return;
  }
  report.alreadyStored++;
  if (!_STUCK.includes(status)) return;
  report.stuck.push({ id: event.id, type: event.type, status });
  if (!options.retryFailed) return;
  if (options.dryRun) {
    report.requeued++;
  } else {
    report.requeued += (await options.inbox.requeue(key, now)).length;
  }
}
