/**
 * A fake Stripe API on loopback for tests: the documented shapes of `/v1/events` (list with
 * `created` filters, `types`, cursor pagination) and `/v1/webhook_endpoints` (list, create,
 * retrieve, update, delete; `secret` only in the create response), Bearer authentication with
 * Stripe's error JSON, and injectable faults (429 with `Retry-After`, 500, a dropped
 * connection after page K of the events list). For thin events (event notifications of
 * Stripe's v2 APIs) it also serves `GET /v2/core/events/{id}` and `GET /v2/core/events` (the
 * full v2 event, `data` included; Stripe's v2 error JSON) and any object added with `addObject`
 * at its URL (a thin event's `related_object.url`, e.g. `/v1/billing/meters/mtr_…`).
 *
 * The real `stripe` SDK is pointed at it through a provider's `api_base`.
 *
 * @example
 * ```ts
 * const fake = await startFakeStripe({ keys: ["sk_test_ok"] });
 * fake.addEvent({ type: "invoice.paid", created: 1_700_000_000 });
 * // api_base: fake.url
 * await fake.close();
 * ```
 * @module
 */

/** A Stripe `event` object as the API renders it. */
export interface FakeEvent {
  id: string;
  object: "event";
  api_version: string;
  created: number;
  data: { object: Record<string, unknown> };
  livemode: boolean;
  pending_webhooks: number;
  request: { id: string | null; idempotency_key: string | null };
  type: string;
}

/** A v2 event (`object: "v2.core.event"`) as `GET /v2/core/events/{id}` renders it. */
export interface FakeV2Event {
  id: string;
  object: "v2.core.event";
  type: string;
  /** An ISO date-time, as v2 renders times. */
  created: string;
  livemode: boolean;
  context?: string;
  reason?: { type: "request"; request: { id: string; idempotency_key: string } };
  related_object?: { id: string; type: string; url: string };
  data?: Record<string, unknown>;
}

/** A Stripe `webhook_endpoint` object as stored (the secret is kept but only returned once). */
export interface FakeEndpoint {
  id: string;
  object: "webhook_endpoint";
  api_version: string | null;
  application: null;
  created: number;
  description: string | null;
  enabled_events: string[];
  livemode: boolean;
  metadata: Record<string, string>;
  status: "enabled" | "disabled";
  url: string;
  secret: string;
}

/** One request the fake received. */
export interface LoggedRequest {
  method: string;
  path: string;
  /** Query string parameters (GET) as sent. */
  query: URLSearchParams;
  /** Form body parameters (POST) as sent. */
  form: URLSearchParams;
  /** The `Authorization` header, if any. */
  authorization: string | null;
  /** The `Stripe-Version` header, if any. */
  stripeVersion: string | null;
  /** Status the fake answered with (0 for a dropped connection). */
  status: number;
}

/** Faults to inject; tests may change them between runs through `state.faults`. */
export interface FakeFaults {
  /** Answer the next N requests with 429 and this `Retry-After` (seconds). */
  rateLimit?: { count: number; retryAfter?: string };
  /** Answer the next N requests with 500. */
  serverError?: { count: number };
  /** After this many events-list pages were served, drop every further events-list request. */
  dropEventsAfterPage?: number;
}

/** Options for {@linkcode startFakeStripe}. */
export interface FakeStripeOptions {
  /** Valid secret keys; default `["sk_test_whd"]`. */
  keys?: string[];
  faults?: FakeFaults;
  /** Clock for `created` of endpoints, in seconds; default now. */
  nowSeconds?: () => number;
}

/** The fake's inspectable state. */
export interface FakeStripeState {
  events: FakeEvent[];
  v2Events: FakeV2Event[];
  /** Objects by URL path, served on GET (see `addObject`). */
  objects: Map<string, Record<string, unknown>>;
  endpoints: FakeEndpoint[];
  requests: LoggedRequest[];
  faults: FakeFaults;
  /** Events-list pages served successfully so far. */
  eventPagesServed: number;
}

/** A running fake. */
export interface FakeStripe {
  /** Base URL, e.g. `http://127.0.0.1:40123`, for `api_base`. */
  url: string;
  port: number;
  state: FakeStripeState;
  /** Adds an event (id generated unless given) and returns it. */
  addEvent(
    input: { type: string; created: number; id?: string; object?: Record<string, unknown> },
  ): FakeEvent;
  /**
   * Adds a v2 event (id generated unless given) and returns it; {@linkcode thinNotification}
   * of it is what Stripe delivers to an event destination.
   */
  addV2Event(input: Omit<FakeV2Event, "id" | "object" | "livemode"> & { id?: string }): FakeV2Event;
  /** Serves `object` on `GET <path>` (e.g. a thin event's `related_object.url`). */
  addObject(path: string, object: Record<string, unknown>): void;
  /** Adds an endpoint directly (as if made in the Dashboard) and returns it. */
  addEndpoint(input: {
    url: string;
    enabled_events: string[];
    description?: string;
    metadata?: Record<string, string>;
    api_version?: string;
  }): FakeEndpoint;
  close(): Promise<void>;
}

const _API_VERSION = "2024-06-20";

function _json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body, null, 2), {
    status,
    headers: { "content-type": "application/json", "request-id": "req_fake", ...headers },
  });
}

function _error(
  status: number,
  type: string,
  message: string,
  extra: Record<string, unknown> = {},
) {
  return _json(status, { error: { type, message, ...extra } });
}

/** Values of an array parameter, sent as `name[]=…`, `name[0]=…` or `name=…`. */
function _array(params: URLSearchParams, name: string): string[] | undefined {
  const out: string[] = [];
  let seen = false;
  for (const [k, v] of params) {
    if (k === name || k === `${name}[]` || new RegExp(`^${name}\\[\\d+\\]$`).test(k)) {
      seen = true;
      out.push(v);
    }
  }
  return seen ? out : undefined;
}

function _metadata(params: URLSearchParams): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const [k, v] of params) {
    const m = /^metadata\[(.+)\]$/.exec(k);
    if (m) (out ??= {})[m[1]] = v;
  }
  return out;
}

function _int(params: URLSearchParams, name: string): number | undefined | "bad" {
  const v = params.get(name);
  if (v === null) return undefined;
  return /^\d+$/.test(v) ? Number(v) : "bad";
}

function _publicEndpoint(ep: FakeEndpoint, withSecret: boolean): Record<string, unknown> {
  const { secret, ...rest } = ep;
  return withSecret ? { ...rest, secret } : rest;
}

function _randomToken(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  return Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

/** A response cut short of its Content-Length, so the client sees a dropped connection. */
function _drop(): Response {
  return new Response(
    new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"object":"li'));
        controller.close();
      },
    }),
    { status: 200, headers: { "content-type": "application/json", "content-length": "4096" } },
  );
}

/**
 * The thin event notification Stripe delivers for a v2 event: its envelope without `data`
 * (the handler fetches that with `fetchEvent()`).
 */
export function thinNotification(event: FakeV2Event): Record<string, unknown> {
  const { data: _data, ...envelope } = event;
  return envelope;
}

/** Stripe's v2 error JSON. */
function _v2Error(status: number, type: string, code: string, message: string): Response {
  return _json(status, { error: { type, code, message } });
}

/** Starts the fake on 127.0.0.1, port 0. Call `close()` when done. */
export function startFakeStripe(options: FakeStripeOptions = {}): Promise<FakeStripe> {
  const keys = new Set(options.keys ?? ["sk_test_whd"]);
  const nowSeconds = options.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  const state: FakeStripeState = {
    events: [],
    v2Events: [],
    objects: new Map(),
    endpoints: [],
    requests: [],
    faults: { ...options.faults },
    eventPagesServed: 0,
  };
  let seq = 0;
  const order = new Map<string, number>();

  const addEvent: FakeStripe["addEvent"] = (input) => {
    seq++;
    const id = input.id ?? `evt_fake${String(seq).padStart(8, "0")}`;
    const event: FakeEvent = {
      id,
      object: "event",
      api_version: _API_VERSION,
      created: input.created,
      data: { object: input.object ?? { id: `obj_${seq}`, object: input.type.split(".")[0] } },
      livemode: false,
      pending_webhooks: 0,
      request: { id: null, idempotency_key: null },
      type: input.type,
    };
    order.set(id, seq);
    state.events.push(event);
    return event;
  };

  const addV2Event: FakeStripe["addV2Event"] = (input) => {
    seq++;
    const event: FakeV2Event = {
      ...input,
      id: input.id ?? `evt_test_fake${String(seq).padStart(8, "0")}`,
      object: "v2.core.event",
      livemode: false,
    };
    state.v2Events.push(event);
    return event;
  };

  /** `GET /v2/core/events`: newest first, `object_id`, `types` and `limit`; one page. */
  const listV2Events = (q: URLSearchParams): Response => {
    const objectId = q.get("object_id");
    const types = _array(q, "types");
    const limit = _int(q, "limit");
    if (limit === "bad" || (limit !== undefined && (limit < 1 || limit > 100))) {
      return _v2Error(400, "invalid_request_error", "invalid_limit", "limit must be 1..100");
    }
    const data = [...state.v2Events].reverse().filter((e) =>
      (!objectId || e.related_object?.id === objectId) && (!types || types.includes(e.type))
    ).slice(0, limit ?? 20);
    return _json(200, { data, next_page_url: null, previous_page_url: null });
  };

  const addEndpoint: FakeStripe["addEndpoint"] = (input) => {
    seq++;
    const ep: FakeEndpoint = {
      id: `we_fake${String(seq).padStart(8, "0")}`,
      object: "webhook_endpoint",
      api_version: input.api_version ?? null,
      application: null,
      created: nowSeconds(),
      description: input.description ?? null,
      enabled_events: [...input.enabled_events],
      livemode: false,
      metadata: { ...input.metadata },
      status: "enabled",
      url: input.url,
      secret: `whsec_${_randomToken(32)}`,
    };
    order.set(ep.id, seq);
    state.endpoints.push(ep);
    return ep;
  };

  /** Newest first, then by insertion (newest first), like Stripe's lists. */
  const newestFirst = <T extends { id: string; created: number }>(items: T[]): T[] =>
    [...items].sort((a, b) => b.created - a.created || order.get(b.id)! - order.get(a.id)!);

  const page = <T extends { id: string }>(
    items: T[],
    params: URLSearchParams,
    url: string,
    noun: string,
  ): Response | { object: "list"; url: string; has_more: boolean; data: T[] } => {
    const limit = _int(params, "limit");
    if (limit === "bad" || (limit !== undefined && (limit < 1 || limit > 100))) {
      return _error(400, "invalid_request_error", "Invalid integer: limit must be 1..100", {
        param: "limit",
      });
    }
    let start = 0;
    const after = params.get("starting_after");
    if (after) {
      const i = items.findIndex((x) => x.id === after);
      if (i < 0) {
        return _error(400, "invalid_request_error", `No such ${noun}: '${after}'`, {
          code: "resource_missing",
          param: "starting_after",
        });
      }
      start = i + 1;
    }
    const n = limit ?? 10;
    const data = items.slice(start, start + n);
    return { object: "list", url, has_more: start + n < items.length, data };
  };

  const listEvents = (q: URLSearchParams): Response => {
    const bound = (op: string) => {
      const v = q.get(`created[${op}]`);
      return v === null ? undefined : Number(v);
    };
    const exact = q.get("created");
    const gte = bound("gte"), gt = bound("gt"), lte = bound("lte"), lt = bound("lt");
    const types = _array(q, "types");
    const type = q.get("type");
    const typeOk = (t: string) =>
      (!types || types.includes(t)) &&
      (!type || (type.endsWith("*") ? t.startsWith(type.slice(0, -1)) : t === type));
    const filtered = newestFirst(state.events).filter((e) =>
      (exact === null || e.created === Number(exact)) &&
      (gte === undefined || e.created >= gte) && (gt === undefined || e.created > gt) &&
      (lte === undefined || e.created <= lte) && (lt === undefined || e.created < lt) &&
      typeOk(e.type)
    );
    const result = page(filtered, q, "/v1/events", "event");
    if (result instanceof Response) return result;
    state.eventPagesServed++;
    return _json(200, result);
  };

  const endpoints = (
    method: string,
    id: string | undefined,
    q: URLSearchParams,
    form: URLSearchParams,
  ) => {
    if (!id) {
      if (method === "GET") {
        const result = page(
          newestFirst(state.endpoints),
          q,
          "/v1/webhook_endpoints",
          "webhook_endpoint",
        );
        if (result instanceof Response) return result;
        return _json(200, { ...result, data: result.data.map((e) => _publicEndpoint(e, false)) });
      }
      if (method === "POST") {
        const url = form.get("url");
        const events = _array(form, "enabled_events");
        if (!url) {
          return _error(400, "invalid_request_error", "Missing required param: url.", {
            param: "url",
          });
        }
        if (!events?.length) {
          return _error(400, "invalid_request_error", "Missing required param: enabled_events.", {
            param: "enabled_events",
          });
        }
        const bad = events.find((e) => e !== "*" && e.includes("*"));
        if (bad) {
          return _error(
            400,
            "invalid_request_error",
            `Invalid enabled_events: '${bad}' is not a valid event`,
            {
              param: "enabled_events",
            },
          );
        }
        const ep = addEndpoint({
          url,
          enabled_events: events,
          description: form.get("description") ?? undefined,
          metadata: _metadata(form),
          api_version: form.get("api_version") ?? undefined,
        });
        return _json(200, _publicEndpoint(ep, true));
      }
      return _error(405, "invalid_request_error", `Unrecognized request URL (${method}).`);
    }
    const ep = state.endpoints.find((e) => e.id === id);
    if (!ep) {
      return _error(404, "invalid_request_error", `No such webhook endpoint: '${id}'`, {
        code: "resource_missing",
        param: "id",
      });
    }
    if (method === "GET") return _json(200, _publicEndpoint(ep, false));
    if (method === "DELETE") {
      state.endpoints = state.endpoints.filter((e) => e !== ep);
      return _json(200, { id: ep.id, object: "webhook_endpoint", deleted: true });
    }
    if (method === "POST") {
      const url = form.get("url");
      if (url !== null) ep.url = url;
      const events = _array(form, "enabled_events");
      if (events) ep.enabled_events = events;
      const description = form.get("description");
      if (description !== null) ep.description = description || null;
      const disabled = form.get("disabled");
      if (disabled !== null) ep.status = disabled === "true" ? "disabled" : "enabled";
      const metadata = _metadata(form);
      if (metadata) Object.assign(ep.metadata, metadata);
      return _json(200, _publicEndpoint(ep, false));
    }
    return _error(405, "invalid_request_error", `Unrecognized request URL (${method}).`);
  };

  const handle = async (req: Request): Promise<Response> => {
    const u = new URL(req.url);
    const form = req.method === "POST"
      ? new URLSearchParams(await req.text())
      : new URLSearchParams(req.method === "DELETE" ? await req.text() : "");
    const entry: LoggedRequest = {
      method: req.method,
      path: u.pathname,
      query: u.searchParams,
      form,
      authorization: req.headers.get("authorization"),
      stripeVersion: req.headers.get("stripe-version"),
      status: 0,
    };
    state.requests.push(entry);
    const response = route(req.method, u, form, entry.authorization);
    entry.status = response === null ? 0 : response.status;
    return response ?? _drop();
  };

  const route = (
    method: string,
    u: URL,
    form: URLSearchParams,
    authorization: string | null,
  ): Response | null => {
    if (!authorization) {
      return _error(
        401,
        "invalid_request_error",
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
      );
    }
    const key = authorization.replace(/^Bearer\s+/i, "");
    if (!keys.has(key)) {
      return _error(
        401,
        "invalid_request_error",
        `Invalid API Key provided: ${key.slice(0, 8)}****${key.slice(-4)}`,
      );
    }
    const f = state.faults;
    if (f.rateLimit && f.rateLimit.count > 0) {
      f.rateLimit.count--;
      return _json(429, {
        error: {
          type: "invalid_request_error",
          code: "rate_limit",
          message:
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
        },
      }, f.rateLimit.retryAfter === undefined ? {} : { "retry-after": f.rateLimit.retryAfter });
    }
    if (f.serverError && f.serverError.count > 0) {
      f.serverError.count--;
      return _error(500, "api_error", "Sorry, something went wrong.");
    }
    if (u.pathname === "/v1/events" && method === "GET") {
      if (f.dropEventsAfterPage !== undefined && state.eventPagesServed >= f.dropEventsAfterPage) {
        return null;
      }
      return listEvents(u.searchParams);
    }
    const m = /^\/v1\/webhook_endpoints(?:\/([^/]+))?$/.exec(u.pathname);
    if (m) return endpoints(method, m[1], u.searchParams, form);
    if (u.pathname === "/v2/core/events" && method === "GET") return listV2Events(u.searchParams);
    const v2 = /^\/v2\/core\/events\/([^/]+)$/.exec(u.pathname);
    if (v2 && method === "GET") {
      const id = decodeURIComponent(v2[1]);
      const event = state.v2Events.find((e) => e.id === id);
      return event
        ? _json(200, event)
        : _v2Error(404, "invalid_request_error", "not_found", `No such event: '${id}'`);
    }
    const object = state.objects.get(u.pathname);
    if (object && method === "GET") return _json(200, object);
    return _error(
      404,
      "invalid_request_error",
      `Unrecognized request URL (${method}: ${u.pathname}).`,
    );
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => {
        resolve({
          url: `http://127.0.0.1:${port}`,
          port,
          state,
          addEvent,
          addV2Event,
          addObject: (path, object) => void state.objects.set(path, object),
          addEndpoint,
          close: () => server.shutdown(),
        });
      },
    }, handle);
  });
}
