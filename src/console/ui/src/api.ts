/// <reference lib="dom" />
/**
 * The console's API client (docs/console_api.md): JSON in and out, the CSRF token from
 * `GET /api/session` on every POST, and one error type carrying the server's `message`.
 * @module
 */

/** Statuses an event can have, in the order the page lists them. */
export const STATUSES = [
  "pending",
  "running",
  "done",
  "failed",
  "dead",
  "ignored",
  "unhandled",
] as const;

/** One status. */
export type Status = (typeof STATUSES)[number];

/** Counts per status, plus `total`. */
export type Counts = Record<Status | "total", number>;

/** A row of the events list. */
export interface EventSummary {
  provider: string;
  id: string;
  webhook: string;
  type: string;
  status: Status;
  source: string;
  attempts: number;
  received_at: number;
  updated_at: number;
  completed_at: number | null;
  next_attempt_at: number | null;
  last_error: string | null;
}

/** One handler run of an event. */
export interface Attempt {
  attempt: number;
  started_at: number;
  duration_ms: number | null;
  outcome: "ok" | "error" | "timeout" | "crashed";
  error: string | null;
  output: string | null;
}

/** `GET /api/events/<provider>/<id>`. */
export interface EventDetail {
  event: EventSummary & { payload: string; headers: Record<string, string> };
  attempts: Attempt[];
  actions: { retry: boolean; replay: boolean };
}

/** `GET /api/events`. */
export interface EventPage {
  events: EventSummary[];
  next: string | null;
}

/** A group of `GET /api/dead`. */
export interface DeadGroup {
  provider: string;
  type: string;
  count: number;
  last_error: string | null;
  newest_at: number;
}

/** A bucket of `GET /api/throughput`. */
export interface Bucket {
  t: number;
  received: number;
  ok: number;
  error: number;
  timeout: number;
  crashed: number;
}

/** `GET /api/throughput`. */
export interface Throughput {
  bucket_ms: number;
  from: number;
  to: number;
  buckets: Bucket[];
  backlog: {
    pending: number;
    failed: number;
    running: number;
    dead: number;
    oldest_waiting_at: number | null;
  };
}

/** `GET /api/handlers`. */
export interface Handlers {
  /** The handlers directory, and whether it exists. */
  dir?: string;
  exists?: boolean;
  /** False when this whd runs no handlers (`--no-handlers`). */
  running?: boolean;
  /** Each type of the webhooks' `events:` filters and the file that handles it (null: none). */
  types?: { provider: string; type: string; file: string | null }[];
  handlers: {
    provider: string;
    type: string;
    file: string;
    kind: "module" | "executable";
    mode: string;
    error: string | null;
  }[];
  errors: { file: string; message: string }[];
}

/** `GET /api/session`. */
export interface Session {
  csrf: string;
  auth: "none" | "token";
}

/** An answer other than 2xx: the server's error code and message. */
export class ApiError extends Error {
  /** The HTTP status (0 when the request did not reach whd). */
  status: number;
  /** The `error` code of the answer. */
  code: string;
  /** Makes one. */
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The calls the page makes. */
export interface Api {
  session(): Promise<Session>;
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body?: unknown): Promise<T>;
}

async function _answer<T>(response: Response): Promise<T> {
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (response.ok && body !== undefined) return body as T;
  const error = body as { error?: string; message?: string } | undefined;
  if (response.status === 401) {
    throw new ApiError(401, "unauthorized", "Your session has ended: reload the page to log in.");
  }
  throw new ApiError(
    response.status,
    error?.error ?? "http",
    error?.message ?? `whd answered ${response.status} ${response.statusText}`,
  );
}

/**
 * An API client for the console served from the same origin (`fetcher` is injectable).
 *
 * @example
 * ```ts ignore
 * const api = createApi(fetch);
 * const { events } = await api.get<EventPage>("/api/events?status=dead");
 * ```
 */
export function createApi(fetcher: typeof fetch): Api {
  let session: Promise<Session> | undefined;
  const call = async <T>(path: string, init: RequestInit = {}): Promise<T> => {
    let response: Response;
    try {
      response = await fetcher(path, { credentials: "same-origin", ...init });
    } catch {
      throw new ApiError(0, "offline", "whd did not answer: is it running?");
    }
    return await _answer<T>(response);
  };
  const getSession = (): Promise<Session> => {
    session ??= call<Session>("/api/session").catch((error) => {
      session = undefined;
      throw error;
    });
    return session;
  };
  return {
    session: getSession,
    get: (path) => call(path, { headers: { accept: "application/json" } }),
    post: async (path, body = {}) => {
      const { csrf } = await getSession();
      return await call(path, {
        method: "POST",
        headers: { "content-type": "application/json", "x-csrf-token": csrf },
        body: JSON.stringify(body),
      });
    },
  };
}
