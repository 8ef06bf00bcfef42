/**
 * The inbox backlog as gauges: `whd_inbox_events{status}` and
 * `whd_oldest_pending_age_seconds`. A scrape never waits for the database: it renders the last
 * values read and, when they are older than `maxAgeMs`, starts one refresh for the next scrape
 * (two index range scans, see `Inbox.backlog`). The age is computed at scrape time.
 *
 * @example
 * ```ts ignore
 * const backlog = watchBacklog({ inbox, metrics, clock, log });
 * await backlog.refresh(); // prime it at start
 * ```
 * @module
 */
import type { Clock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import type { Backlog, Inbox } from "../inbox/types.ts";
import type { Logger } from "./log.ts";
import type { Metrics } from "./metrics.ts";

/** What {@linkcode watchBacklog} needs. */
export interface BacklogGaugeOptions {
  inbox: Pick<Inbox, "backlog">;
  metrics: Metrics;
  clock: Clock;
  log: Logger;
  /** Oldest cached values a scrape accepts before starting a refresh; default 5000. */
  maxAgeMs?: number;
}

/** The handle of {@linkcode watchBacklog}. */
export interface BacklogGauges {
  /** Reads the backlog now (at most one read at a time). Never throws. */
  refresh(): Promise<void>;
}

/** Registers the backlog gauges on `metrics`. */
export function watchBacklog(options: BacklogGaugeOptions): BacklogGauges {
  const { inbox, metrics, clock, log } = options;
  const maxAgeMs = options.maxAgeMs ?? 5_000;
  let last: { at: number; backlog: Backlog } | undefined;
  let reading: Promise<void> | undefined;
  let warned = false;

  const refresh = (): Promise<void> => {
    reading ??= (async () => {
      try {
        const backlog = await inbox.backlog();
        last = { at: clock.now(), backlog };
        warned = false;
      } catch (error) {
        if (!warned) {
          log.warn("could not read the inbox backlog for metrics", {
            error: errorMessage(error),
          });
        }
        warned = true;
      } finally {
        reading = undefined;
      }
    })();
    return reading;
  };

  metrics.beforeRender(() => {
    const now = clock.now();
    if (!last || now - last.at >= maxAgeMs) void refresh();
    if (!last) return;
    const { counts, oldestWaitingAt } = last.backlog;
    for (const [status, n] of Object.entries(counts)) {
      metrics.set("whd_inbox_events", { status }, n);
    }
    metrics.set(
      "whd_oldest_pending_age_seconds",
      {},
      oldestWaitingAt === null ? 0 : Math.max(0, (now - oldestWaitingAt) / 1000),
    );
  });
  return { refresh };
}
