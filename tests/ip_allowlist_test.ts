import assert from "node:assert/strict";
import net from "node:net";
import { parseAllowlist, validateAllowlistEntry } from "../src/http/ip_allowlist.ts";
import { IP_PRESET_NAMES, IP_PRESETS } from "../src/http/ip_presets.ts";
import { formatIp, normalizeAddress, parseIp, parseIpv6 } from "../src/http/ip_address.ts";
import { UserError } from "../src/errors.ts";

/** [entries, address, expected] */
type Row = [string[], string, boolean];

function check(rows: Row[]): void {
  for (const [entries, address, expected] of rows) {
    assert.equal(
      parseAllowlist(entries).allows(address),
      expected,
      `${JSON.stringify(entries)} allows ${JSON.stringify(address)} should be ${expected}`,
    );
  }
}

Deno.test("IPv4 exact entries match only that address", () => {
  check([
    [["192.0.2.10"], "192.0.2.10", true],
    [["192.0.2.10"], "192.0.2.9", false],
    [["192.0.2.10"], "192.0.2.11", false],
    [["192.0.2.10", "198.51.100.1"], "198.51.100.1", true],
    [["0.0.0.0"], "0.0.0.0", true],
    [["255.255.255.255"], "255.255.255.255", true],
    [["255.255.255.255"], "255.255.255.254", false],
  ]);
});

Deno.test("IPv4 CIDRs include both ends and exclude their neighbours", () => {
  check([
    [["0.0.0.0/0"], "0.0.0.0", true],
    [["0.0.0.0/0"], "255.255.255.255", true],
    [["0.0.0.0/0"], "2001:db8::1", false],
    [["10.0.0.0/8"], "10.0.0.0", true],
    [["10.0.0.0/8"], "10.255.255.255", true],
    [["10.0.0.0/8"], "9.255.255.255", false],
    [["10.0.0.0/8"], "11.0.0.0", false],
    [["192.168.4.0/22"], "192.168.4.0", true],
    [["192.168.4.0/22"], "192.168.7.255", true],
    [["192.168.4.0/22"], "192.168.3.255", false],
    [["192.168.4.0/22"], "192.168.8.0", false],
    [["203.0.113.7/32"], "203.0.113.7", true],
    [["203.0.113.7/32"], "203.0.113.6", false],
    [["203.0.113.7/32"], "203.0.113.8", false],
    [["128.0.0.0/1"], "127.255.255.255", false],
    [["128.0.0.0/1"], "128.0.0.0", true],
  ]);
});

Deno.test("IPv6 exact entries and CIDRs match by value, whatever the spelling", () => {
  check([
    [["2001:db8::1"], "2001:db8::1", true],
    [["2001:db8::1"], "2001:0DB8:0000:0000:0000:0000:0000:0001", true],
    [["2001:db8::1"], "2001:db8::2", false],
    [["::"], "::", true],
    [["::"], "::1", false],
    [["::1"], "::1", true],
    [["::/0"], "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true],
    [["::/0"], "::", true],
    [["::/0"], "2001:db8::5", true],
    [["2001:db8::1/128"], "2001:db8::1", true],
    [["2001:db8::1/128"], "2001:db8::", false],
    [["2001:db8:0:1::/64"], "2001:db8:0:1::", true],
    [["2001:db8:0:1::/64"], "2001:db8:0:1:ffff:ffff:ffff:ffff", true],
    [["2001:db8:0:1::/64"], "2001:db8:0:0:ffff:ffff:ffff:ffff", false],
    [["2001:db8:0:1::/64"], "2001:db8:0:2::", false],
    [["2001:DB8::/32"], "2001:db8:ffff::1", true],
    [["2001:db8::/32"], "2001:db9::", false],
    [["fe80::/10"], "fe80::1%eth0", true],
    [["fe80::/10"], "[fe80::1%25eth0]:8080", true],
    [["2001:db8::/32"], "[2001:db8::7]", true],
    [["2001:db8::/32"], "[2001:db8::7]:443", true],
  ]);
});

Deno.test("IPv4-mapped IPv6 and IPv4 are one address space", () => {
  check([
    [["10.0.0.0/8"], "::ffff:10.0.0.1", true],
    [["10.0.0.0/8"], "::ffff:a00:1", true],
    [["10.0.0.0/8"], "[::ffff:10.0.0.1]:1234", true],
    [["10.0.0.0/8"], "::ffff:11.0.0.1", false],
    [["::ffff:0:0/96"], "10.0.0.1", true],
    [["::ffff:0:0/96"], "255.255.255.255", true],
    [["::ffff:0:0/96"], "2001:db8::1", false],
    [["::ffff:10.0.0.0/104"], "10.20.30.40", true],
    [["::ffff:10.0.0.0/104"], "11.0.0.0", false],
    [["::ffff:127.0.0.1"], "127.0.0.1", true],
    [["::/0"], "192.0.2.1", true],
    // IPv4-compatible (::a.b.c.d, deprecated) is not the mapped block.
    [["10.0.0.0/8"], "::10.0.0.1", false],
  ]);
});

Deno.test("IPv4 with a port is accepted as an address", () => {
  check([
    [["192.0.2.0/24"], "192.0.2.1:5000", true],
    [["192.0.2.0/24"], " 192.0.2.1 ", true],
  ]);
});

Deno.test("presets allow their published addresses and not their neighbours", () => {
  check([
    [["stripe"], "3.18.12.63", true],
    [["stripe"], "54.187.216.72", true],
    [["stripe"], "3.18.12.64", false],
    [["stripe"], "54.187.216.71", false],
    [["github"], "140.82.115.10", true],
    [["github"], "192.30.252.0", true],
    [["github"], "192.30.255.255", true],
    [["github"], "192.30.251.255", false],
    [["github"], "192.31.0.0", false],
    [["github"], "2606:50c0::1", true],
    [["github"], "2606:50c1::1", false],
    [["github"], "::ffff:143.55.64.1", true],
    [["stripe", "github"], "3.130.192.231", true],
    [["stripe", "github"], "185.199.108.153", true],
  ]);
});

Deno.test("every preset range parses and every preset records its date and source", () => {
  for (const name of IP_PRESET_NAMES) {
    const preset = IP_PRESETS[name];
    assert.match(preset.taken, /^\d{4}-\d{2}-\d{2}$/);
    assert.match(preset.source, /^https:\/\//);
    assert.ok(preset.ranges.length > 0);
    for (const range of preset.ranges) assert.equal(validateAllowlistEntry(range), null, range);
    const list = parseAllowlist([name]);
    for (const range of preset.ranges) {
      assert.ok(list.allows(range.split("/")[0]), `${name} allows ${range}`);
    }
  }
});

Deno.test("bad entries are rejected with a message naming the entry and the fix", () => {
  const cases: [string, RegExp][] = [
    ["10.0.0.0/33", /"10\.0\.0\.0\/33" has prefix \/33, but IPv4 prefixes go up to \/32/],
    ["2001:db8::/129", /"2001:db8::\/129" has prefix \/129, but IPv6 prefixes go up to \/128/],
    ["10.0.0.1/8", /"10\.0\.0\.1\/8" has bits set.*"10\.0\.0\.0\/8".*"10\.0\.0\.1\/32"/],
    ["2001:db8::1/32", /bits set.*"2001:db8::\/32".*"2001:db8::1\/128"/],
    ["stripes", /"stripes" is not an IP address, a CIDR .* or a preset \(stripe, github\)/],
    ["256.0.0.1", /"256\.0\.0\.1" is not an IP address/],
    ["10.1", /is not an IP address/],
    ["010.0.0.1", /is not an IP address/],
    ["10.0.0.0/", /is not an IP address/],
    ["10.0.0.0/-1", /is not an IP address/],
    ["10.0.0.0/8/8", /is not an IP address/],
    ["1::2::3", /is not an IP address/],
    ["12345::", /is not an IP address/],
    ["1:2:3:4:5:6:7:8:9", /is not an IP address/],
    ["[::1]", /is not an IP address/],
    ["10.0.0.1:80", /is not an IP address/],
    ["", /is not an IP address/],
    ["GITHUB", /is not an IP address/],
  ];
  for (const [entry, message] of cases) {
    const problem = validateAllowlistEntry(entry);
    assert.ok(problem !== null, `${entry} should be rejected`);
    assert.match(problem, message);
    assert.throws(() => parseAllowlist(["10.0.0.0/8", entry]), (error) => {
      assert.ok(error instanceof UserError);
      assert.equal(error.message, problem);
      return true;
    });
  }
});

Deno.test("garbage and unparseable addresses are never allowed", () => {
  const list = parseAllowlist(["0.0.0.0/0", "::/0"]);
  for (
    const address of [
      "",
      "unknown",
      "localhost",
      "1.2.3",
      "1.2.3.4.5",
      "01.2.3.4",
      "1.2.3.256",
      "1.2.3.4:99999999",
      "1.2.3.4:",
      "[1.2.3.4]",
      "::ffff:1.2.3.256",
      "1::2::3",
      "[::1",
      "[::1]x",
      "fe80::1%",
      "_hidden",
      "0x7f.0.0.1",
    ]
  ) {
    assert.equal(list.allows(address), false, JSON.stringify(address));
  }
});

Deno.test("an empty list allows every address, but contains none", () => {
  const list = parseAllowlist([]);
  assert.equal(list.empty, true);
  assert.equal(list.allows("192.0.2.1"), true);
  assert.equal(list.allows("2001:db8::1"), true);
  assert.equal(list.contains("192.0.2.1"), false);
  assert.equal(parseAllowlist(["::1"]).empty, false);
});

Deno.test("overlapping entries merge without losing coverage", () => {
  const list = parseAllowlist(["10.0.0.0/16", "10.0.0.0/8", "10.1.2.3", "11.0.0.0/8"]);
  for (const address of ["10.0.0.0", "10.200.0.1", "10.255.255.255", "11.0.0.0", "11.9.9.9"]) {
    assert.equal(list.allows(address), true, address);
  }
  assert.equal(list.allows("12.0.0.0"), false);
  assert.equal(list.allows("9.255.255.255"), false);
});

Deno.test("membership agrees with node:net BlockList on random addresses and ranges", () => {
  // A seeded generator so a failure reproduces.
  let seed = 0x2545f491;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 2 ** 32;
  };
  const v4 = () => Array.from({ length: 4 }, () => Math.floor(random() * 4) + 10).join(".");
  const v6 = () =>
    `2001:db8:${
      Array.from({ length: 6 }, () => (Math.floor(random() * 3)).toString(16)).join(":")
    }`;
  const outcomes = { true: 0, false: 0 };
  for (let round = 0; round < 50; round++) {
    const entries: string[] = [];
    const blockList = new net.BlockList();
    for (let i = 0; i < 6; i++) {
      const isV6 = random() < 0.5;
      const bits = isV6 ? 128 : 32;
      // IPv6 prefixes stay within 2001::/16: BlockList, unlike us, never matches IPv4
      // addresses against IPv6 rules that cover the mapped block ::ffff:0:0/96.
      const prefix = isV6 ? 16 + Math.floor(random() * 113) : Math.floor(random() * (bits + 1));
      // Mask the host bits the same way BlockList does, then write it canonically.
      const base = parseIp(isV6 ? v6() : v4())!;
      const masked = base.family === 4
        ? { family: 4 as const, value: base.value - (base.value % 2 ** (32 - prefix)) }
        : {
          family: 6 as const,
          value: base.value & ~((1n << BigInt(128 - prefix)) - 1n),
        };
      const network = formatIp(masked);
      entries.push(`${network}/${prefix}`);
      blockList.addSubnet(network, prefix, isV6 ? "ipv6" : "ipv4");
    }
    const list = parseAllowlist(entries);
    for (let i = 0; i < 200; i++) {
      const isV6 = random() < 0.5;
      const address = isV6 ? v6() : v4();
      const expected = blockList.check(address, isV6 ? "ipv6" : "ipv4");
      assert.equal(list.allows(address), expected, `${address} in ${entries.join(", ")}`);
      outcomes[`${expected}`]++;
    }
  }
  // Both answers occur often enough for the comparison to mean something.
  assert.ok(outcomes.true > 1000 && outcomes.false > 1000, JSON.stringify(outcomes));
});

Deno.test("addresses normalize to one spelling, as WHATWG URL serializes IPv6", () => {
  const cases: [string, string | null][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["10.0.0.1:80", "10.0.0.1"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["[::FFFF:0A00:0001]:9", "10.0.0.1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["0:0:0:0:0:0:0:0", "::"],
    ["fe80::1%eth0", "fe80::1"],
    ["::1.2.3.4", "::102:304"],
    ["nope", null],
  ];
  for (const [input, expected] of cases) {
    assert.equal(normalizeAddress(input), expected, input);
    const ip = parseIp(input);
    if (ip?.family === 6 && expected !== null && !input.toLowerCase().includes("ffff")) {
      assert.equal(formatIp(ip), new URL(`http://[${input}]/`).hostname.slice(1, -1), input);
    }
  }
});

Deno.test("what parses as an address agrees with node:net isIP", () => {
  for (
    const text of [
      "1.2.3.4",
      "0.0.0.0",
      "255.255.255.255",
      "256.1.1.1",
      "1.2.3",
      "01.2.3.4",
      "::",
      "::1",
      "1::",
      "1:2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7::",
      "::2:3:4:5:6:7:8",
      "1:2:3:4:5:6:7:8:9",
      "1::2::3",
      ":::",
      ":1::",
      "1::2:",
      "::ffff:1.2.3.4",
      "1:2:3:4:5:6:1.2.3.4",
      "1:2:3:4:5:6:7:1.2.3.4",
      "::1.2.3.4:5",
      "g::1",
      "12345::",
      "1:2:3:4::5:6:7:8",
      ":",
      "1:",
      "::1:",
      "1:::2",
      "1.2.3.4::",
      "::1.2.3.4.5",
      "::a.2.3.4",
      "0000:0:0:0:0:0:0:0",
      "00000::",
      "::FFFF:abcd",
      "a:b:c:d:e:f:0:1",
      "a:b:c:d:e:f:0:1:",
    ]
  ) {
    assert.equal(parseIp(text) !== null, net.isIP(text) !== 0, text);
  }
});

Deno.test("IPv6 round-trips through every spelling, matching WHATWG URL's serialization", () => {
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 0; n < 2000; n++) {
    // Many zero groups, so compression is exercised at every position.
    const groups = Array.from(
      { length: 8 },
      () => random() < 0.5 ? 0 : Math.floor(random() * 65536),
    );
    const full = groups.map((g) => g.toString(16).padStart(4, "0")).join(":");
    const value = parseIpv6(full);
    assert.ok(value !== null, full);
    const canonical = formatIp({ family: 6, value });
    assert.equal(canonical, new URL(`http://[${full}]/`).hostname.slice(1, -1), full);
    const v4Tail = `${groups.slice(0, 6).map((g) => g.toString(16)).join(":")}:${groups[6] >> 8}.${
      groups[6] & 255
    }.${groups[7] >> 8}.${groups[7] & 255}`;
    for (const spelling of [canonical, canonical.toUpperCase(), full, v4Tail]) {
      assert.equal(parseIpv6(spelling), value, spelling);
    }
  }
});
