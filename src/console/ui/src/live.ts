/// <reference lib="dom" />
/**
 * Tells the page when something changed: `GET /api/stream` (server-sent `change` events with
 * the counts), and when the stream is refused or unsupported, a poll of `/api/counts` every
 * 2 s instead.
 * @module
 */
import type { Api, Counts } from "./api.ts";

/** How the page hears of changes. */
export type LiveMode = "connecting" | "live" | "polling";

/** What {@linkcode watchChanges} reports. */
export interface LiveListener {
  /** Something changed (or a poll came back): views refetch. */
  change(counts: Counts | undefined): void;
  mode(mode: LiveMode): void;
}

/** The polling period when the stream is not available. */
export const POLL_MS = 2000;

/**
 * Starts listening; returns the function that stops it.
 *
 * @example
 * ```ts ignore
 * const stop = watchChanges(api, { change: () => reload(), mode: (m) => show(m) });
 * ```
 */
export function watchChanges(api: Api, listener: LiveListener): () => void {
  let timer: ReturnType<typeof setInterval> | undefined;
  let source: EventSource | undefined;
  let stopped = false;
  const poll = () => {
    if (timer !== undefined || stopped) return;
    listener.mode("polling");
    const tick = async () => {
      try {
        listener.change(await api.get<Counts>("/api/counts"));
      } catch {
        listener.change(undefined);
      }
    };
    timer = setInterval(tick, POLL_MS);
    void tick();
  };
  if (typeof EventSource === "undefined") {
    poll();
  } else {
    listener.mode("connecting");
    source = new EventSource("/api/stream");
    source.addEventListener("open", () => listener.mode("live"));
    source.addEventListener("change", (message) => {
      let counts: Counts | undefined;
      try {
        counts = JSON.parse((message as MessageEvent<string>).data).counts;
      } catch {
        counts = undefined;
      }
      listener.change(counts);
    });
    source.addEventListener("error", () => {
      // CONNECTING: the browser reconnects by itself. CLOSED: refused (e.g. 429) — poll.
      if (source?.readyState === EventSource.CLOSED) {
        source.close();
        poll();
      } else {
        listener.mode("connecting");
      }
    });
  }
  return () => {
    stopped = true;
    source?.close();
    if (timer !== undefined) clearInterval(timer);
  };
}
