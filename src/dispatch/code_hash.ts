/**
 * The content hash handler modules are keyed by (in handler hosts and the host pool). Kept
 * apart from `data_url.ts` so the handler host does not load `node:crypto`.
 *
 * @example
 * ```ts
 * import { codeHash } from "./code_hash.ts";
 * codeHash("export default 42;").length; // 64
 * ```
 * @module
 */
import { createHash } from "node:crypto";

/** SHA-256 of `text`, hex. */
export function codeHash(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}
