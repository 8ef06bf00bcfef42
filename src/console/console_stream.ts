/**
 * Live updates for the console (`GET /api/stream`, server-sent events). One watcher serves every
 * open stream: while at least one is open it reads the store's change mark about once a second
 * (one statement, no table read) and, when it moved, the counts, then sends every stream
 * `event: change` with `{ counts, newest }` (a new stream gets the last one at once). Counting
 * reads an index of every row, so the watcher waits at least 20 times as long as the last count
 * took (counting never takes more than 5% of the store's time). Streams are capped; `close()`
 * ends them all, so the admin listener can shut down at once.
 *
 * @example
 * ```ts ignore
 * const hub = new StreamHub({ queries: inbox.console(), clock: systemClock, log });
 * const response = hub.open(); // null when the cap is reached
 * hub.close();
 * ```
 * @module
 */
import type { TimerClock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import type { ConsoleQueries } from "../inbox/console_queries.ts";
import type { EventStatus } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";

/** What one `change` event carries. */
export interface ChangeData {
  counts: Record<EventStatus | "total", number>;
  newest: {
    /** The newest event's receipt time (null: the store is empty). */
    received_at: number | null;
    /** When this process noticed the latest change in the store. */
    updated_at: number;
  };
}

/** Options of {@linkcode StreamHub}. */
export interface StreamHubOptions {
  queries: Pick<ConsoleQueries, "changeMark" | "counts">;
  clock: TimerClock;
  log: Logger;
  /** Most streams open at once (default 16). */
  maxStreams?: number;
  /** How often the store is checked (default 1000 ms). */
  intervalMs?: number;
  /** How often an idle stream gets a comment line, so proxies keep it (default 15000 ms). */
  keepAliveMs?: number;
}

const _encoder = new TextEncoder();

/** The `counts` of a change: per status and the total. */
export function withTotal(
  counts: Record<EventStatus, number>,
): Record<EventStatus | "total", number> {
  return { ...counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
}

/** The open streams and the one watcher behind them. */
export class StreamHub {
  #options: Required<Omit<StreamHubOptions, "queries" | "clock" | "log">>;
  #queries: StreamHubOptions["queries"];
  #clock: TimerClock;
  #log: Logger;
  #streams = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #cancelTimer: (() => void) | undefined;
  #mark: string | undefined;
  #lastSent: string | undefined;
  #lastKeepAlive = 0;
  #waitMs: number;
  #closed = false;

  constructor(options: StreamHubOptions) {
    this.#queries = options.queries;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#options = {
      maxStreams: options.maxStreams ?? 16,
      intervalMs: options.intervalMs ?? 1000,
      keepAliveMs: options.keepAliveMs ?? 15_000,
    };
    this.#waitMs = this.#options.intervalMs;
  }

  /** Streams open now. */
  get size(): number {
    return this.#streams.size;
  }

  /** A new stream's response, or null when `maxStreams` are open (or the hub is closed). */
  open(headers: Record<string, string>): Response | null {
    if (this.#closed || this.#streams.size >= this.#options.maxStreams) return null;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => {
        this.#streams.delete(controller);
        if (this.#streams.size === 0) this.#stop();
      },
    });
    this.#streams.add(controller);
    // The browser retries after 2 s when the connection drops.
    controller.enqueue(_encoder.encode("retry: 2000\n\n"));
    if (this.#lastSent !== undefined) controller.enqueue(_frame(this.#lastSent));
    if (this.#cancelTimer === undefined) this.#schedule(0);
    return new Response(body, {
      headers: {
        ...headers,
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-accel-buffering": "no",
      },
    });
  }

  /** Ends every stream and stops watching; later `open` calls get null. */
  close(): void {
    this.#closed = true;
    this.#stop();
    for (const c of this.#streams) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    this.#streams.clear();
  }

  #stop(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
  }

  #schedule(ms: number): void {
    this.#cancelTimer = this.#clock.setTimer(ms, () => {
      this.#tick().finally(() => {
        if (!this.#closed && this.#streams.size > 0) this.#schedule(this.#waitMs);
        else this.#cancelTimer = undefined;
      });
    });
  }

  /**
   * The store's change mark; where it cannot be read (a libSQL server may refuse the pragma),
   * the counts stand in for it, so a change of status still reaches the page.
   */
  async #readMark(): Promise<{ mark: string | undefined; newestReceivedAt: number | null }> {
    if (this.#markFails) return { mark: undefined, newestReceivedAt: null };
    try {
      return await this.#queries.changeMark();
    } catch (error) {
      this.#markFails = true;
      this.#log.debug("console stream: no change mark; comparing counts", {
        error: errorMessage(error),
      });
      return { mark: undefined, newestReceivedAt: null };
    }
  }

  #markFails = false;

  async #tick(): Promise<void> {
    try {
      const read = await this.#readMark();
      let counts: Record<EventStatus | "total", number> | undefined;
      let mark = read.mark;
      if (mark === undefined) {
        counts = await this.#count();
        mark = JSON.stringify(counts);
      }
      if (mark !== this.#mark || this.#lastSent === undefined) {
        counts ??= await this.#count();
        this.#mark = mark;
        const data: ChangeData = {
          counts,
          newest: { received_at: read.newestReceivedAt, updated_at: this.#clock.now() },
        };
        this.#lastSent = JSON.stringify(data);
        this.#broadcast(_frame(this.#lastSent));
        return;
      }
      if (this.#clock.now() - this.#lastKeepAlive >= this.#options.keepAliveMs) {
        this.#broadcast(_encoder.encode(": keep-alive\n\n"));
      }
    } catch (error) {
      this.#log.debug("console stream: cannot read the store", { error: errorMessage(error) });
    }
  }

  /** The counts; the next check waits at least 20 times as long as they took. */
  async #count(): Promise<Record<EventStatus | "total", number>> {
    const started = performance.now();
    const counts = withTotal(await this.#queries.counts());
    this.#waitMs = Math.max(this.#options.intervalMs, 20 * (performance.now() - started));
    return counts;
  }

  #broadcast(bytes: Uint8Array): void {
    this.#lastKeepAlive = this.#clock.now();
    for (const c of this.#streams) {
      try {
        c.enqueue(bytes);
      } catch {
        this.#streams.delete(c);
      }
    }
  }
}

function _frame(json: string): Uint8Array {
  return _encoder.encode(`event: change\ndata: ${json}\n\n`);
}
