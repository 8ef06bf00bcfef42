/**
 * Refusing a connection over the listener's limit: a fixed 503 answer written straight to the
 * socket (no HTTP server is started for it), with a cap on refusals in progress.
 *
 * @module
 */

/** Refused connections answered at once (each holds a descriptor until then). */
const _MAX_REFUSING = 64;
/** How long a refused connection is waited on for its request before it is just closed. */
const _REFUSE_WAIT_MS = 100;

const _REFUSED = new TextEncoder().encode(
  "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n" +
    'connection: close\r\ncontent-length: 55\r\n\r\n{"error":"too_many_connections","message":"try again"}\n',
);

/**
 * A function that answers 503 to a connection over the limit and closes it. The answer waits
 * (briefly) for the request: an answer that arrives before the request was sent looks like
 * garbage to an HTTP client. Past `_MAX_REFUSING` refusals in progress, it closes at once.
 */
export function createRefuser(): (conn: Deno.Conn) => Promise<void> {
  let refusing = 0;
  return async (conn: Deno.Conn): Promise<void> => {
    if (refusing >= _MAX_REFUSING) {
      conn.close();
      return;
    }
    refusing++;
    const timer = setTimeout(() => conn.close(), _REFUSE_WAIT_MS);
    try {
      if (await conn.read(new Uint8Array(1024)) !== null) await conn.write(_REFUSED);
    } catch { /* closed by the timer, or by the client */ }
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
    refusing--;
  };
}
