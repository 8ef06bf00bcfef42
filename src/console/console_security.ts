/**
 * The console's browser-facing defences, as small pure functions: the security headers every
 * console answer carries (a Content-Security-Policy that allows scripts and styles from the
 * console itself only), the `Host` check against DNS rebinding, and the same-origin check of a
 * state-changing request (`Origin`, `Sec-Fetch-Site`).
 *
 * @example
 * ```ts
 * import { hostAllowed, sameOrigin } from "./console_security.ts";
 * const where = { hostname: "127.0.0.1", loopback: true };
 * hostAllowed("localhost:9090", where); // true
 * hostAllowed("evil.example:9090", where); // false
 * sameOrigin(new Headers({ host: "127.0.0.1:9090", origin: "http://evil.example" })); // false
 * ```
 * @module
 */
import { isLoopback } from "../config/admin_listen.ts";

/** The Content-Security-Policy of every console answer (no inline script or style at all). */
export const CONSOLE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'";

/** Headers set on every console answer (pages, assets, API, errors). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** The hostname of a `Host` header value (`[::1]:9090` → `::1`), lower-cased. */
export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") < 0 ? undefined : h.indexOf("]"));
  const colon = h.lastIndexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

/** Whether `hostname` is an unspecified (wildcard) bind address. */
function _wildcard(hostname: string): boolean {
  return hostname === "0.0.0.0" || hostname === "::" || /^(0:){7}0$/.test(hostname);
}

/**
 * Whether a request's `Host` is one the listener answers to (DNS rebinding defence): a loopback
 * name or address (any port: an SSH tunnel forwards another one), or the listener's own address.
 * A listener bound to every address (`0.0.0.0`, `::`) is reached under names it cannot know
 * (its IPs, a reverse proxy's name), so it takes any Host: it always has a token then, and a
 * rebound page has neither the token nor the session cookie.
 */
export function hostAllowed(
  host: string | null,
  listener: { hostname: string; loopback: boolean },
): boolean {
  if (host === null || host === "") return false;
  const name = hostnameOf(host);
  if (isLoopback(name) || name.endsWith(".localhost")) return true;
  if (listener.loopback) return false;
  const own = listener.hostname.toLowerCase();
  return _wildcard(own) || name === own;
}

/**
 * Whether a state-changing request comes from the console's own origin. `Sec-Fetch-Site`, set
 * by the browser and beyond a page's reach, decides when present (`same-origin` only: a form
 * posted from a page with `Referrer-Policy: no-referrer` has `Origin: null`). Without it,
 * `Origin`, when sent, must name the request's own `Host` (scheme ignored: a TLS proxy changes
 * it). A request with neither (curl, a script) passes; the CSRF token still has to match.
 */
export function sameOrigin(headers: Headers): boolean {
  const site = headers.get("sec-fetch-site");
  if (site !== null) return site === "same-origin";
  const origin = headers.get("origin");
  if (origin === null) return true;
  const host = headers.get("host");
  if (host === null || origin === "null") return false;
  try {
    return new URL(origin).host === new URL(`http://${host}`).host;
  } catch {
    return false;
  }
}
