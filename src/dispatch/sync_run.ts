/**
 * The sync run (`mode: sync` webhooks): lease one event and run its handler now, waiting for
 * the outcome, without ever running it twice at once — it joins a run this process already
 * has going, takes it from the poller's queue when the poller claimed it, and otherwise
 * leases it with `claimOne` under the same lock the poller claims under. An event leased by
 * another process is waited for (checked every 50 ms on the clock) until the lease time.
 *
 * @example
 * ```ts ignore
 * const result = await runSync(deps, { provider: "stripe", id: "evt_1" });
 * if (!result.ok) console.log(result.status, result.error);
 * ```
 * @module
 */
import { sleep, type TimerClock } from "../clock.ts";
import type { EventKey, EventStatus, Inbox, StoredEvent } from "../inbox/types.ts";

/** Outcome of a sync run. */
export interface RunNowResult {
  /** True when the event is done (or needs no handler: unhandled, ignored). */
  ok: boolean;
  /** Status after the call; `missing` when no such event is stored. */
  status: EventStatus | "missing";
  error?: string;
  /** The `Response` the handler returned on this run (sync webhooks send it as the reply). */
  response?: Response;
}

/** What {@linkcode runSync} works with. */
export interface SyncRunDeps {
  inbox: Pick<Inbox, "find" | "claimOne">;
  owner: string;
  leaseMs: number;
  clock: TimerClock;
  /** The lock the poller claims under. */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  /** The outcome of this event's run in this process, when one is going. */
  active(key: EventKey): Promise<RunNowResult> | undefined;
  /** The event, when the poller has claimed it and not started it (removed from its queue). */
  take(key: EventKey): StoredEvent | undefined;
  /** Runs a leased event to its recorded outcome. */
  execute(stored: StoredEvent): Promise<RunNowResult>;
  stopping(): boolean;
}

/** One look at an event: a run to wait for, a final answer, or its status. */
interface _Step {
  wait?: Promise<RunNowResult>;
  result?: RunNowResult;
  status?: EventStatus;
}

/** Runs the event's handler now (or joins its run) and resolves with the recorded outcome. */
export async function runSync(deps: SyncRunDeps, key: EventKey): Promise<RunNowResult> {
  const { inbox, clock } = deps;
  const deadline = clock.now() + deps.leaseMs;
  while (true) {
    if (deps.stopping()) return { ok: false, status: "pending", error: "whd is shutting down" };
    const step = await deps.exclusive(async (): Promise<_Step> => {
      const mine = deps.active(key);
      if (mine) return { wait: mine };
      const queued = deps.take(key);
      if (queued) return { wait: deps.execute(queued) };
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
      const stored = await inbox.claimOne(key, {
        owner: deps.owner,
        leaseMs: deps.leaseMs,
        now: clock.now(),
      });
      return stored ? { wait: deps.execute(stored) } : { status: row.status };
    });
    if (step.wait) return await step.wait;
    if (step.result) return step.result;
    if (clock.now() > deadline) {
      return { ok: false, status: step.status!, error: "event is being processed elsewhere" };
    }
    // Leased by another process: wait for it to settle.
    await sleep(clock, 50);
  }
}
