import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createHmac } from "node:crypto";
import {
  decodeHex,
  type HmacAlgorithm,
  hmacDigests,
  hmacDigestsHex,
  HmacKey,
  matchesAny,
  matchesAnyHex,
  prepareKeys,
  signatureHex,
} from "../../src/providers/_crypto.ts";

const encoder = new TextEncoder();
const body = encoder.encode(JSON.stringify({ id: "evt_1", note: "é✓".repeat(300) }));

Deno.test("HmacKey: equals node:crypto createHmac for every algorithm and key length, used again and again", () => {
  // Key lengths around each block size (64 for sha1/sha256, 128 for sha512): longer keys are
  // hashed first, shorter ones padded.
  for (const algorithm of ["sha1", "sha256", "sha512"] as HmacAlgorithm[]) {
    for (const length of [2, 32, 63, 64, 65, 127, 128, 129, 300]) {
      // Text keys are their UTF-8 bytes: "é" is two of them.
      const secret = length % 2 === 1 ? "k".repeat(length - 2) + "é" : "k".repeat(length);
      const key = new HmacKey(secret);
      for (const prefix of ["", "1700000000.", "v0:1700000000:"]) {
        const expected = createHmac(algorithm, secret).update(prefix).update(body).digest();
        // Twice: the cached keyed states must not be consumed by a digest.
        for (let round = 0; round < 2; round++) {
          const what = `${algorithm} key ${length} prefix ${JSON.stringify(prefix)} round ${round}`;
          assert.deepEqual(Buffer.from(key.digest(algorithm, prefix, body)), expected, what);
          assert.equal(key.digestHex(algorithm, prefix, body), expected.toString("hex"), what);
        }
      }
    }
  }
});

Deno.test("HmacKey: byte keys are used as they are (Standard Webhooks base64 secrets)", () => {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  const expected = createHmac("sha256", bytes).update("id.1.").update(body).digest();
  assert.deepEqual(Buffer.from(new HmacKey(bytes).digest("sha256", "id.1.", body)), expected);
});

Deno.test("hmacDigests and matchesAny: any key of the rotation list may match any candidate", () => {
  const keys = prepareKeys(["old-secret", "new-secret"]);
  const good = createHmac("sha256", "new-secret").update(body).digest();
  const bad = createHmac("sha256", "other-secret").update(body).digest();
  const digests = hmacDigests(keys, "sha256", "", body);
  assert.equal(matchesAny(digests, [bad, good]), true);
  assert.equal(matchesAny(digests, [bad]), false);
  assert.equal(matchesAny(digests, [good.subarray(0, 31)]), false);
  assert.equal(matchesAny(digests, []), false);
});

Deno.test("hmacDigestsHex and matchesAnyHex: any key may match any candidate, of the same length only", () => {
  const keys = prepareKeys(["old-secret", "new-secret"]);
  const good = createHmac("sha256", "new-secret").update(body).digest("hex");
  const bad = createHmac("sha256", "other-secret").update(body).digest("hex");
  const digests = hmacDigestsHex(keys, "sha256", "", body);
  assert.equal(matchesAnyHex(digests, [bad, good]), true);
  assert.equal(matchesAnyHex(digests, [bad]), false);
  assert.equal(matchesAnyHex(digests, [good.slice(0, 62)]), false);
  assert.equal(matchesAnyHex(digests, [good + "00"]), false);
  // One character off, at either end.
  const flip = (c: string) => c === "0" ? "1" : "0";
  assert.equal(matchesAnyHex(digests, [flip(good[0]) + good.slice(1)]), false);
  assert.equal(matchesAnyHex(digests, [good.slice(0, -1) + flip(good.at(-1)!)]), false);
  assert.equal(matchesAnyHex(digests, [""]), false);
  assert.equal(matchesAnyHex(digests, []), false);
});

Deno.test("signatureHex: prefix, then exactly the digest's bytes in hex of either case, lowercased", () => {
  assert.equal(signatureHex(`sha256=${"Ab".repeat(32)}`, "sha256=", 32), "ab".repeat(32));
  assert.equal(signatureHex("ab".repeat(20), "", 20), "ab".repeat(20));
  for (
    const value of [
      "ab".repeat(32), // no prefix
      `sha1=${"ab".repeat(32)}`,
      `sha256=${"ab".repeat(31)}`, // short
      `sha256=${"ab".repeat(33)}`, // long
      `sha256=${"ab".repeat(31)}zz`, // not hex
      `sha256= ${"ab".repeat(31)}a`,
      "sha256=",
    ]
  ) {
    assert.equal(signatureHex(value, "sha256=", 32), undefined, value);
  }
});

Deno.test("decodeHex: either case decodes; empty, odd-length and non-hex text do not", () => {
  assert.deepEqual(decodeHex("00Ff7a"), Uint8Array.of(0, 255, 122));
  for (const text of ["", "abc", "zz", "0x12", "ab cd", "éé"]) {
    assert.equal(decodeHex(text), undefined, text);
  }
});
