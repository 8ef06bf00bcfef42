/**
 * Reads a request body without ever holding more than `max` bytes of it.
 *
 * @example
 * ```ts
 * import { readBody } from "./body.ts";
 * const body = await readBody(new Request("http://x", { method: "POST", body: "{}" }), 1024);
 * // body is a Uint8Array, or null when it exceeded the limit
 * ```
 * @module
 */

/**
 * The client went away (closed or reset the connection) before its body was read: nobody is
 * left to answer, and it is not whd's fault — worth a debug line, not a stack trace.
 */
export class ClientGoneError extends Error {
  constructor(cause: unknown) {
    super("the client closed the connection before its request body was read", { cause });
    this.name = "ClientGoneError";
  }
}

/** Whether a body read failed because the connection broke (not a bug of ours). */
function _connectionError(error: unknown): boolean {
  const e = Deno.errors;
  return [
    e.BadResource,
    e.ConnectionReset,
    e.ConnectionAborted,
    e.BrokenPipe,
    e.UnexpectedEof,
    e.Interrupted,
    e.Http,
  ].some((kind) => error instanceof kind);
}

/**
 * Where the listener (`listener.ts`) hangs, on a request it serves, the callback told when the
 * body of that request has been read (`true`) or given up on (`false`: too large, or the read
 * failed). It stops the body timeout then, and closes the connection after the answer when the
 * rest of the body was not read. The request is passed along: one callback serves all the
 * requests of a connection.
 */
export const BODY_READ: unique symbol = Symbol("whd.bodyRead");

/** A request the listener can be told about. */
type Watched = Request & { [BODY_READ]?: (request: Request, complete: boolean) => void };

/**
 * The body's bytes, or `null` when it is larger than `max` (reading stops there). Throws
 * {@linkcode ClientGoneError} when the connection breaks mid-body.
 */
export async function readBody(request: Request, max: number): Promise<Uint8Array | null> {
  const done = (request as Watched)[BODY_READ];
  try {
    const body = await _read(request, max);
    done?.(request, body !== null);
    return body;
  } catch (error) {
    done?.(request, false);
    throw _connectionError(error) ? new ClientGoneError(error) : error;
  }
}

async function _read(request: Request, max: number): Promise<Uint8Array | null> {
  const declared = request.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > max) return null;
    // Before touching `request.body`: `Deno.serve` then hands over a body that has fully
    // arrived without creating a ReadableStream (2–3 µs a request).
    const bytes = await request.bytes();
    return bytes.byteLength > max ? null : bytes;
  }
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = request.body.getReader();
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
