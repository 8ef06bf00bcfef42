/**
 * Request guards: small checks that run before signature verification and either let a
 * request through (`null`) or answer it themselves. They never read the body, so a rejected
 * request costs no more than its headers.
 *
 * @example
 * ```ts
 * import { ipGuard, rateLimitGuard, type Guard } from "./guards.ts";
 * import { parseAllowlist } from "../net/ip_allowlist.ts";
 * import { systemClock } from "../clock.ts";
 * const guards: Guard[] = [
 *   ipGuard(parseAllowlist(["github"]), (client) => console.warn("denied", client)),
 *   rateLimitGuard({ requests_per_minute: 120, per_ip: true }, { clock: systemClock }),
 * ];
 * Deno.serve((request, info) => {
 *   for (const guard of guards) {
 *     const rejection = guard(request, info.remoteAddr.hostname);
 *     if (rejection) return rejection;
 *   }
 *   return new Response("ok");
 * });
 * ```
 * @module
 */

import type { Clock } from "../clock.ts";
import type { RateLimitConfig } from "../config/schema.ts";
import type { IpAllowlist } from "../net/ip_allowlist.ts";
import { replies } from "./replies.ts";
import { RateLimiter } from "./rate_limit.ts";

/**
 * A check on a request from `client` (the resolved client address): null lets it through,
 * a Response rejects it.
 */
export type Guard = (request: Request, client: string) => Response | null;

/**
 * Rejects clients outside `list` with 403 `{"error":"forbidden","message":…,"reason":…}`. An empty list
 * lets everyone through. `onReject` is called with the client address (for logs and metrics).
 *
 * @example
 * ```ts
 * import { ipGuard } from "./guards.ts";
 * import { parseAllowlist } from "../net/ip_allowlist.ts";
 * const guard = ipGuard(parseAllowlist(["10.0.0.0/8"]), () => {});
 * guard(new Request("http://x/"), "192.0.2.1")?.status; // 403
 * ```
 */
export function ipGuard(list: IpAllowlist, onReject: (client: string) => void): Guard {
  return (_request, client) => {
    if (list.allows(client)) return null;
    onReject(client);
    return replies.forbidden(client);
  };
}

/** Options of {@linkcode rateLimitGuard}. */
export interface RateLimitGuardOptions {
  /** Time source for the token buckets. */
  clock: Clock;
  /** Called with the client address of each rejected request. */
  onReject?: (client: string) => void;
  /** Most per-client buckets kept (see {@linkcode RateLimiter}); default 10 000. */
  maxKeys?: number;
}

/**
 * Rejects requests over `limit` with 429, a `Retry-After` header and
 * `{"error":"rate_limited","retry_after":N}`. One bucket for every request through this
 * guard, or one per client address when `limit.per_ip` is set.
 *
 * @example
 * ```ts
 * import { rateLimitGuard } from "./guards.ts";
 * import { ManualClock } from "../clock.ts";
 * const guard = rateLimitGuard({ requests_per_minute: 1, per_ip: false }, {
 *   clock: new ManualClock(),
 * });
 * guard(new Request("http://x/"), "192.0.2.1"); // null
 * guard(new Request("http://x/"), "192.0.2.1")?.status; // 429
 * ```
 */
export function rateLimitGuard(limit: RateLimitConfig, options: RateLimitGuardOptions): Guard {
  const limiter = new RateLimiter({
    requestsPerMinute: limit.requests_per_minute,
    burst: limit.burst_limit,
    clock: options.clock,
    maxKeys: options.maxKeys,
  });
  const perIp = limit.per_ip;
  const onReject = options.onReject;
  return (_request, client) => {
    const verdict = limiter.take(perIp ? client : "");
    if (verdict.ok) return null;
    onReject?.(client);
    const seconds = verdict.retryAfterSeconds;
    return replies.rateLimited(seconds);
  };
}
