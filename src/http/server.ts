/**
 * The webhook server: route → method → guards (IP, rate) → body size → signature → JSON →
 * ingest (event filter, inbox), answering 2xx only after the event row is committed. Every
 * answer comes from `replies.ts`.
 *
 * @example
 * ```ts ignore
 * import { createRequestHandler } from "./server.ts";
 * const handler = createRequestHandler({ config, secretsFor, inbox, log, metrics, clock });
 * Deno.serve({ port: 8080 }, handler);
 * ```
 * @module
 */
import type { Clock } from "../clock.ts";
import { RESERVED_PATHS } from "../config/checks.ts";
import type { Config, WebhookConfig } from "../config/schema.ts";
import type { EventKey, Inbox } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";
import type { Labels, Metrics } from "../ops/metrics.ts";
import { createIngest, describeIngestMetrics, type Ingest } from "../ingest.ts";
import { readBody } from "./body.ts";
import { clientAddress } from "./client_address.ts";
import { type HeaderKeeper, headerKeeper } from "./kept_headers.ts";
import { replies } from "./replies.ts";
import { type IpAllowlist, parseAllowlist } from "../net/ip_allowlist.ts";
import { buildRoutes, type Route } from "./routes.ts";

/** Outcome of running a sync-mode handler before answering. */
export interface SyncOutcome {
  ok: boolean;
  error?: string;
  /** The handler's own reply (a `Response` it returned), sent instead of the usual answer. */
  response?: Response;
}

/** Everything the server needs, passed in explicitly. */
export interface ServerDeps {
  config: Config;
  /** The rotation list of signing secrets of a webhook. */
  secretsFor(webhook: WebhookConfig): readonly string[];
  inbox: Inbox;
  log: Logger;
  metrics: Metrics;
  clock: Clock;
  /** Called after a new event is committed (wakes the dispatcher). */
  onAccepted?: (key: EventKey) => void;
  /** Runs the handler now for `mode: sync` webhooks. */
  runSync?: (key: EventKey) => Promise<SyncOutcome>;
}

/**
 * `/healthz`: the one path the config reserves for the server's own answer. It touches nothing
 * (no store), so a load balancer's check stays instant; readiness and metrics are on the admin
 * listener.
 */
const _OPS_PATHS: ReadonlySet<string> = new Set(RESERVED_PATHS);

/** Statuses a sync-mode delivery (first or retried by the provider) runs the handler for. */
const SYNC_RUNNABLE = new Set(["pending", "failed", "running"]);

function peerAddress(info: Deno.ServeHandlerInfo): string {
  return "hostname" in info.remoteAddr ? info.remoteAddr.hostname : "unknown";
}

/**
 * The path of a request URL as `Deno.serve` builds it (`http://host:port/path?query`), without
 * parsing the whole URL. It is not normalized: a miss is looked up again by `URL.pathname`.
 */
function rawPath(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return "/";
  const query = url.indexOf("?", start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/** A route with what the request path needs resolved once: its labels and ingest function. */
interface ServedRoute extends Route {
  labels: Labels;
  ingest: Ingest;
  /** The request headers stored with the event (for the console). */
  keepHeaders: HeaderKeeper;
}

/** Builds the `Deno.serve` handler. Routes, verifiers, guards and counters are built once, here. */
export function createRequestHandler(deps: ServerDeps): Deno.ServeHandler {
  const { config, inbox, log, metrics, clock } = deps;
  const routes = new Map<string, ServedRoute>();
  for (const [path, route] of buildRoutes(deps)) {
    const labels = { provider: route.webhook.provider, webhook: route.webhook.name };
    const apiVersion = config.providers.find((p) => p.name === route.webhook.provider)
      ?.api_version;
    const ingest = createIngest(
      { inbox, metrics, log, onAccepted: deps.onAccepted },
      route.webhook,
      { apiVersion },
    );
    routes.set(path, { ...route, labels, ingest, keepHeaders: headerKeeper(route.webhook) });
  }
  const trusted: IpAllowlist | null = config.server.trusted_proxies.length > 0
    ? parseAllowlist(config.server.trusted_proxies)
    : null;
  const maxBody = config.server.max_body_bytes;
  describeIngestMetrics(metrics);
  metrics.describe(
    "whd_rejected_total",
    "Deliveries refused, by reason (signature, guards, size).",
  );

  const ops = (request: Request): Response => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return replies.getOnly();
    }
    return replies.healthy();
  };

  const clientOf = (request: Request, info: Deno.ServeHandlerInfo): string =>
    clientAddress(
      peerAddress(info),
      request.headers.has("x-forwarded-for") ? [request.headers.get("x-forwarded-for")!] : [],
      trusted,
    );

  return async (request, info) => {
    let path = rawPath(request.url);
    let route = routes.get(path);
    if (!route) {
      path = new URL(request.url).pathname;
      route = routes.get(path);
    }
    if (!route) {
      if (_OPS_PATHS.has(path)) return ops(request);
      return replies.notFound(path);
    }
    const { webhook, labels } = route;
    if (request.method !== "POST") {
      return replies.postOnly();
    }

    // Only guards and rejection logs need the client address; most requests never compute it.
    let client: string | undefined;
    if (route.guards.length > 0) {
      client = clientOf(request, info);
      for (const guard of route.guards) {
        const rejection = guard(request, client);
        if (rejection) return rejection;
      }
    }

    const body = await readBody(request, maxBody);
    if (body === null) {
      metrics.inc("whd_rejected_total", { ...labels, reason: "body_too_large" });
      return replies.bodyTooLarge(maxBody);
    }

    const verified = await route.verifier.verify({
      headers: request.headers,
      body,
      now: clock.now(),
    });
    if (!verified.ok) {
      metrics.inc("whd_rejected_total", { ...labels, reason: verified.code });
      log.warn("delivery rejected", {
        ...labels,
        client: client ?? clientOf(request, info),
        reason: verified.code,
      });
      return replies.rejected(verified.code, verified.message);
    }
    if (verified.reply) return replies.providerReply(verified.reply);

    let result;
    try {
      result = await route.ingest({
        ...verified,
        receivedAt: clock.now(),
        source: "delivery",
        headers: route.keepHeaders(request.headers),
      });
    } catch (error) {
      log.error("could not store event; answering 503 so the sender retries", {
        ...labels,
        id: verified.id,
        error,
      });
      return replies.storeUnavailable();
    }
    if (!result.duplicate) {
      // Debug, not info: a line per delivery costs a synchronous write to stderr, which at
      // thousands of deliveries a second is a large share of the request path. Every stored
      // event is in the inbox (`whd events list`); rejections are logged at warn.
      log.debug(result.wanted ? "event stored" : "event ignored (not in events)", {
        ...labels,
        id: verified.id,
        type: verified.type,
      });
    }

    if (
      webhook.mode === "sync" && result.wanted && deps.runSync && SYNC_RUNNABLE.has(result.status)
    ) {
      const outcome = await deps.runSync({ provider: webhook.provider, id: verified.id });
      if (!outcome.ok) {
        return replies.handlerFailed();
      }
      if (outcome.response) return outcome.response;
    }

    return replies.received(result);
  };
}
