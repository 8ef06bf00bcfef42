/**
 * The `events:` allowlist rule, shared by deliveries, backfill and endpoint sync.
 *
 * An entry matches a type when it is equal to it, when it ends in `*` and the type starts with
 * what precedes the `*` (`customer.subscription.*`, `*`), or when the type is the entry
 * followed by `.` and more (so GitHub's `pull_request` matches `pull_request.opened`).
 *
 * @example
 * ```ts
 * import { matchesEvents } from "./event_filter.ts";
 * matchesEvents("customer.subscription.created", ["customer.subscription.*"]); // true
 * matchesEvents("push", undefined); // true: no list accepts everything
 * ```
 * @module
 */

/** True when `type` passes the `events` allowlist (an absent list accepts all). */
export function matchesEvents(type: string, events: readonly string[] | undefined): boolean {
  if (!events) return true;
  return events.some((entry) =>
    entry.endsWith("*")
      ? type.startsWith(entry.slice(0, -1))
      : type === entry || type.startsWith(entry + ".")
  );
}
