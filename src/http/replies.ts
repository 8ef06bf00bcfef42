/**
 * Every answer the public server gives a sender, in one place. The bodies are small JSON
 * documents whose fields senders and scripts read; the README's "Responses" table documents
 * them and `tests/readme_responses_test.ts` checks that table against the server.
 *
 * Field rules: a success has `received: true` (plus `duplicate` / `ignored` when they hold);
 * a refusal has `error` (a stable code) and `message` (for people; never a secret or a
 * signature). The 403 body also keeps `reason` (the same text as `message`), the field it
 * had before `message` was unified, and the 429 body keeps `retry_after` (seconds).
 *
 * @example
 * ```ts
 * import { replies } from "./replies.ts";
 * replies.received({ duplicate: true, wanted: true }).status; // 200
 * replies.rateLimited(10).headers.get("retry-after"); // "10"
 * ```
 * @module
 */

import { jsonResponse } from "./json_response.ts";

/** The 200 answers, rendered once: they are on every delivery's path. */
const _RECEIVED = '{"received":true}';
const _DUPLICATE = '{"received":true,"duplicate":true}';
const _IGNORED = '{"received":true,"ignored":true}';
const _DUPLICATE_IGNORED = '{"received":true,"duplicate":true,"ignored":true}';
const _JSON_HEADERS = { "content-type": "application/json" } as const;

/** How long a sender is asked to wait after a 503 from the store, in seconds. */
export const STORE_RETRY_AFTER_SECONDS = 5;

/** A refusal body: a stable `error` code and a `message` for people. */
function refusal(
  status: number,
  error: string,
  message: string,
  headers?: Record<string, string>,
): Response {
  return jsonResponse(status, { error, message }, headers);
}

/** The answers of the public server, one function per row of the README's table. */
export const replies = {
  /** 200 after the row is committed: `received`, plus `duplicate` and `ignored` when they hold. */
  received(result: { duplicate: boolean; wanted: boolean }): Response {
    const body = result.duplicate
      ? (result.wanted ? _DUPLICATE : _DUPLICATE_IGNORED)
      : (result.wanted ? _RECEIVED : _IGNORED);
    return new Response(body, { status: 200, headers: _JSON_HEADERS });
  },
  /** A provider's own answer instead of `received` (GitHub `ping`, Slack challenge). */
  providerReply(reply: { status: number; body: unknown }): Response {
    return jsonResponse(reply.status, reply.body);
  },
  /** 400: the delivery failed verification (`code` is the provider's rejection code). */
  rejected(code: string, message: string): Response {
    return refusal(400, code, message);
  },
  /** 403: the client address is outside the route's allowlist. */
  forbidden(client: string): Response {
    const message = `client address ${client} is not in this route's ip_allowlist`;
    return jsonResponse(403, { error: "forbidden", message, reason: message });
  },
  /** 404: no webhook at this path. */
  notFound(path: string): Response {
    return refusal(404, "not_found", `no webhook is configured at ${path}`);
  },
  /** 405 on a webhook route: webhooks are POSTed. */
  postOnly(): Response {
    return refusal(405, "method_not_allowed", "webhooks are POSTed", { allow: "POST" });
  },
  /** 405 on `/healthz`: it is read with GET. */
  getOnly(): Response {
    return jsonResponse(405, { error: "method_not_allowed" }, { allow: "GET" });
  },
  /** 413: the body is over `server.max_body_bytes`. */
  bodyTooLarge(maxBytes: number): Response {
    return refusal(413, "body_too_large", `body exceeds server.max_body_bytes (${maxBytes} bytes)`);
  },
  /** 429 with `Retry-After`: over the rate limit. */
  rateLimited(seconds: number): Response {
    return jsonResponse(429, { error: "rate_limited", retry_after: seconds }, {
      "retry-after": String(seconds),
    });
  },
  /** 500: a `mode: sync` handler failed; the provider retries. */
  handlerFailed(): Response {
    return refusal(500, "handler_failed", "the handler failed; retry later");
  },
  /** 503 with `Retry-After`: the store could not commit; nothing was acknowledged. */
  storeUnavailable(): Response {
    return refusal(503, "store_unavailable", "try again later", {
      "retry-after": String(STORE_RETRY_AFTER_SECONDS),
    });
  },
  /** `GET /healthz` on the public port. */
  healthy(): Response {
    return jsonResponse(200, { ok: true });
  },
} as const;
