/**
 * The web console on the admin listener: the page and its assets (embedded), the login form,
 * and the JSON API the page reads and acts through (`docs/console_api.md`). Every answer carries
 * the console's security headers; without a token, every request must name a loopback `Host`
 * (DNS rebinding);
 * with a token, every request needs `Authorization: Bearer <token>` or the session cookie from
 * the login form; every POST but `/login` needs the CSRF token and a same-origin `Origin`.
 * JSON answers go through the secret scrubber on their way out.
 *
 * @example
 * ```ts ignore
 * const console = createConsole({ inbox, token, handlers, scrub, clock, log });
 * const response = await console.handle(request);
 * console.close(); // ends the live streams
 * ```
 * @module
 */
import type { TimerClock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import { readBody } from "../http/body.ts";
import {
  EVENT_STATUSES,
  type EventStatus,
  type Inbox,
  REQUEUEABLE_STATUSES,
  StoreUnavailable,
} from "../inbox/types.ts";
import { type ConsoleFilter, decodeCursor, MAX_PAGE } from "../inbox/console_queries.ts";
import { bearerMatches, sameSecret } from "../ops/admin.ts";
import type { Logger } from "../ops/log.ts";
import { rateLimited } from "../ops/throttle.ts";
import { consoleAsset } from "./console_assets.ts";
import type { HandlerTable } from "./console_handlers.ts";
import { loginPage } from "./console_login.ts";
import { hostAllowed, sameOrigin, SECURITY_HEADERS } from "./console_security.ts";
import { type Session, SESSION_COOKIE, SessionStore } from "./console_sessions.ts";
import { StreamHub, withTotal } from "./console_stream.ts";
import { ThroughputCache } from "./console_throughput.ts";

/** What the console needs. */
export interface ConsoleDeps {
  inbox: Pick<Inbox, "console" | "requeue" | "replay" | "backlog" | "find">;
  /** The admin token; undefined: none (the listener is on loopback and open). */
  token?: string;
  /** The live handler table (`whd handlers`). */
  handlers(): HandlerTable;
  /** Removes secrets from text (the log's scrubber). */
  scrub(text: string): string;
  clock: TimerClock;
  log: Logger;
  /** Wakes the dispatcher after a retry or replay. */
  wake?: () => void;
  /** Session ids and CSRF tokens (default: 32 random bytes each). */
  random?: () => string;
  /** Most live streams at once (default 16). */
  maxStreams?: number;
  /** How often live streams check the store (default 1000 ms). */
  streamIntervalMs?: number;
  /**
   * How long after a throughput bucket ends a run started in it may still be recorded (the
   * handlers' timeout plus margin); older buckets are counted once. Default 5 minutes.
   */
  settleMs?: number;
}

/** A running console. */
export interface Console {
  /** Answers one request to the admin listener that is not `/healthz`, `/readyz`, `/metrics`. */
  handle(request: Request): Promise<Response>;
  /** Ends the live streams (before the listener shuts down). */
  close(): void;
}

/** Throughput ranges: bucket size and count. */
const _RANGES: ReadonlyMap<string, { bucketMs: number; count: number }> = new Map([
  ["hour", { bucketMs: 60_000, count: 60 }],
  ["day", { bucketMs: 900_000, count: 96 }],
]);

/** The statuses Retry takes, for its 409 message. */
const _REQUEUEABLE_TEXT = REQUEUEABLE_STATUSES.join(", ");

/** Dead events re-queued per transaction by a bulk retry (~40 ms each). */
const _REQUEUE_CHUNK = 1000;

/** Largest request body the console reads (login form, bulk retry). */
const _MAX_BODY = 8192;

/** A request the console refuses, with its status and JSON error. */
class _Refusal extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

function _bad(message: string): _Refusal {
  return new _Refusal(400, "bad_request", message);
}

/** Builds the console. */
export function createConsole(deps: ConsoleDeps): Console {
  const { inbox, clock, log } = deps;
  const queries = inbox.console();
  // A refused login is worth a line, but a flood of them is one line a minute.
  const refusedLogin = rateLimited(clock, 60_000, (suppressed: number) => {
    log.warn(
      "console login refused: wrong admin token",
      suppressed ? { since_last: suppressed } : {},
    );
  });
  const throughput = new ThroughputCache(queries, { settleMs: deps.settleMs });
  const sessions = new SessionStore({ now: () => clock.now(), random: deps.random });
  const streams = new StreamHub({
    queries,
    clock,
    log,
    maxStreams: deps.maxStreams,
    intervalMs: deps.streamIntervalMs,
  });

  const headers = (extra: Record<string, string> = {}) => ({
    ...SECURITY_HEADERS,
    "cache-control": "no-store",
    ...extra,
  });
  const json = (status: number, body: unknown, extra: Record<string, string> = {}) =>
    new Response(deps.scrub(JSON.stringify(body)), {
      status,
      headers: headers({ "content-type": "application/json; charset=utf-8", ...extra }),
    });
  const error = (status: number, code: string, message: string) =>
    json(status, { error: code, message });
  const html = (status: number, body: string, extra: Record<string, string> = {}) =>
    new Response(body, {
      status,
      headers: headers({ "content-type": "text/html; charset=utf-8", ...extra }),
    });
  /** A 303 to the console's page, with `extra` headers. */
  const home = (extra: Record<string, string> = {}) => html(303, "", { location: "/", ...extra });
  /** The session cookie holding `value` for `maxAge` seconds (0: cleared). */
  const sessionCookie = (value: string, maxAge: number, secure: boolean) =>
    `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAge}` +
    (secure ? "; Secure" : "");

  /** Who is asking: `ok` false when a token is needed and none came. */
  const authenticate = (request: Request): { ok: boolean; session?: Session } => {
    if (deps.token === undefined) return { ok: true };
    const session = sessions.find(request.headers.get("cookie"));
    if (session) return { ok: true, session };
    return { ok: bearerMatches(request.headers.get("authorization"), deps.token) };
  };

  const login = async (request: Request): Promise<Response> => {
    if (deps.token === undefined) return home();
    if (!sameOrigin(request.headers)) return html(403, loginPage("Log in from this page."));
    const form = new URLSearchParams(await _readBody(request));
    const sent = form.get("token") ?? "";
    if (!sameSecret(sent, deps.token)) {
      refusedLogin();
      return html(401, loginPage("That is not the admin token. Try again."));
    }
    const session = sessions.create();
    const secure = request.headers.get("x-forwarded-proto")?.split(",")[0].trim() === "https";
    const maxAge = Math.floor((session.expires - clock.now()) / 1000);
    return home({ "set-cookie": sessionCookie(session.id, maxAge, secure) });
  };

  const api = async (
    request: Request,
    url: URL,
    session: Session | undefined,
  ): Promise<Response> => {
    const path = url.pathname;
    const method = request.method;
    if (method === "POST") {
      const csrf = request.headers.get("x-csrf-token") ?? "";
      if (
        !sameOrigin(request.headers) || !sameSecret(csrf, session?.csrf ?? sessions.processCsrf)
      ) {
        return error(
          403,
          "csrf",
          "send the X-CSRF-Token header from GET /api/session, from the console's own origin",
        );
      }
    }
    const only = (allowed: "GET" | "POST") => {
      const ok = allowed === "GET" ? method === "GET" || method === "HEAD" : method === "POST";
      if (!ok) {
        throw new _Refusal(405, "method_not_allowed", `${path} takes ${allowed}`);
      }
    };
    const segments = path.split("/").slice(2).map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        throw _bad(`the path segment ${JSON.stringify(s)} is not URL-encoded text`);
      }
    });
    const now = clock.now();
    switch (segments[0]) {
      case "session":
        only("GET");
        return json(200, {
          csrf: session?.csrf ?? sessions.processCsrf,
          auth: deps.token === undefined ? "none" : "token",
        });
      case "counts":
        only("GET");
        return json(200, withTotal(await queries.counts()));
      case "events": {
        if (segments.length === 1) {
          only("GET");
          return json(200, await queries.list(_filter(url.searchParams)));
        }
        if (segments.length < 3 || segments.length > 4 || !segments[1] || !segments[2]) {
          throw new _Refusal(404, "not_found", "the path is /api/events/<provider>/<id>");
        }
        const key = { provider: segments[1], id: segments[2] };
        const noEvent = () =>
          error(404, "not_found", `no event ${key.id} of provider ${key.provider} in the store`);
        if (segments.length === 3) {
          only("GET");
          const found = await queries.detail(key);
          if (found === null) return noEvent();
          return json(200, {
            ...found,
            actions: {
              retry: REQUEUEABLE_STATUSES.includes(found.event.status),
              replay: found.event.status === "done",
            },
          });
        }
        only("POST");
        if (segments[3] !== "retry" && segments[3] !== "replay") {
          throw new _Refusal(404, "not_found", "the actions are retry and replay");
        }
        const done = segments[3] === "retry"
          ? (await inbox.requeue(key, now)).length > 0
          : await inbox.replay(key, now);
        if (!done) {
          const [event] = await inbox.find(key.id, key.provider);
          if (!event) return noEvent();
          return segments[3] === "retry"
            ? error(
              409,
              "not_retryable",
              `a ${event.status} event cannot be retried (only ${_REQUEUEABLE_TEXT} ones); ` +
                "replay runs a done event again",
            )
            : error(
              409,
              "not_replayable",
              `a ${event.status} event cannot be replayed (only done ones); retry runs ` +
                "failed or dead ones again",
            );
        }
        log.info(`console: event ${segments[3] === "retry" ? "retried" : "replayed"}`, key);
        deps.wake?.();
        return json(200, { ok: true, status: "pending" });
      }
      case "dead":
        if (segments.length === 1) {
          only("GET");
          return json(200, { groups: await queries.dead() });
        }
        if (segments[1] === "retry" && segments.length === 2) {
          only("POST");
          const body = _deadTarget(await _readBody(request));
          // In chunks, each a short transaction: 100k dead events in one UPDATE would hold the
          // store (and every delivery waiting on it) for seconds.
          // Only events dead when the request came: one that runs and dies again meanwhile is
          // not taken twice (and the loop ends).
          let requeued = 0;
          while (true) {
            const keys = await inbox.requeue(
              { status: "dead", ...body, limit: _REQUEUE_CHUNK, updatedBy: now },
              clock.now(),
            );
            requeued += keys.length;
            if (keys.length > 0) deps.wake?.();
            if (keys.length < _REQUEUE_CHUNK) break;
          }
          log.info("console: dead events retried", { ...body, count: requeued });
          return json(200, { requeued });
        }
        break;
      case "throughput": {
        only("GET");
        const name = url.searchParams.get("range") ?? "hour";
        const range = _RANGES.get(name);
        if (!range) throw _bad(`range ${JSON.stringify(name)}: use hour or day`);
        const to = (Math.floor(now / range.bucketMs) + 1) * range.bucketMs;
        const from = to - range.bucketMs * range.count;
        const [buckets, backlog] = await Promise.all([
          throughput.read(from, range.bucketMs, range.count, now),
          inbox.backlog(),
        ]);
        return json(200, {
          bucket_ms: range.bucketMs,
          from,
          to,
          buckets,
          backlog: {
            pending: backlog.counts.pending,
            failed: backlog.counts.failed,
            running: backlog.counts.running,
            dead: backlog.counts.dead,
            oldest_waiting_at: backlog.oldestWaitingAt,
          },
        });
      }
      case "handlers":
        only("GET");
        return json(200, deps.handlers());
      case "stream": {
        only("GET");
        const response = streams.open(headers());
        if (response === null) {
          return error(
            429,
            "too_many_streams",
            "too many live consoles are open; close one (the page falls back to polling)",
          );
        }
        return response;
      }
    }
    throw new _Refusal(404, "not_found", `no console API at ${path}`);
  };

  return {
    async handle(request) {
      if (!hostAllowed(request.headers.get("host"), deps.token === undefined)) {
        return error(
          421,
          "bad_host",
          "without admin.token_env this console answers to localhost and 127.0.0.1 only (a DNS " +
            "rebinding guard); open it by that address or through an SSH tunnel, or set a token",
        );
      }
      const url = new URL(request.url);
      const path = url.pathname;
      try {
        if (path === "/login") {
          if (request.method === "POST") return await login(request);
          if (request.method !== "GET" && request.method !== "HEAD") {
            return error(405, "method_not_allowed", "/login takes GET and POST");
          }
          return deps.token === undefined ? home() : html(200, loginPage());
        }
        const auth = authenticate(request);
        if (path === "/logout") {
          if (request.method !== "POST") {
            return error(405, "method_not_allowed", "/logout takes POST");
          }
          const csrf = request.headers.get("x-csrf-token") ??
            new URLSearchParams(await _readBody(request)).get("csrf") ?? "";
          if (!auth.session) {
            return error(
              403,
              "csrf",
              "no login session to end: /logout is for a browser logged in at /",
            );
          }
          if (!sameOrigin(request.headers) || !sameSecret(csrf, auth.session.csrf)) {
            return error(403, "csrf", "log out from the console's own page");
          }
          sessions.end(auth.session);
          return home({ "set-cookie": sessionCookie("", 0, false) });
        }
        if (!auth.ok) {
          // Nothing but the login page before the token: not even which paths exist.
          if (path === "/" && request.method === "GET") return html(200, loginPage());
          return json(401, {
            error: "unauthorized",
            message: "log in at / or send Authorization: Bearer <the token in admin.token_env>",
          }, { "www-authenticate": 'Bearer realm="whd admin"' });
        }
        if (path.startsWith("/api/")) return await api(request, url, auth.session);
        if (request.method !== "GET" && request.method !== "HEAD") {
          return error(405, "method_not_allowed", `${path} takes GET`);
        }
        const asset = consoleAsset(path === "/index.html" ? "/" : path);
        if (asset === undefined) return error(404, "not_found", `nothing at ${path}`);
        return new Response(asset.body, { headers: headers({ "content-type": asset.type }) });
      } catch (caught) {
        if (caught instanceof _Refusal) return error(caught.status, caught.code, caught.message);
        if (caught instanceof StoreUnavailable) {
          return error(503, "store_unavailable", caught.message);
        }
        log.error("console request failed", { path, error: errorMessage(caught) });
        return error(500, "internal_error", "the console failed; see whd's log");
      }
    },
    close() {
      streams.close();
    },
  };
}

/** The list filter from query parameters; throws a 400 naming a bad one. */
function _filter(params: URLSearchParams): ConsoleFilter {
  const filter: ConsoleFilter = {};
  for (const field of ["provider", "webhook", "type", "q"] as const) {
    const value = params.get(field);
    if (value !== null && value !== "") filter[field] = value;
  }
  const status = params.get("status");
  if (status !== null && status !== "") {
    if (!EVENT_STATUSES.includes(status as EventStatus)) {
      throw _bad(`status ${JSON.stringify(status)}: use one of ${EVENT_STATUSES.join(", ")}`);
    }
    filter.status = status as EventStatus;
  }
  for (const field of ["since", "until", "limit"] as const) {
    const value = params.get(field);
    if (value === null || value === "") continue;
    const n = Number(value);
    if (!/^\d{1,16}$/.test(value) || !Number.isSafeInteger(n)) {
      throw _bad(
        `${field} ${JSON.stringify(value)}: give a whole number` +
          (field === "limit" ? ` from 1 to ${MAX_PAGE}` : " of milliseconds since the epoch"),
      );
    }
    if (field === "limit" && (n < 1 || n > MAX_PAGE)) {
      throw _bad(`limit ${n}: give 1 to ${MAX_PAGE}`);
    }
    filter[field] = n;
  }
  const cursor = params.get("cursor");
  if (cursor !== null && cursor !== "") {
    if (decodeCursor(cursor) === undefined) {
      throw _bad("cursor: pass back the next value of the last page unchanged");
    }
    filter.cursor = cursor;
  }
  return filter;
}

/** The `{ provider?, type? }` of a bulk retry body; throws a 400 when it is not that. */
function _deadTarget(text: string): { provider?: string; type?: string } {
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw _bad('the body must be JSON such as {"provider":"stripe","type":"invoice.paid"} or {}');
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw _bad('the body must be a JSON object such as {"provider":"stripe"} or {}');
  }
  const out: { provider?: string; type?: string } = {};
  for (const [key, value] of Object.entries(body)) {
    if (key !== "provider" && key !== "type") {
      throw _bad(`unknown field ${JSON.stringify(key)}: the body takes provider and type`);
    }
    if (typeof value !== "string" || value === "") {
      throw _bad(`${key} must be a non-empty string`);
    }
    out[key] = value;
  }
  return out;
}

/** The request body as text, at most 8 KiB (a 413 refusal beyond). */
async function _readBody(request: Request): Promise<string> {
  const bytes = await readBody(request, _MAX_BODY);
  if (bytes === null) throw new _Refusal(413, "too_large", `the body is over ${_MAX_BODY} bytes`);
  return new TextDecoder().decode(bytes);
}
