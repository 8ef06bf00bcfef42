/**
 * Module text → importable `data:` URL (the one way a compiled binary can import code that
 * was not embedded at compile time).
 *
 * @example
 * ```ts
 * import { toDataUrl } from "./data_url.ts";
 * const mod = await import(toDataUrl("export default 42;"));
 * ```
 * @module
 */

/** Encodes module text as a base64 `data:text/javascript` URL. */
export function toDataUrl(code: string): string {
  const bytes = new TextEncoder().encode(code);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return `data:text/javascript;base64,${btoa(binary)}`;
}
