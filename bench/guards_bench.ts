/**
 * Per-request cost of the guards, each against a baseline measured in the same run:
 * - `allows()` on a 40-entry allowlist (CIDRs, addresses, both presets) vs `Set.has` on the
 *   same address strings (what an exact-match-only list would cost), with `node:net`
 *   `BlockList.check` on the same ranges as a reference;
 * - `RateLimiter.take()` vs a bare `Map` get + set per key.
 *
 * Run: `deno run -A bench/guards_bench.ts` (about 5 s).
 *
 * @module
 */

import net from "node:net";
import { systemClock } from "../src/clock.ts";
import { IP_PRESETS, type IpPresetName } from "../src/http/ip_presets.ts";
import { parseAllowlist } from "../src/http/ip_allowlist.ts";
import { RateLimiter } from "../src/http/rate_limit.ts";

/** Runs `fn` over `inputs` repeatedly for ~`ms` and returns nanoseconds per call. */
function measure<T>(inputs: T[], fn: (input: T) => unknown, ms = 800): number {
  let sink = 0;
  for (let i = 0; i < 50_000; i++) if (fn(inputs[i % inputs.length])) sink++; // warm up
  let calls = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    for (let i = 0; i < inputs.length; i++) if (fn(inputs[i])) sink++;
    calls += inputs.length;
    elapsed = performance.now() - start;
  }
  if (sink < 0) console.log(sink); // keeps the results observable
  return (elapsed * 1e6) / calls;
}

function report(name: string, ns: number, baselineNs: number): void {
  console.log(`${name}: ${ns.toFixed(1)} ns/call (${(ns / baselineNs).toFixed(2)}× baseline)`);
}

// 40 entries: 25 v4 CIDRs, 10 v6 CIDRs, 3 single addresses, the two presets.
const entries = [
  ...Array.from({ length: 25 }, (_, i) => `${20 + i * 7}.${i * 9}.0.0/16`),
  ...Array.from({ length: 10 }, (_, i) => `2001:db8:${(i * 4099).toString(16)}::/48`),
  "198.51.100.7",
  "203.0.113.9",
  "2001:db8:ffff::1",
  "stripe",
  "github",
];
const list = parseAllowlist(entries);

let seed = 42;
const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const addresses = Array.from({ length: 4096 }, (_, i) => {
  if (i % 4 === 3) {
    return `2001:db8:${Math.floor(random() * 65536).toString(16)}::${i.toString(16)}`;
  }
  return Array.from({ length: 4 }, () => Math.floor(random() * 256)).join(".");
});
const exact = new Set([...entries, ...addresses.filter((_, i) => i % 50 === 0)]);

const setNs = measure(addresses, (a) => exact.has(a));
const v4Only = addresses.filter((a) => !a.includes(":"));
const v6Only = addresses.filter((a) => a.includes(":"));
report("allows (40 entries, 3:1 v4:v6)", measure(addresses, (a) => list.allows(a)), setNs);
report("allows (v4 only)", measure(v4Only, (a) => list.allows(a)), setNs);
report("allows (v6 only)", measure(v6Only, (a) => list.allows(a)), setNs);

// Reference: node:net BlockList with the same ranges (presets expanded).
const blockList = new net.BlockList();
for (
  const entry of entries.flatMap((e) =>
    e in IP_PRESETS ? IP_PRESETS[e as IpPresetName].ranges : [e]
  )
) {
  const [address, prefix] = entry.split("/");
  const family = address.includes(":") ? "ipv6" : "ipv4";
  blockList.addSubnet(address, Number(prefix ?? (family === "ipv6" ? 128 : 32)), family);
}
report(
  "node:net BlockList.check (same ranges, reference)",
  measure(addresses, (a) => blockList.check(a, a.includes(":") ? "ipv6" : "ipv4")),
  setNs,
);

const keys = addresses.slice(0, 1000);
const baselineMap = new Map<string, { tokens: number; at: number }>();
const mapNs = measure(keys, (k) => {
  const bucket = baselineMap.get(k) ?? { tokens: 10, at: 0 };
  bucket.at = systemClock.now();
  baselineMap.set(k, bucket);
  return bucket.tokens > 0;
});
const limiter = new RateLimiter({ requestsPerMinute: 1e9, burst: 10, clock: systemClock });
report("take (1000 keys, real clock)", measure(keys, (k) => limiter.take(k).ok), mapNs);
