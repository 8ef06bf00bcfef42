/**
 * Published webhook source addresses of the providers, usable by name in `ip_allowlist:`.
 *
 * These lists change (Stripe announces changes on its api-announce list seven days ahead;
 * GitHub only says to poll its meta API). To refresh a preset:
 *
 * 1. Stripe: fetch `https://stripe.com/files/ips/ips_webhooks.json` (its `WEBHOOKS` array) or
 *    the "Webhook notifications" list at https://docs.stripe.com/ips.
 *    GitHub: `curl -s https://api.github.com/meta | jq -r '.hooks[]'`.
 * 2. Replace `ranges` with what you got (same order as published), set `taken` to today's date.
 * 3. Run `deno test -A tests/ip_allowlist_test.ts`: it parses every range and checks a listed
 *    address of each preset is allowed; adjust those sample addresses if they left the list.
 *
 * Users who cannot wait for a release can list the addresses themselves instead of the preset.
 *
 * @example
 * ```ts
 * import { IP_PRESETS } from "./ip_presets.ts";
 * console.log(IP_PRESETS.github.ranges.length, "ranges as of", IP_PRESETS.github.taken);
 * ```
 * @module
 */

/** Names accepted as presets in `ip_allowlist:`. */
export type IpPresetName = "stripe" | "github";

/** One provider's published list and where it came from. */
export interface IpPreset {
  /** Date the list was taken, `YYYY-MM-DD`. */
  taken: string;
  /** URL to refresh the list from. */
  source: string;
  /** Addresses and CIDRs, as published. */
  ranges: string[];
}

/** The presets, keyed by name. */
export const IP_PRESETS: Readonly<Record<IpPresetName, Readonly<IpPreset>>> = Object.freeze({
  stripe: Object.freeze({
    // Taken from copies of ips_webhooks.txt published 2026-09-16 (15 addresses).
    taken: "2026-09-16",
    source: "https://stripe.com/files/ips/ips_webhooks.json",
    ranges: Object.freeze([
      "3.18.12.63",
      "3.69.109.8",
      "3.120.168.93",
      "3.130.192.231",
      "13.235.14.237",
      "13.235.122.149",
      "18.211.135.69",
      "35.154.171.200",
      "35.157.207.129",
      "52.15.183.38",
      "54.88.130.119",
      "54.88.130.237",
      "54.187.174.169",
      "54.187.205.235",
      "54.187.216.72",
    ]) as string[],
  }),
  github: Object.freeze({
    // `hooks` of the meta API as mirrored on 2026-06-14.
    taken: "2026-06-14",
    source: "https://api.github.com/meta",
    ranges: Object.freeze([
      "192.30.252.0/22",
      "185.199.108.0/22",
      "140.82.112.0/20",
      "143.55.64.0/20",
      "2a0a:a440::/29",
      "2606:50c0::/32",
    ]) as string[],
  }),
});

/** The preset names, for messages: `stripe, github`. */
export const IP_PRESET_NAMES: readonly IpPresetName[] = Object.freeze(
  Object.keys(IP_PRESETS) as IpPresetName[],
);
