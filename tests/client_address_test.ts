import assert from "node:assert/strict";
import { clientAddress } from "../src/http/client_address.ts";
import { parseAllowlist } from "../src/http/ip_allowlist.ts";

const proxies = parseAllowlist(["10.0.0.0/8", "fd00::/8"]);

Deno.test("without trusted proxies the peer is the client and X-Forwarded-For is ignored", () => {
  assert.equal(clientAddress("203.0.113.7", ["198.51.100.1"], null), "203.0.113.7");
  assert.equal(clientAddress("203.0.113.7", [], null), "203.0.113.7");
  // An empty trusted list trusts nobody (it must not behave like an allow-all allowlist).
  assert.equal(clientAddress("10.0.0.2", ["198.51.100.1"], parseAllowlist([])), "10.0.0.2");
});

Deno.test("the peer is normalized", () => {
  assert.equal(clientAddress("::ffff:203.0.113.7", [], null), "203.0.113.7");
  assert.equal(clientAddress("2001:DB8:0::1", [], null), "2001:db8::1");
  assert.equal(clientAddress("[2001:db8::1]:5000", [], proxies), "2001:db8::1");
  assert.equal(clientAddress("fe80::1%eth0", [], null), "fe80::1");
});

Deno.test("one trusted proxy: the address it appended is the client", () => {
  assert.equal(clientAddress("10.0.0.2", ["203.0.113.7"], proxies), "203.0.113.7");
  assert.equal(clientAddress("::ffff:10.0.0.2", ["203.0.113.7"], proxies), "203.0.113.7");
});

Deno.test("a chain of trusted proxies is skipped from the right", () => {
  assert.equal(
    clientAddress("10.0.0.3", ["203.0.113.7, 10.0.0.1, 10.0.0.2"], proxies),
    "203.0.113.7",
  );
});

Deno.test("a spoofed X-Forwarded-For through a trusted proxy does not hide the real client", () => {
  // The client at 203.0.113.7 sent "X-Forwarded-For: 10.0.0.9, 1.2.3.4"; the proxy appended it.
  assert.equal(
    clientAddress("10.0.0.2", ["10.0.0.9, 1.2.3.4, 203.0.113.7"], proxies),
    "203.0.113.7",
  );
  // Even a forged trusted-looking hop: only the hops right of the first untrusted one count.
  assert.equal(clientAddress("10.0.0.2", ["10.0.0.9, 203.0.113.7"], proxies), "203.0.113.7");
});

Deno.test("an untrusted peer is the client, whatever its X-Forwarded-For says", () => {
  assert.equal(clientAddress("203.0.113.7", ["198.51.100.1"], proxies), "203.0.113.7");
  assert.equal(clientAddress("203.0.113.7", ["10.0.0.1"], proxies), "203.0.113.7");
  assert.equal(clientAddress("203.0.113.7", ["garbage"], proxies), "203.0.113.7");
});

Deno.test("several X-Forwarded-For headers are combined in order", () => {
  assert.equal(
    clientAddress("10.0.0.3", ["198.51.100.1, 203.0.113.7", "10.0.0.1", "10.0.0.2"], proxies),
    "203.0.113.7",
  );
  assert.equal(
    clientAddress("10.0.0.3", ["203.0.113.7", "10.0.0.1, 198.51.100.1"], proxies),
    "198.51.100.1",
  );
});

Deno.test("all hops trusted: the leftmost is the client", () => {
  assert.equal(clientAddress("10.0.0.3", ["10.0.0.1, 10.0.0.2"], proxies), "10.0.0.1");
  assert.equal(clientAddress("10.0.0.3", [], proxies), "10.0.0.3");
  assert.equal(clientAddress("10.0.0.3", [""], proxies), "10.0.0.3");
});

Deno.test("IPv6 peers and hops are matched and normalized", () => {
  assert.equal(
    clientAddress("fd00::2", ["2001:DB8::7, fd00::1"], proxies),
    "2001:db8::7",
  );
  assert.equal(clientAddress("[fd00::2]:443", ["[2001:db8::7]:5555"], proxies), "2001:db8::7");
  assert.equal(clientAddress("fd00::2", ["::ffff:203.0.113.7"], proxies), "203.0.113.7");
  assert.equal(clientAddress("2001:db8::9", ["fd00::1"], proxies), "2001:db8::9");
});

Deno.test("hops with ports and blank elements are read; malformed ones stop the walk", () => {
  assert.equal(clientAddress("10.0.0.2", ["203.0.113.7:4711"], proxies), "203.0.113.7");
  assert.equal(clientAddress("10.0.0.2", ["203.0.113.7, , "], proxies), "203.0.113.7");
  // Malformed: the last good hop (the trusted proxy that wrote it) is returned, failing closed.
  assert.equal(clientAddress("10.0.0.2", ["unknown"], proxies), "10.0.0.2");
  assert.equal(clientAddress("10.0.0.3", ["203.0.113.7, bogus, 10.0.0.1"], proxies), "10.0.0.1");
  assert.equal(clientAddress("10.0.0.3", ["203.0.113.7, 999.1.1.1"], proxies), "10.0.0.3");
});
