/// <reference lib="dom" />
/**
 * The console's API client (docs/console_api.md): JSON in and out, the CSRF token from
 * `GET /api/session` on every POST, and one error type carrying the server's `message`. The
 * answers' types are the store's own (`import type` only: nothing of the server is bundled but
 * the status list of `inbox/types.ts`).
 * @module
 */
import type { AttemptRecord } from "../../../inbox/attempts.ts";
import type {
  EventDetail as StoredDetail,
  ThroughputBucket,
} from "../../../inbox/console_queries.ts";
import type { EventStatus } from "../../../inbox/types.ts";

export type {
  ConsolePage as EventPage,
  DeadGroup,
  EventSummary,
  ThroughputBucket,
} from "../../../inbox/console_queries.ts";
export { EVENT_STATUSES, type EventStatus } from "../../../inbox/types.ts";

/** Counts per status, plus `total`. */
export type Counts = Record<EventStatus | "total", number>;

/** `GET /api/events/<provider>/<id>`. */
export interface EventDetail {
  event: StoredDetail;
  attempts: AttemptRecord[];
  actions: { retry: boolean; replay: boolean };
}

/** `GET /api/throughput`. */
export interface Throughput {
  bucket_ms: number;
  from: number;
  to: number;
  buckets: ThroughputBucket[];
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
