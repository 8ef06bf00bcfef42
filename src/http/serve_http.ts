/**
 * `Deno.serveHttp`, which serves one accepted connection request by request: it exists at
 * runtime in Deno 2 but is no longer in its types, so it is reached through a typed cast.
 *
 * @module
 */

/** A request as `Deno.serveHttp` hands it over. */
export interface RequestEvent {
  readonly request: Request;
  respondWith(response: Response | PromiseLike<Response>): Promise<void>;
}

/** A connection served by `Deno.serveHttp`. */
export interface HttpConn {
  nextRequest(): Promise<RequestEvent | null>;
  close(): void;
}

/** `Deno.serveHttp`, present in the Deno 2 runtime but removed from its types. */
export function serveHttp(conn: Deno.Conn): HttpConn {
  return (Deno as unknown as { serveHttp(conn: Deno.Conn): HttpConn }).serveHttp(conn);
}
