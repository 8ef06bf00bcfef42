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

const _HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

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
  if (text.length < 2 || text.length > 45) return null;
  const gap = text.indexOf("::");
  if (gap !== -1 && text.indexOf("::", gap + 1) !== -1) return null;
  const head = _groups(gap === -1 ? text : text.slice(0, gap), gap === -1);
  const tail = gap === -1 ? [] : _groups(text.slice(gap + 2), true);
  if (head === null || tail === null) return null;
  const count = head.length + tail.length;
  if (gap === -1 ? count !== 8 : count > 7) return null;
  let value = 0n;
  for (const group of head) value = (value << 16n) | BigInt(group);
  value <<= BigInt(16 * (8 - head.length));
  let low = 0n;
  for (const group of tail) low = (low << 16n) | BigInt(group);
  return value | low;
}

/** Splits `a:b:c` into 16-bit groups; the last part may be a dotted IPv4 (two groups). */
function _groups(text: string, mayEndInV4: boolean): number[] | null {
  if (text === "") return [];
  const parts = text.split(":");
  const groups: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (_HEX_GROUP.test(part)) {
      groups.push(parseInt(part, 16));
    } else if (mayEndInV4 && i === parts.length - 1 && part.includes(".")) {
      const v4 = parseIpv4(part);
      if (v4 === null) return null;
      groups.push(Math.floor(v4 / 65536), v4 % 65536);
    } else {
      return null;
    }
  }
  return groups;
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
