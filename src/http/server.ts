/**
 * The webhook server: route → method → guards (IP, rate) → body size → signature → JSON →
 * event filter → inbox, answering 2xx only after the event row is committed.
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
import { matchesEvents } from "../config/event_filter.ts";
import type { Config, WebhookConfig } from "../config/schema.ts";
import type { EventKey, Inbox } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";
import type { Metrics } from "../ops/metrics.ts";
import { readBody } from "./body.ts";
import { clientAddress } from "./client_address.ts";
import { jsonResponse } from "./json_response.ts";
import { type IpAllowlist, parseAllowlist } from "../net/ip_allowlist.ts";
import { buildRoutes } from "./routes.ts";

/** Outcome of running a sync-mode handler before answering. */
export interface SyncOutcome {
  ok: boolean;
  error?: string;
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

/** `/healthz` and `/metrics`: the paths the config reserves for the server's own answers. */
const _OPS_PATHS: ReadonlySet<string> = new Set(RESERVED_PATHS);

/** Statuses a sync-mode delivery (first or retried by the provider) runs the handler for. */
const SYNC_RUNNABLE = new Set(["pending", "failed", "running"]);

function peerAddress(info: Deno.ServeHandlerInfo): string {
  return "hostname" in info.remoteAddr ? info.remoteAddr.hostname : "unknown";
}

/** Builds the `Deno.serve` handler. Routes, verifiers and guards are built once, here. */
export function createRequestHandler(deps: ServerDeps): Deno.ServeHandler {
  const { config, inbox, log, metrics, clock } = deps;
  const routes = buildRoutes(deps);
  const trusted: IpAllowlist | null = config.server.trusted_proxies.length > 0
    ? parseAllowlist(config.server.trusted_proxies)
    : null;
  const maxBody = config.server.max_body_bytes;
  metrics.describe(
    "whd_events_total",
    "Verified deliveries by result: stored, duplicate, ignored.",
  );
  metrics.describe(
    "whd_rejected_total",
    "Deliveries refused, by reason (signature, guards, size).",
  );
  metrics.describe("whd_store_errors_total", "Deliveries answered 503 because the inbox failed.");

  const ops = (request: Request, path: string): Response => {
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonResponse(405, { error: "method_not_allowed" }, { allow: "GET" });
    }
    if (path === "/metrics") {
      return new Response(metrics.render(), { headers: { "content-type": "text/plain" } });
    }
    return jsonResponse(200, { ok: true });
  };

  return async (request, info) => {
    const path = new URL(request.url).pathname;
    const route = routes.get(path);
    if (!route) {
      if (_OPS_PATHS.has(path)) return ops(request, path);
      return jsonResponse(404, {
        error: "not_found",
        message: `no webhook is configured at ${path}`,
      });
    }
    const { webhook } = route;
    const labels = { provider: webhook.provider, webhook: webhook.name };
    if (request.method !== "POST") {
      return jsonResponse(405, { error: "method_not_allowed", message: "webhooks are POSTed" }, {
        allow: "POST",
      });
    }

    // Only guards and rejection logs need the client address; most requests never compute it.
    let client: string | undefined;
    const clientOf = () =>
      client ??= clientAddress(
        peerAddress(info),
        request.headers.has("x-forwarded-for") ? [request.headers.get("x-forwarded-for")!] : [],
        trusted,
      );
    for (const guard of route.guards) {
      const rejection = guard(request, clientOf());
      if (rejection) return rejection;
    }

    const body = await readBody(request, maxBody);
    if (body === null) {
      metrics.inc("whd_rejected_total", { ...labels, reason: "body_too_large" });
      return jsonResponse(413, {
        error: "body_too_large",
        message: `body exceeds server.max_body_bytes (${maxBody} bytes)`,
      });
    }

    const verified = await route.verifier.verify({
      headers: request.headers,
      body,
      now: clock.now(),
    });
    if (!verified.ok) {
      metrics.inc("whd_rejected_total", { ...labels, reason: verified.code });
      log.warn("delivery rejected", { ...labels, client: clientOf(), reason: verified.code });
      return jsonResponse(400, { error: verified.code, message: verified.message });
    }
    if (verified.reply) return jsonResponse(verified.reply.status, verified.reply.body);

    const key = { provider: webhook.provider, id: verified.id };
    const wanted = matchesEvents(verified.type, webhook.events);
    let result;
    try {
      result = await inbox.accept({
        id: verified.id,
        provider: webhook.provider,
        webhook: webhook.name,
        type: verified.type,
        payload: verified.payload,
        receivedAt: clock.now(),
        source: "delivery",
      }, { status: wanted ? "pending" : "ignored" });
    } catch (error) {
      metrics.inc("whd_store_errors_total", labels);
      log.error("could not store event; answering 503 so the sender retries", {
        ...labels,
        id: verified.id,
        error,
      });
      return jsonResponse(503, { error: "store_unavailable", message: "try again later" }, {
        "retry-after": "5",
      });
    }

    metrics.inc("whd_events_total", {
      ...labels,
      result: result.duplicate ? "duplicate" : wanted ? "stored" : "ignored",
    });
    if (!result.duplicate) {
      log.info(wanted ? "event stored" : "event ignored (not in events)", {
        ...labels,
        id: verified.id,
        type: verified.type,
      });
      if (wanted) deps.onAccepted?.(key);
    }

    if (webhook.mode === "sync" && wanted && deps.runSync && SYNC_RUNNABLE.has(result.status)) {
      const outcome = await deps.runSync(key);
      if (!outcome.ok) {
        return jsonResponse(500, {
          error: "handler_failed",
          message: "the handler failed; retry later",
        });
      }
    }

    const reply: Record<string, boolean> = { received: true };
    if (result.duplicate) reply.duplicate = true;
    if (!wanted) reply.ignored = true;
    return jsonResponse(200, reply);
  };
}
