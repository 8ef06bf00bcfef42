/**
 * A handler's reply: the web `Response` a `mode: sync` handler (or its middleware) returns,
 * carried from the handler host to whd as plain JSON (status, headers, base64 body) and
 * rebuilt there as the delivery's answer. The body is bounded ({@linkcode MAX_REPLY_BYTES});
 * headers that belong to the connection (`content-length`, `transfer-encoding`, `connection`,
 * …) are dropped, the server sets its own.
 *
 * @example
 * ```ts
 * import { fromReply, toReply } from "./handler_reply.ts";
 * const reply = await toReply(new Response("hi", { status: 201 }));
 * const response = fromReply(reply);
 * response.status; // 201
 * await response.text(); // "hi"
 * ```
 * @module
 */
import { Buffer } from "node:buffer";

/** Most bytes of a reply body. A larger body fails the run with an error saying so. */
export const MAX_REPLY_BYTES = 65_536;

/** A Response as JSON: what crosses the host process boundary. */
export interface HandlerReply {
  status: number;
  headers: [string, string][];
  /** The body, base64. */
  body: string;
}

const _CONNECTION_HEADERS = new Set([
  "connection",
  "content-length",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
]);

/** Whether `value` is a web `Response` (also one from another realm). */
export function isResponse(value: unknown): value is Response {
  return value instanceof Response ||
    (typeof value === "object" && value !== null &&
      Object.prototype.toString.call(value) === "[object Response]");
}

/**
 * Serializes `response`, reading at most {@linkcode MAX_REPLY_BYTES} of its body. Throws an
 * Error naming the limit when the body is larger.
 */
export async function toReply(response: Response): Promise<HandlerReply> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (response.body) {
    const reader = response.body.getReader();
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > MAX_REPLY_BYTES) {
        await reader.cancel().catch(() => {});
        throw new Error(
          `the handler's Response body is larger than ${MAX_REPLY_BYTES} bytes, the most whd ` +
            "sends as a reply: return a smaller body (or store it and return a link)",
        );
      }
      chunks.push(value);
    }
  }
  return {
    status: response.status,
    headers: [...response.headers].filter(([name]) => !_CONNECTION_HEADERS.has(name)),
    body: Buffer.concat(chunks).toString("base64"),
  };
}

/** Rebuilds the `Response` of a serialized reply. */
export function fromReply(reply: HandlerReply): Response {
  const headers = new Headers();
  for (const [name, value] of reply.headers) {
    if (!_CONNECTION_HEADERS.has(name.toLowerCase())) headers.append(name, value);
  }
  const body = Buffer.from(reply.body, "base64");
  const empty = reply.status === 204 || reply.status === 205 || reply.status === 304;
  return new Response(empty ? null : body, { status: reply.status, headers });
}
