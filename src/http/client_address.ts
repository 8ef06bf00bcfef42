/**
 * Which address a request came from when whd sits behind reverse proxies.
 *
 * `X-Forwarded-For` is a list each proxy appends its peer to, so only the entries appended by
 * proxies we trust are believed: walk from the right, skip trusted proxies, and the first
 * address that is not one of them is the client. Anything further left was written by that
 * client and may be forged.
 *
 * @example
 * ```ts
 * import { clientAddress } from "./client_address.ts";
 * import { parseAllowlist } from "./ip_allowlist.ts";
 * const proxies = parseAllowlist(["10.0.0.0/8"]);
 * // The client sent "X-Forwarded-For: 6.6.6.6" itself; the proxy at 10.0.0.2 appended its peer.
 * clientAddress("10.0.0.2", ["6.6.6.6, 203.0.113.7"], proxies); // "203.0.113.7"
 * clientAddress("203.0.113.7", ["6.6.6.6"], proxies); // "203.0.113.7" (peer not trusted)
 * ```
 * @module
 */

import { normalizeAddress } from "./ip_address.ts";
import type { IpAllowlist } from "./ip_allowlist.ts";

/**
 * The client's address, normalized (no brackets or port, lowercase compressed IPv6,
 * IPv4-mapped IPv6 as IPv4, zone id dropped).
 *
 * - `trusted` null or empty: the peer; `X-Forwarded-For` is ignored.
 * - Peer not trusted: the peer (a spoofed header from an untrusted peer changes nothing).
 * - Otherwise the header values are joined in order and walked from the right, skipping
 *   trusted addresses; the first untrusted one is returned, or the leftmost if all are trusted.
 * - An entry that is not an address (`unknown`, garbage) stops the walk and the last good hop
 *   is returned — the trusted proxy that wrote the bad entry. This fails closed: an allowlist
 *   then judges the proxy, not a guess, and rate limits group those requests under it.
 *
 * `peer` comes from the socket; if it does not parse it is returned trimmed, unchanged.
 *
 * @param peer address of the TCP peer (`info.remoteAddr.hostname`)
 * @param forwardedFor every `X-Forwarded-For` header value, in the order received
 * @param trusted the `server.trusted_proxies` list, or null when there is none
 */
export function clientAddress(
  peer: string,
  forwardedFor: readonly string[],
  trusted: IpAllowlist | null,
): string {
  const normalizedPeer = normalizeAddress(peer) ?? peer.trim();
  if (trusted === null || trusted.empty || !trusted.contains(normalizedPeer)) {
    return normalizedPeer;
  }
  let lastGood = normalizedPeer;
  for (let v = forwardedFor.length - 1; v >= 0; v--) {
    const hops = forwardedFor[v].split(",");
    for (let h = hops.length - 1; h >= 0; h--) {
      const text = hops[h].trim();
      if (text === "") continue; // empty list elements are allowed by RFC 9110 list syntax
      const hop = normalizeAddress(text);
      if (hop === null) return lastGood;
      if (!trusted.contains(hop)) return hop;
      lastGood = hop;
    }
  }
  return lastGood;
}
