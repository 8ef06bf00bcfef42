/**
 * The HTTP listener under the request handler: our own accept loop (`Deno.listen`) with each
 * connection served by `Deno.serve`'s engine (`serve_http.ts`), so that whd, not the runtime,
 * decides how long a connection may take and how many there may be. `Deno.serve` itself has no
 * header, body or idle timeout and no connection limit, and dies of an uncaught EMFILE when
 * descriptors run out; here an accept error is caught, logged (one line a second at most) and
 * retried with backoff.
 *
 * Limits (see {@linkcode ListenerLimits}):
 * - a new connection's first request headers must be complete within `headerTimeoutMs`;
 * - a kept-alive connection's next request headers within `idleTimeoutMs` after the last answer;
 * - a request's body within `bodyTimeoutMs` after its headers (else 408, connection closed);
 * - headers over `maxHeaderBytes` get 431 and the connection is closed (the HTTP parser under
 *   the runtime caps headers itself, see README "Reliability");
 * - at most `maxConnections` open: at the limit the connection that has waited longest for a
 *   request (at least 250 ms) is closed to make room; when there is none (every one is
 *   busy or just opened) the new one is answered 503 at once and closed;
 * - when a request's body was not read to its end (413, or not read at all) the connection is
 *   closed right after the answer, so the rest is never read;
 * - on EMFILE the oldest waiting connections are closed first, then accept is retried (with
 *   backoff while there is none to close).
 *
 * The engine answers; whd closes: a connection whose answer was its last (unread body, 408,
 * 431, shutting down) is closed once the answer is written (`info.completed`).
 *
 * @example
 * ```ts ignore
 * import { listen } from "./listener.ts";
 * const listener = listen({ hostname: "127.0.0.1", port: 0, limits, log, clock, onError },
 *   (request) => new Response("ok"));
 * await listener.shutdown();
 * ```
 * @module
 */
import type { Clock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../ops/log.ts";
import { BODY_READ, ClientGoneError } from "./body.ts";
import { ConnectionTable, type Entry } from "./connection_table.ts";
import { headBytes } from "./head_bytes.ts";
import { createRefuser } from "./refuse.ts";
import { assertConnectionServing, type ConnectionServer, serveConnection } from "./serve_http.ts";
import { rateLimited } from "../ops/throttle.ts";

/** The limits the listener enforces (config `server:` keys, in milliseconds and bytes). */
export interface ListenerLimits {
  headerTimeoutMs: number;
  bodyTimeoutMs: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxHeaderBytes: number;
}

/** Options of {@linkcode listen}. */
export interface ListenOptions {
  hostname: string;
  port: number;
  /** SO_REUSEPORT, for `--workers N`. */
  reusePort?: boolean;
  limits: ListenerLimits;
  log: Logger;
  clock: Clock;
  /** Called once the port is open. */
  onListen?: (addr: Deno.NetAddr) => void;
  /** The answer to a request whose handler threw (other than a client that went away). */
  onError: (error: unknown) => Response;
}

/** A running listener. */
export interface Listener {
  /** The address it listens on (the port picked when 0 was asked). */
  readonly addr: Deno.NetAddr;
  /** Open connections and those waiting for a request. */
  stats(): { open: number; waiting: number };
  /**
   * Stops accepting, closes connections waiting for a request, lets requests in flight finish
   * (their answers close the connection) and resolves when every connection is closed.
   */
  shutdown(): Promise<void>;
}

/** A connection's state in the table. */
interface Connection {
  conn: Deno.Conn;
  /** Serves it; `close()` closes it at once. */
  server?: ConnectionServer;
  closed: boolean;
  /** While a request's body is awaited: makes its answer the given one (408 at the timeout). */
  answerNow?: (response: Response) => void;
  /** True while a request of this connection is being handled (see `handlerFor`). */
  inTurn: boolean;
  /** Requests (HTTP/2 multiplexed) waiting for their turn, each resumed in order. */
  queued: (() => void)[];
}

/**
 * How long a connection may take to send a last answer (`Connection: close`; whd closes the
 * connection once the answer is written) before it is closed anyway.
 */
const _CLOSING_MS = 1_000;

/**
 * A connection is closed to make room (at the connection limit, on EMFILE) only once it has
 * waited this long for a request: a new one is most likely sending its request right now, and
 * a flood of new connections must not push out the one a real client just opened.
 */
const _REAP_MIN_WAIT_MS = 250;

function _closing(status: number, error: string, message: string): Response {
  return new Response(JSON.stringify({ error, message }), {
    status,
    headers: { "content-type": "application/json", connection: "close" },
  });
}

/** Whether a request announces a body (so not reading it leaves bytes on the connection). */
function _hasBody(request: Request): boolean {
  const length = request.headers.get("content-length");
  if (length !== null) return length !== "0";
  return request.headers.has("transfer-encoding");
}

/** Starts listening and serving; throws what `Deno.listen` throws (e.g. AddrInUse). */
export function listen(options: ListenOptions, handler: Deno.ServeHandler): Listener {
  const { limits, log, clock } = options;
  assertConnectionServing();
  const listener = Deno.listen({
    transport: "tcp",
    hostname: options.hostname,
    port: options.port,
    reusePort: options.reusePort,
  });
  const table = new ConnectionTable<Connection>({
    headMs: limits.headerTimeoutMs,
    idleMs: limits.idleTimeoutMs,
    bodyMs: limits.bodyTimeoutMs,
    closingMs: _CLOSING_MS,
  });
  const serving = new Set<Promise<void>>();
  let stopping = false;

  const close = (entry: Entry<Connection>): void => {
    const state = entry.value;
    if (state.closed) return;
    state.closed = true;
    table.remove(entry);
    state.answerNow = undefined;
    state.server?.close();
  };

  /**
   * Closes up to `count` connections that have waited longest for a request, and at least
   * `minWaitMs` (0 at shutdown).
   */
  const reapIdle = (count: number, minWaitMs = _REAP_MIN_WAIT_MS): number => {
    let reaped = 0;
    const now = clock.now();
    while (reaped < count) {
      const entry = table.oldestIdle(now, minWaitMs);
      if (!entry) break;
      close(entry);
      reaped++;
    }
    return reaped;
  };

  const acceptFailed = rateLimited(clock, 1000, (suppressed, error: unknown, reaped: number) => {
    log.warn("accepting a connection failed; retrying", {
      error: errorMessage(error),
      open: table.size,
      reaped_idle: reaped,
      suppressed,
    });
  });
  const refused = rateLimited(clock, 1000, (suppressed) => {
    log.warn("connection limit reached: refusing connections (503)", {
      max_connections: limits.maxConnections,
      refused: suppressed + 1,
    });
  });

  const sweep = () => {
    const now = clock.now();
    for (const entry of table.expired(now)) {
      const state = entry.value;
      if (entry.phase === "body" && state.answerNow) {
        const answerNow = state.answerNow;
        state.answerNow = undefined;
        table.enter(entry, "closing", now);
        log.debug("request body too slow; answering 408 and closing", {
          timeout_ms: limits.bodyTimeoutMs,
        });
        answerNow(_closing(408, "request_timeout", "the request body did not arrive in time"));
      } else if (entry.phase === "closing") {
        close(entry);
      } else {
        log.debug(
          entry.phase === "head"
            ? "request headers too slow; closing the connection"
            : "idle connection timed out; closing it",
          { phase: entry.phase },
        );
        close(entry);
      }
    }
  };
  const tick = Math.min(
    1000,
    Math.max(25, Math.min(limits.headerTimeoutMs, limits.idleTimeoutMs, limits.bodyTimeoutMs) / 4),
  );
  const sweeper = setInterval(sweep, tick);

  /**
   * The request handler of one connection. A connection handles one request at a time, as
   * HTTP/1.1 has it (an HTTP/2 client multiplexing requests has them handled in turn), so a
   * connection's phase and deadline always belong to one request, one connection never holds
   * more than one body, and the current request's state lives here, with callbacks made once
   * per connection rather than per request: each request's own promises and closures live as
   * long as it waits for the store, past the young generation's collections (README
   * "Performance").
   */
  const handlerFor = (entry: Entry<Connection>): Deno.ServeHandler => {
    const state = entry.value;
    // The request whose turn it is.
    let request: Request | undefined;
    let info: Deno.ServeHandlerInfo | undefined;
    let bodyRead: boolean | undefined;
    let answeredByUs = false;
    let answer: ((response: Response) => void) | undefined;

    const nextTurn = () => {
      request = info = answer = undefined;
      const next = state.queued.shift();
      if (next) next();
      else state.inTurn = false;
    };
    /** Once an answer is written, the connection waits for its next request. */
    const written = () => {
      // Stopping: no new requests are waited for; the closing deadline ends it.
      if (!state.closed && entry.phase === "busy") {
        table.enter(entry, stopping ? "closing" : "idle", clock.now());
      }
    };
    const writeFailed = () => close(entry);
    /**
     * Makes this answer the connection's last. The connection is closed once the runtime has
     * written it out: one macrotask after `completed` (which resolves as the answer is handed
     * over; closing at once dropped it, measured), else the runtime would go on reading and
     * discarding an unread body until its end. The closing deadline closes it if the answer
     * never gets out.
     */
    const closeAfter = (response: Response): Response => {
      info!.completed.then(() => setTimeout(() => close(entry), 0), writeFailed);
      table.enter(entry, "closing", clock.now());
      return response;
    };
    const onBodyRead = (of: Request, complete: boolean) => {
      if (of !== request) return; // a request answered earlier (408) finished reading late
      bodyRead = complete;
      state.answerNow = undefined;
      if (!state.closed && entry.phase === "body") table.enter(entry, "busy", clock.now());
    };
    // The 408 when the body does not arrive in time: it answers in the handler's place.
    const answerNow = (response: Response) => {
      answeredByUs = true;
      answer?.(response);
    };
    const answered = (response: Response): Response => {
      state.answerNow = undefined;
      try {
        // Ours: the handler is still reading the body; it fails once the connection is closed.
        if (answeredByUs) return closeAfter(response);
        if (state.closed) return response;
        // The rest of the body is still on the wire: answer, then close without reading it.
        const unread = bodyRead === undefined ? _hasBody(request!) : !bodyRead;
        if (unread || stopping) {
          try {
            response.headers.set("connection", "close");
          } catch { /* immutable headers: the connection is closed all the same */ }
          return closeAfter(response);
        }
        table.enter(entry, "busy", clock.now());
        return response;
      } finally {
        nextTurn();
      }
    };
    const failed = (error: unknown): Response => {
      state.answerNow = undefined;
      if (error instanceof ClientGoneError || state.closed) {
        if (!state.closed) {
          log.debug("client disconnected mid-request", {
            error: errorMessage(error instanceof ClientGoneError ? error.cause : error),
          });
        }
        close(entry);
        nextTurn();
        return _closing(400, "client_gone", "the connection was closed");
      }
      return answered(options.onError(error));
    };

    const handle = (
      current: Request,
      currentInfo: Deno.ServeHandlerInfo,
    ): Response | Promise<Response> => {
      request = current;
      info = currentInfo;
      if (state.closed) {
        nextTurn();
        return _closing(503, "connection_closed", "the connection was closed");
      }
      // The runtime creates `completed` on first access, and rejects it when the answer could
      // not be written (handled here: unhandled, it would end the process).
      currentInfo.completed.then(written, writeFailed);
      if (headBytes(current) > limits.maxHeaderBytes) {
        const response = closeAfter(_closing(
          431,
          "headers_too_large",
          `request headers exceed server.max_header_bytes (${limits.maxHeaderBytes} bytes)`,
        ));
        nextTurn();
        return response;
      }
      table.enter(entry, "body", clock.now());
      bodyRead = undefined;
      answeredByUs = false;
      (current as Request & { [BODY_READ]?: typeof onBodyRead })[BODY_READ] = onBodyRead;
      // The handler's answer, or ours (408) when the body does not arrive in time.
      const race = Promise.withResolvers<Response>();
      answer = race.resolve;
      state.answerNow = answerNow;
      try {
        Promise.resolve(handler(current, currentInfo)).then(race.resolve, race.reject);
      } catch (error) {
        race.reject(error);
      }
      return race.promise.then(answered, failed);
    };

    return (current, currentInfo) => {
      if (!state.inTurn) {
        state.inTurn = true;
        return handle(current, currentInfo);
      }
      return new Promise<void>((resume) => state.queued.push(resume))
        .then(() => handle(current, currentInfo));
    };
  };

  const serve = (conn: Deno.Conn): Promise<void> => {
    const entry = table.add({ conn, closed: false, inTurn: false, queued: [] }, clock.now());
    let server: ConnectionServer;
    try {
      server = serveConnection(conn, handlerFor(entry), options.onError);
    } catch (error) {
      log.debug("could not serve a connection", { error: errorMessage(error) });
      close(entry);
      try {
        conn.close();
      } catch { /* closed */ }
      return Promise.resolve();
    }
    entry.value.server = server;
    return server.finished.then(
      () => close(entry),
      (error) => {
        if (!entry.value.closed) {
          log.debug("connection ended with an error", { error: errorMessage(error) });
        }
        close(entry);
      },
    );
  };

  const refuse = createRefuser();

  const track = (conn: Deno.Conn) => {
    const done = serve(conn);
    serving.add(done);
    done.finally(() => serving.delete(done));
  };

  const accepting = (async () => {
    let backoff = 0;
    while (!stopping) {
      // At the limit, make room before accepting: the new connection needs a descriptor.
      if (table.size >= limits.maxConnections) reapIdle(1);
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        backoff = 0;
      } catch (error) {
        if (stopping || error instanceof Deno.errors.BadResource) break;
        // Out of descriptors (EMFILE/ENFILE) or a transient error: make room, then retry.
        const reaped = reapIdle(Math.max(1, Math.ceil(table.waiting / 10)));
        acceptFailed(error, reaped);
        backoff = reaped > 0 ? 0 : Math.min(1000, Math.max(10, backoff * 2));
        if (backoff > 0) await new Promise((r) => setTimeout(r, backoff));
        continue;
      }
      if (table.size >= limits.maxConnections) {
        refused();
        refuse(conn);
        continue;
      }
      track(conn);
    }
  })();

  const addr = listener.addr as Deno.NetAddr;
  options.onListen?.(addr);
  return {
    addr,
    stats: () => ({ open: table.size, waiting: table.waiting }),
    async shutdown() {
      stopping = true;
      try {
        listener.close();
      } catch { /* closed */ }
      await accepting;
      reapIdle(Infinity, 0);
      await Promise.all([...serving]);
      clearInterval(sweeper);
    },
  };
}
