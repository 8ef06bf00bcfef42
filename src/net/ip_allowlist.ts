/**
 * IP allowlists: addresses, CIDRs and provider presets, pre-parsed into sorted numeric ranges
 * so a per-request check is a parse plus a binary search.
 *
 * IPv4 and IPv4-mapped IPv6 are one space: `::ffff:10.0.0.1` matches `10.0.0.0/8`, and
 * `10.0.0.1` matches `::ffff:0:0/96`. An entry with bits set after its prefix
 * (`10.0.0.1/8`) is rejected rather than silently widened.
 *
 * An empty list allows every address ({@linkcode IpAllowlist.allows}); callers treat an absent
 * `ip_allowlist:` the same way. {@linkcode IpAllowlist.contains} is the strict membership test
 * (empty list contains nothing), which is what trusted-proxy lists need.
 *
 * @example
 * ```ts
 * import { parseAllowlist } from "./ip_allowlist.ts";
 * const list = parseAllowlist(["10.0.0.0/8", "2001:db8::/32", "github"]);
 * list.allows("10.1.2.3"); // true
 * list.allows("[::ffff:10.1.2.3]:443"); // true
 * list.allows("192.0.2.1"); // false
 * ```
 * @module
 */

import { UserError } from "../errors.ts";
import { formatIp, MAPPED_V4_BASE, MAPPED_V4_LAST, parseAddress, parseIp } from "./ip_address.ts";
import { IP_PRESET_NAMES, IP_PRESETS, type IpPresetName } from "./ip_presets.ts";

/** Ranges from one entry: inclusive `[first, last]` pairs per family. */
interface _Ranges {
  v4: [number, number][];
  v6: [bigint, bigint][];
}

const _V6_MAX = (1n << 128n) - 1n;

/** A parsed allowlist. Build it with {@linkcode parseAllowlist}. */
export class IpAllowlist {
  /** True when the list has no entries (then {@linkcode allows} is always true). */
  readonly empty: boolean;
  readonly #v4First: Float64Array;
  readonly #v4Last: Float64Array;
  readonly #v6First: bigint[];
  readonly #v6Last: bigint[];

  /** Internal: use {@linkcode parseAllowlist}. */
  constructor(entries: readonly string[], ranges: _Ranges) {
    this.empty = entries.length === 0;
    const v4 = _merge(ranges.v4);
    const v6 = _merge(ranges.v6);
    this.#v4First = Float64Array.from(v4, (r) => r[0]);
    this.#v4Last = Float64Array.from(v4, (r) => r[1]);
    this.#v6First = v6.map((r) => r[0]);
    this.#v6Last = v6.map((r) => r[1]);
  }

  /**
   * Whether a request from `address` may pass: true for an empty list, else
   * {@linkcode contains}. `address` may carry brackets, a port or a zone id; an unparseable
   * address is not allowed.
   */
  allows(address: string): boolean {
    return this.empty || this.contains(address);
  }

  /** Strict membership: whether `address` falls in one of the entries (empty list: never). */
  contains(address: string): boolean {
    const ip = parseAddress(address);
    if (ip === null) return false;
    return ip.family === 4
      ? _search(this.#v4First, this.#v4Last, ip.value)
      : _search(this.#v6First, this.#v6Last, ip.value);
  }
}

/**
 * Binary search over sorted, disjoint inclusive ranges (`first[i]`..`last[i]`): IPv4 as
 * numbers, IPv6 as bigints.
 */
function _search<T extends number | bigint>(
  first: ArrayLike<T>,
  last: ArrayLike<T>,
  value: T,
): boolean {
  let lo = 0;
  let hi = first.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (value < first[mid]) hi = mid - 1;
    else if (value > last[mid]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** Sorts ranges and merges overlapping ones, so the result is sorted and disjoint. */
function _merge<T extends number | bigint>(ranges: [T, T][]): [T, T][] {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const merged: [T, T][] = [];
  for (const [first, last] of sorted) {
    const top = merged[merged.length - 1];
    if (top !== undefined && first <= top[1]) {
      if (last > top[1]) top[1] = last;
    } else {
      merged.push([first, last]);
    }
  }
  return merged;
}

/** Parses one entry into ranges, or returns the message saying what is wrong. */
function _parseEntry(entry: string): _Ranges | string {
  const text = entry.trim();
  if (Object.hasOwn(IP_PRESETS, text)) {
    const ranges: _Ranges = { v4: [], v6: [] };
    for (const range of IP_PRESETS[text as IpPresetName].ranges) {
      const parsed = _parseEntry(range);
      if (typeof parsed === "string") throw new Error(`preset ${text}: ${parsed}`);
      ranges.v4.push(...parsed.v4);
      ranges.v6.push(...parsed.v6);
    }
    return ranges;
  }
  const generic = `"${entry}" is not an IP address, a CIDR (such as 10.0.0.0/8 or ` +
    `2001:db8::/32) or a preset (${IP_PRESET_NAMES.join(", ")})`;
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? null : text.slice(slash + 1);
  if (prefixText !== null && !/^\d{1,3}$/.test(prefixText)) return generic;

  const ip = parseIp(addressText);
  if (ip === null) return generic;
  if (ip.family === 6) {
    const value = ip.value;
    const prefix = prefixText === null ? 128 : Number(prefixText);
    if (prefix > 128) {
      return `"${entry}" has prefix /${prefix}, but IPv6 prefixes go up to /128`;
    }
    const hostMask = _V6_MAX >> BigInt(prefix);
    if ((value & hostMask) !== 0n) {
      const network = formatIp({ family: 6, value: value & ~hostMask });
      return _hostBitsMessage(entry, `${network}/${prefix}`, addressText, 128);
    }
    const first = value;
    const last = value | hostMask;
    const ranges: _Ranges = { v4: [], v6: [[first, last]] };
    // The part inside ::ffff:0:0/96 also matches the IPv4 addresses it maps.
    const lo = first > MAPPED_V4_BASE ? first : MAPPED_V4_BASE;
    const hi = last < MAPPED_V4_LAST ? last : MAPPED_V4_LAST;
    if (lo <= hi) ranges.v4.push([Number(lo - MAPPED_V4_BASE), Number(hi - MAPPED_V4_BASE)]);
    return ranges;
  }

  const value = ip.value;
  const prefix = prefixText === null ? 32 : Number(prefixText);
  if (prefix > 32) return `"${entry}" has prefix /${prefix}, but IPv4 prefixes go up to /32`;
  const size = 2 ** (32 - prefix);
  const first = value - (value % size);
  if (first !== value) {
    const network = formatIp({ family: 4, value: first });
    return _hostBitsMessage(entry, `${network}/${prefix}`, addressText, 32);
  }
  // Addresses are folded to IPv4 before lookup, so no IPv6 (mapped) range is needed.
  return { v4: [[first, first + size - 1]], v6: [] };
}

function _hostBitsMessage(entry: string, network: string, address: string, bits: number): string {
  return `"${entry}" has bits set after the prefix; write "${network}" for the network ` +
    `or "${address}/${bits}" for the single address`;
}

/**
 * Checks one `ip_allowlist:` (or `trusted_proxies:`) entry: null when it is valid, else a
 * message that names the entry and the fix. The config loader uses this to report every bad
 * entry with its YAML location.
 *
 * @example
 * ```ts
 * import { validateAllowlistEntry } from "./ip_allowlist.ts";
 * validateAllowlistEntry("10.0.0.0/8"); // null
 * validateAllowlistEntry("10.0.0.0/33"); // '"10.0.0.0/33" has prefix /33, but IPv4 …'
 * ```
 */
export function validateAllowlistEntry(entry: string): string | null {
  const parsed = _parseEntry(entry);
  return typeof parsed === "string" ? parsed : null;
}

/**
 * Parses allowlist entries (addresses, CIDRs, preset names `stripe` and `github`). Throws a
 * {@linkcode UserError} naming the first bad entry. An empty array gives a list that allows
 * every address.
 *
 * @example
 * ```ts
 * import { parseAllowlist } from "./ip_allowlist.ts";
 * parseAllowlist(["stripe"]).allows("3.18.12.63"); // true
 * ```
 */
export function parseAllowlist(entries: readonly string[]): IpAllowlist {
  const ranges: _Ranges = { v4: [], v6: [] };
  for (const entry of entries) {
    const parsed = _parseEntry(entry);
    if (typeof parsed === "string") throw new UserError(parsed);
    ranges.v4.push(...parsed.v4);
    ranges.v6.push(...parsed.v6);
  }
  return new IpAllowlist(entries, ranges);
}
