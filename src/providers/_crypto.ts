/**
 * HMAC, constant-time comparison, signature decoding and random ids shared by the providers.
 *
 * Uses `node:crypto` hashes and `timingSafeEqual`. Each secret becomes an {@linkcode HmacKey}
 * once per verifier: the keyed inner and outer hash states of HMAC (RFC 2104) are computed
 * once and copied per delivery, which costs about 4 µs on a 1.7 KB body against 6 µs for a
 * fresh `createHmac` and 15–20 µs for `crypto.subtle.sign` with a pre-imported key (Deno
 * 2.9.6; WebCrypto pays an async round trip and a copy of the signed content per call). See
 * `bench/providers_bench.ts`.
 *
 * @example
 * ```ts
 * import { hmacDigests, matchesAny, prepareKeys } from "./_crypto.ts";
 * const keys = prepareKeys(["s3cret"]);
 * const body = new TextEncoder().encode("{}");
 * const [digest] = hmacDigests(keys, "sha256", "", body);
 * matchesAny(hmacDigests(keys, "sha256", "", body), [digest]); // true
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { createHash, createHmac, type Hash, timingSafeEqual } from "node:crypto";

/** Hash functions an HMAC scheme may use. */
export type HmacAlgorithm = "sha1" | "sha256" | "sha512";

/** Digest length in bytes of each {@linkcode HmacAlgorithm}. */
export const DIGEST_BYTES: Readonly<Record<HmacAlgorithm, number>> = {
  sha1: 20,
  sha256: 32,
  sha512: 64,
};

/** Block length in bytes of each {@linkcode HmacAlgorithm} (the HMAC key pad length). */
const _BLOCK_BYTES: Readonly<Record<HmacAlgorithm, number>> = {
  sha1: 64,
  sha256: 64,
  sha512: 128,
};

const _encoder = new TextEncoder();

/**
 * A signing secret prepared for many HMACs. The key is padded and hashed into the inner and
 * outer states once per algorithm (on first use); each digest copies those states, so a
 * delivery costs only the hashing of its own content.
 *
 * @example
 * ```ts
 * import { HmacKey } from "./_crypto.ts";
 * const key = new HmacKey("s3cret");
 * key.digest("sha256", "1700000000.", new TextEncoder().encode("{}")).length; // 32
 * ```
 */
export class HmacKey {
  readonly #key: Uint8Array;
  readonly #states = new Map<HmacAlgorithm, { inner: Hash; outer: Hash }>();

  /** `key` as text (its UTF-8 bytes are the key) or as bytes. */
  constructor(key: string | Uint8Array) {
    this.#key = typeof key === "string" ? _encoder.encode(key) : key;
  }

  /** HMAC of `prefix` (UTF-8) followed by the raw `content` bytes. */
  digest(algorithm: HmacAlgorithm, prefix: string, content: Uint8Array): Uint8Array {
    return this.#outer(algorithm, prefix, content).digest();
  }

  /**
   * The same HMAC as lowercase hex, for schemes that send hex: the runtime encodes it, and no
   * byte copy of the digest (nor of the signature) is made.
   */
  digestHex(algorithm: HmacAlgorithm, prefix: string, content: Uint8Array): string {
    return this.#outer(algorithm, prefix, content).digest("hex");
  }

  /** The outer hash state, fed with the inner hash of `prefix` and `content`. */
  #outer(algorithm: HmacAlgorithm, prefix: string, content: Uint8Array): Hash {
    const states = this.#states.get(algorithm) ?? this.#prepare(algorithm);
    const inner = states.inner.copy();
    if (prefix) inner.update(prefix);
    return states.outer.copy().update(inner.update(content).digest());
  }

  #prepare(algorithm: HmacAlgorithm): { inner: Hash; outer: Hash } {
    const block = new Uint8Array(_BLOCK_BYTES[algorithm]);
    // A key longer than the block is replaced by its hash (RFC 2104 section 2).
    block.set(
      this.#key.length > block.length
        ? createHash(algorithm).update(this.#key).digest()
        : this.#key,
    );
    const states = {
      inner: createHash(algorithm).update(block.map((b) => b ^ 0x36)),
      outer: createHash(algorithm).update(block.map((b) => b ^ 0x5c)),
    };
    this.#states.set(algorithm, states);
    return states;
  }
}

/** Secrets (text: their UTF-8 bytes; or key bytes) prepared once per verifier. */
export function prepareKeys(secrets: readonly (string | Uint8Array)[]): HmacKey[] {
  return secrets.map((s) => new HmacKey(s));
}

/**
 * One HMAC per key over `prefix` followed by the raw `body` bytes (the body is never
 * re-encoded).
 */
export function hmacDigests(
  keys: readonly HmacKey[],
  algorithm: HmacAlgorithm,
  prefix: string,
  body: Uint8Array,
): Uint8Array[] {
  return keys.map((key) => key.digest(algorithm, prefix, body));
}

/** {@linkcode hmacDigests} as lowercase hex (see {@linkcode HmacKey.digestHex}). */
export function hmacDigestsHex(
  keys: readonly HmacKey[],
  algorithm: HmacAlgorithm,
  prefix: string,
  body: Uint8Array,
): string[] {
  return keys.map((key) => key.digestHex(algorithm, prefix, body));
}

const _HEX = /^[0-9a-fA-F]*$/;
/**
 * The signature of a header value `<prefix><hex digest>` as lowercase hex, or undefined when
 * the prefix is missing or the rest is not `bytes` bytes of hex (so a malformed header can be
 * rejected as such, not as a wrong secret).
 *
 * @example
 * ```ts
 * import { signatureHex } from "./_crypto.ts";
 * signatureHex("sha256=" + "AB".repeat(32), "sha256=", 32); // "abab…ab"
 * signatureHex("sha256=abcd", "sha256=", 32); // undefined
 * ```
 */
export function signatureHex(value: string, prefix: string, bytes: number): string | undefined {
  if (!value.startsWith(prefix) || value.length !== prefix.length + 2 * bytes) return undefined;
  const hex = value.slice(prefix.length);
  return _HEX.test(hex) ? hex.toLowerCase() : undefined;
}

/**
 * Whether any computed digest equals any candidate signature, compared in constant time
 * (lengths are public: every digest of an algorithm has the same length).
 */
export function matchesAny(
  digests: readonly Uint8Array[],
  candidates: readonly Uint8Array[],
): boolean {
  return _anyEqual(digests, candidates, timingSafeEqual);
}

/**
 * {@linkcode matchesAny} for hex digests and candidates (lowercase, {@linkcode signatureHex}):
 * every character of equal-length texts is compared.
 */
export function matchesAnyHex(
  digests: readonly string[],
  candidates: readonly string[],
): boolean {
  return _anyEqual(digests, candidates, _sameText);
}

/** Whether any pair of equal length is `equal`; every such pair is compared, matched or not. */
function _anyEqual<T extends { length: number }>(
  digests: readonly T[],
  candidates: readonly T[],
  equal: (a: T, b: T) => boolean,
): boolean {
  let matched = false;
  for (const digest of digests) {
    for (const candidate of candidates) {
      if (candidate.length === digest.length && equal(candidate, digest)) matched = true;
    }
  }
  return matched;
}

/** Whether two texts of the same length are equal, looking at every character. */
function _sameText(a: string, b: string): boolean {
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return difference === 0;
}

/** HMAC of `content` with a text or byte key, for signing (not on the hot path). */
export function computeHmac(
  algorithm: HmacAlgorithm,
  key: string | Uint8Array,
  content: string,
): Buffer {
  return createHmac(algorithm, key).update(content).digest();
}

/** Hex text (either case) to bytes, or undefined when it is empty or not hex. */
export function decodeHex(text: string): Uint8Array | undefined {
  if (text.length === 0) return undefined;
  try {
    return Uint8Array.fromHex(text);
  } catch {
    return undefined; // odd length or a character that is not hex
  }
}

const _BASE64 =
  /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const _BASE64URL = /^[A-Za-z0-9_-]*={0,2}$/;
/** Base64 (standard or URL-safe, padded or not) to bytes, or undefined when it is not base64. */
export function decodeBase64(text: string): Uint8Array | undefined {
  if (text.length === 0) return undefined;
  if (_BASE64.test(text)) return Buffer.from(text, "base64");
  if (_BASE64URL.test(text)) return Buffer.from(text, "base64url");
  return undefined;
}

/**
 * The signature bytes of a header value `<prefix><encoded digest>`, or undefined when the prefix
 * is missing, the rest is not `encoding`, or it is not `bytes` long (so a malformed header can
 * be rejected as such, not as a wrong secret).
 *
 * @example
 * ```ts
 * import { decodeSignature } from "./_crypto.ts";
 * decodeSignature("sha256=" + "ab".repeat(32), "sha256=", "hex", 32)?.length; // 32
 * decodeSignature("sha256=abcd", "sha256=", "hex", 32); // undefined
 * ```
 */
export function decodeSignature(
  value: string,
  prefix: string,
  encoding: "hex" | "base64",
  bytes: number,
): Uint8Array | undefined {
  if (!value.startsWith(prefix)) return undefined;
  const encoded = value.slice(prefix.length);
  const sig = encoding === "hex" ? decodeHex(encoded) : decodeBase64(encoded);
  return sig?.length === bytes ? sig : undefined;
}

/** SHA-256 of the raw bytes, as lowercase hex (a stable id for bodies that carry none). */
export function sha256Hex(body: Uint8Array): string {
  return createHash("sha256").update(body).digest("hex");
}

const _ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/**
 * `prefix` plus `length` random base62 characters, e.g. `randomId("evt_", 24)`.
 *
 * @param random fills a byte array with random values; defaults to `crypto.getRandomValues`
 */
export function randomId(
  prefix: string,
  length: number,
  random: (bytes: Uint8Array) => Uint8Array = (b) => crypto.getRandomValues(b),
): string {
  const bytes = random(new Uint8Array(length));
  let out = prefix;
  // `% 62` is slightly biased over 256 values; irrelevant for sample ids.
  for (const b of bytes) out += _ALPHABET[b % 62];
  return out;
}
