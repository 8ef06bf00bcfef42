/**
 * `Deno.serve`'s HTTP engine on one connection the listener accepted itself: the runtime's
 * `serveHttpOnConnection` (reached through `Deno[Deno.internal]`, as it is not a public API).
 * It serves a connection twice as fast as the legacy `Deno.serveHttp` (measured with wrk on
 * this machine: ~97k vs ~49k requests/s for a bare handler), and, unlike `Deno.serve`, leaves
 * accepting — so the connection limit, EMFILE recovery and per-connection timeouts — to whd.
 * `close()` runs the runtime's non-graceful shutdown of the connection. It is what the runtime
 * does when the `signal` it was given aborts, but called directly: through a real signal, the
 * error it throws for a connection already gone would be an uncaught exception.
 *
 * @module
 */

/** One connection being served. */
export interface ConnectionServer {
  /** Resolves once the connection is closed. */
  readonly finished: Promise<void>;
  /** Closes the connection at once (a no-op once it is closed). */
  close(): void;
}

/** The part of an `AbortSignal` the runtime uses: it adds one "abort" listener. */
interface _CloseHook {
  addEventListener(type: "abort", listener: () => void): void;
}

type ServeOnConnection = (
  connection: Deno.Conn,
  signal: _CloseHook,
  handler: Deno.ServeHandler,
  onError: (error: unknown) => Response,
  onListen: () => void,
) => { finished: Promise<void> };

/** The runtime's function, or undefined on a Deno without it. */
function _serveOnConnection(): ServeOnConnection | undefined {
  const deno = Deno as unknown as Record<symbol, Record<string, unknown> | undefined>;
  const internal = (Deno as unknown as { internal?: symbol }).internal;
  const fn = internal === undefined ? undefined : deno[internal]?.serveHttpOnConnection;
  return typeof fn === "function" ? fn as ServeOnConnection : undefined;
}

const _serve = _serveOnConnection();

/** Throws when this Deno has no `serveHttpOnConnection` (whd is built and tested on Deno 2.9). */
export function assertConnectionServing(): void {
  if (_serve === undefined) {
    throw new Error(
      `this Deno (${Deno.version.deno}) has no serveHttpOnConnection; run whd on Deno 2.9 ` +
        "(the version its tasks and CI pin) or use the compiled binary",
    );
  }
}

/** Serves HTTP on `conn` until it closes or `close()` is called. */
export function serveConnection(
  conn: Deno.Conn,
  handler: Deno.ServeHandler,
  onError: (error: unknown) => Response,
): ConnectionServer {
  assertConnectionServing();
  let cancel: (() => void) | undefined;
  let closed = false;
  const hook: _CloseHook = { addEventListener: (_type, listener) => cancel = listener };
  const { finished } = _serve!(conn, hook, handler, onError, () => {});
  const done = finished.finally(() => closed = true);
  return {
    finished: done,
    close() {
      if (closed) return;
      closed = true;
      try {
        cancel?.();
      } catch {
        // Already closed by the runtime (the client went away first).
      }
    },
  };
}
