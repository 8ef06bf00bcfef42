/**
 * Strict IPv4/IPv6 parsing and canonical formatting, shared by the IP allowlist and the
 * client-address resolver.
 *
 * Two entry points with different strictness:
 * - {@linkcode parseIp} for config entries: exactly an address, nothing around it.
 * - {@linkcode parseAddress} for addresses off the wire (socket peer, `X-Forwarded-For`): also
 *   accepts `[v6]`, `[v6]:port`, `v4:port` and a `%zone` suffix, and folds IPv4-mapped IPv6
 *   (`::ffff:1.2.3.4`) into IPv4.
 *
 * IPv4 must be four decimal parts without leading zeros (`010.0.0.1` is rejected rather than
 * guessed as octal or decimal); IPv6 follows RFC 4291 text form, including `::` and a dotted
 * IPv4 tail.
 *
 * @example
 * ```ts
 * import { normalizeAddress } from "./ip_address.ts";
 * normalizeAddress("[2001:DB8:0::1]:443"); // "2001:db8::1"
 * normalizeAddress("::ffff:10.0.0.1"); // "10.0.0.1"
 * normalizeAddress("not an ip"); // null
 * ```
 * @module
 */

/** A parsed address: IPv4 as an unsigned 32-bit number, IPv6 as a 128-bit bigint. */
export type IpValue = { family: 4; value: number } | { family: 6; value: bigint };

/** First address of the IPv4-mapped IPv6 block `::ffff:0:0/96`. */
export const MAPPED_V4_BASE: bigint = 0xffffn << 32n;

/** Last address of `::ffff:0:0/96`. */
export const MAPPED_V4_LAST: bigint = MAPPED_V4_BASE + 0xffff_ffffn;

/**
 * Parses a dotted-quad IPv4 address strictly (four decimal parts 0–255, no leading zeros).
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "./ip_address.ts";
 * parseIpv4("10.0.0.1"); // 167772161
 * parseIpv4("10.1"); // null
 * ```
 */
export function parseIpv4(text: string): number | null {
  const length = text.length;
  if (length < 7 || length > 15) return null;
  let value = 0;
  let part = 0;
  let digits = 0;
  let parts = 0;
  for (let i = 0; i <= length; i++) {
    const code = i < length ? text.charCodeAt(i) : 46; // a virtual "." ends the last part
    if (code === 46) {
      if (digits === 0 || part > 255) return null;
      value = value * 256 + part;
      parts++;
      part = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && part === 0) return null; // leading zero
      part = part * 10 + (code - 48);
      digits++;
      if (digits > 3) return null;
    } else {
      return null;
    }
  }
  return parts === 4 ? value : null;
}

/**
 * Parses an IPv6 address in RFC 4291 text form (no brackets, no zone) into a 128-bit bigint.
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "./ip_address.ts";
 * parseIpv6("::1"); // 1n
 * parseIpv6("1::2::3"); // null
 * ```
 */
export function parseIpv6(text: string): bigint | null {
  const length = text.length;
  if (length < 2 || length > 45) return null;
  // One pass, no regex or split: groups fill `groups` from the front; if there was a "::",
  // the groups after it are moved to the end when done.
  const groups = [0, 0, 0, 0, 0, 0, 0, 0];
  let count = 0; // groups written
  let gapAt = -1; // index in `groups` where "::" stands
  let i = 0;
  if (text.charCodeAt(0) === 58) {
    if (text.charCodeAt(1) !== 58) return null;
    gapAt = 0;
    i = 2;
  }
  while (i < length) {
    // One group: 1–4 hex digits, or a dotted IPv4 tail.
    const start = i;
    let group = 0;
    while (i < length && i - start < 5) {
      const code = text.charCodeAt(i);
      const digit = code >= 48 && code <= 57
        ? code - 48
        : code >= 97 && code <= 102
        ? code - 87
        : code >= 65 && code <= 70
        ? code - 55
        : -1;
      if (digit === -1) break;
      group = group * 16 + digit;
      i++;
    }
    if (i < length && text.charCodeAt(i) === 46) {
      // IPv4 tail: must end the text and leave room for two groups.
      if (count > 6) return null;
      const v4 = parseIpv4(text.slice(start));
      if (v4 === null) return null;
      groups[count++] = Math.floor(v4 / 65536);
      groups[count++] = v4 % 65536;
      break;
    }
    if (i === start || i - start > 4 || count === 8) return null;
    groups[count++] = group;
    if (i === length) break;
    if (text.charCodeAt(i) !== 58) return null;
    i++;
    if (i < length && text.charCodeAt(i) === 58) {
      if (gapAt !== -1) return null;
      gapAt = count;
      i++;
    } else if (i === length) {
      return null; // trailing single ":"
    }
  }
  if (gapAt === -1) {
    if (count !== 8) return null;
  } else {
    if (count > 7) return null;
    const tail = count - gapAt;
    for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k];
    for (let k = gapAt; k < 8 - tail; k++) groups[k] = 0;
  }
  return (BigInt(groups[0] * 65536 + groups[1]) << 96n) |
    (BigInt(groups[2] * 65536 + groups[3]) << 64n) |
    (BigInt(groups[4] * 65536 + groups[5]) << 32n) |
    BigInt(groups[6] * 65536 + groups[7]);
}

/**
 * Parses exactly one IPv4 or IPv6 address (no brackets, port or zone). IPv4-mapped IPv6 stays
 * IPv6 here; {@linkcode parseAddress} folds it.
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip_address.ts";
 * parseIp("192.0.2.1"); // { family: 4, value: 3221225985 }
 * ```
 */
export function parseIp(text: string): IpValue | null {
  if (text.includes(":")) {
    const value = parseIpv6(text);
    return value === null ? null : { family: 6, value };
  }
  const value = parseIpv4(text);
  return value === null ? null : { family: 4, value };
}

/**
 * Parses an address as it arrives from a socket or a proxy header: trims whitespace, accepts
 * `[v6]`, `[v6]:port`, `v4:port` and a `%zone` suffix (dropped), and folds IPv4-mapped IPv6
 * into IPv4. Returns null for anything else (including `unknown` and obfuscated identifiers).
 *
 * @example
 * ```ts
 * import { parseAddress } from "./ip_address.ts";
 * parseAddress("[::ffff:10.0.0.1]:8080"); // { family: 4, value: 167772161 }
 * ```
 */
export function parseAddress(text: string): IpValue | null {
  let host = text.trim();
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    if (close === -1) return null;
    const rest = host.slice(close + 1);
    if (rest !== "" && !/^:\d{1,5}$/.test(rest)) return null;
    host = host.slice(1, close);
    if (!host.includes(":")) return null; // brackets are for IPv6 only
  } else {
    const colon = host.indexOf(":");
    if (colon !== -1 && host.indexOf(":", colon + 1) === -1) {
      // One colon: IPv4 with a port (IPv6 always has at least two).
      if (!/^\d{1,5}$/.test(host.slice(colon + 1))) return null;
      host = host.slice(0, colon);
      const v4 = parseIpv4(host);
      return v4 === null ? null : { family: 4, value: v4 };
    }
  }
  if (!host.includes(":")) {
    const v4 = parseIpv4(host);
    return v4 === null ? null : { family: 4, value: v4 };
  }
  const zone = host.indexOf("%");
  if (zone !== -1) {
    if (zone === host.length - 1) return null;
    host = host.slice(0, zone);
  }
  const v6 = parseIpv6(host);
  if (v6 === null) return null;
  if (v6 >= MAPPED_V4_BASE && v6 <= MAPPED_V4_LAST) {
    return { family: 4, value: Number(v6 - MAPPED_V4_BASE) };
  }
  return { family: 6, value: v6 };
}

/**
 * Formats an address canonically: dotted quad, or RFC 5952 IPv6 (lowercase, longest run of
 * two or more zero groups compressed to `::`, first run on a tie).
 *
 * @example
 * ```ts
 * import { formatIp } from "./ip_address.ts";
 * formatIp({ family: 6, value: 1n }); // "::1"
 * ```
 */
export function formatIp(ip: IpValue): string {
  if (ip.family === 4) {
    const v = ip.value;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const groups: number[] = [];
  for (let shift = 112n; shift >= 0n; shift -= 16n) {
    groups.push(Number((ip.value >> shift) & 0xffffn));
  }
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/**
 * {@linkcode parseAddress} then {@linkcode formatIp}: one spelling per address, suitable as a
 * rate-limit key or a log field. Null when the text is not an address.
 *
 * @example
 * ```ts
 * import { normalizeAddress } from "./ip_address.ts";
 * normalizeAddress(" 10.0.0.1:5000 "); // "10.0.0.1"
 * ```
 */
export function normalizeAddress(text: string): string | null {
  const ip = parseAddress(text);
  return ip === null ? null : formatIp(ip);
}
