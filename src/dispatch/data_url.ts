/**
 * Module text helpers: an importable `data:` URL (the one way a compiled binary can import
 * code that was not embedded at compile time) and the content hash handler hosts and the
 * bundle cache key modules by.
 *
 * @example
 * ```ts
 * import { codeHash, toDataUrl } from "./data_url.ts";
 * const mod = await import(toDataUrl("export default 42;"));
 * codeHash("export default 42;").length; // 64
 * ```
 * @module
 */
import { createHash } from "node:crypto";

/** Encodes module text as a base64 `data:text/javascript` URL. */
export function toDataUrl(code: string): string {
  const bytes = new TextEncoder().encode(code);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:text/javascript;base64,${btoa(binary)}`;
}

/** SHA-256 of `text`, hex. */
export function codeHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
