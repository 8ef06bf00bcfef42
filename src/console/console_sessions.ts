/**
 * Console sessions: after a right token at the login form, a random session id in an HttpOnly,
 * SameSite=Strict cookie; each session has its own CSRF token. Sessions live in memory (a
 * restart logs everyone out) and expire 12 hours after login. Without a session (no token
 * configured, or a bearer token per request) one CSRF token per process applies.
 *
 * @example
 * ```ts
 * import { SessionStore } from "./console_sessions.ts";
 * const sessions = new SessionStore({ now: () => 0, random: () => "r" + Math.random() });
 * const { id } = sessions.create();
 * sessions.find(`whd_session=${id}`)?.csrf; // its CSRF token
 * ```
 * @module
 */
/** The session cookie's name. */
export const SESSION_COOKIE = "whd_session";
/** How long a session lasts from login. */
export const SESSION_TTL_MS = 12 * 3600 * 1000;
/** Most sessions kept at once (the oldest goes first). */
const _MAX_SESSIONS = 1000;

/** One logged-in browser. */
export interface Session {
  id: string;
  csrf: string;
  expires: number;
}

/** 32 random bytes as URL-safe text (the default randomness of {@linkcode SessionStore}). */
function _randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replaceAll("=", "");
}

/** The value of cookie `name` in a `Cookie` header, or undefined. */
function _cookieValue(header: string | null, name: string): string | undefined {
  if (header === null) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The sessions of one console (in memory). */
export class SessionStore {
  #sessions = new Map<string, Session>();
  #now: () => number;
  #random: () => string;
  /** The CSRF token of requests without a session. */
  readonly processCsrf: string;

  constructor(options: { now: () => number; random?: () => string }) {
    this.#now = options.now;
    this.#random = options.random ?? _randomToken;
    this.processCsrf = this.#random();
  }

  /** Starts a session. */
  create(): Session {
    const now = this.#now();
    for (const [id, s] of this.#sessions) {
      if (s.expires <= now || this.#sessions.size >= _MAX_SESSIONS) this.#sessions.delete(id);
      else break;
    }
    const session = { id: this.#random(), csrf: this.#random(), expires: now + SESSION_TTL_MS };
    this.#sessions.set(session.id, session);
    return session;
  }

  /** The live session named by a `Cookie` header, or undefined. */
  find(cookieHeader: string | null): Session | undefined {
    const id = _cookieValue(cookieHeader, SESSION_COOKIE);
    if (id === undefined) return undefined;
    const session = this.#sessions.get(id);
    if (session === undefined) return undefined;
    if (session.expires <= this.#now()) {
      this.#sessions.delete(id);
      return undefined;
    }
    return session;
  }

  /** Ends a session. */
  end(session: Session): void {
    this.#sessions.delete(session.id);
  }
}
