/**
 * The small JSON answers whd gives senders.
 *
 * @example
 * ```ts
 * import { jsonResponse } from "./json_response.ts";
 * jsonResponse(429, { error: "rate_limited" }, { "retry-after": "10" });
 * ```
 * @module
 */

/** A JSON response with `status`, `body` and extra `headers`. */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}
