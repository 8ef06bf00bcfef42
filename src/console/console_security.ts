/**
 * The console's browser-facing defences, as small pure functions: the security headers every
 * console answer carries (a Content-Security-Policy that allows scripts and styles from the
 * console itself only), the `Host` check against DNS rebinding, and the same-origin check of a
 * state-changing request (`Origin`, `Sec-Fetch-Site`).
 *
 * @example
 * ```ts
 * import { hostAllowed, sameOrigin } from "./console_security.ts";
 * hostAllowed("localhost:9090", true); // true
 * hostAllowed("evil.example:9090", true); // false: an open console answers loopback names only
 * sameOrigin(new Headers({ host: "127.0.0.1:9090", origin: "http://evil.example" })); // false
 * ```
 * @module
 */
import { isLoopback } from "../config/admin_listen.ts";

/** The Content-Security-Policy of every console answer (no inline script or style at all). */
const _CSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
  "img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; " +
  "frame-ancestors 'none'; base-uri 'none'";

/** Headers set on every console answer (pages, assets, API, errors). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": _CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

/** The hostname of a `Host` header value (`[::1]:9090` → `::1`), lower-cased. */
function _hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith("[")) return h.slice(1, h.indexOf("]") < 0 ? undefined : h.indexOf("]"));
  const colon = h.lastIndexOf(":");
  return colon < 0 ? h : h.slice(0, colon);
}

/**
 * Whether a request's `Host` may reach the console (the DNS rebinding defence). An open console
 * (no token; the config allows that on loopback only) answers loopback names and addresses only
 * (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`; any port, for SSH tunnels): a page on
 * another site whose name was rebound to 127.0.0.1 sends its own name and is refused, and so is
 * an open console put behind a proxy under a public name. With a token any Host is answered (a
 * reverse proxy passes the public name): a rebound page has neither the token nor the session
 * cookie, which the browser keeps for the console's own name.
 */
export function hostAllowed(host: string | null, open: boolean): boolean {
  if (host === null || host === "") return false;
  if (!open) return true;
  const name = _hostnameOf(host);
  return isLoopback(name) || name.endsWith(".localhost");
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
