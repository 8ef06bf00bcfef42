/**
 * The admin listener: `/healthz` (the process is alive), `/readyz` (database writable, handlers
 * loaded; 503 naming the reason otherwise) and `/metrics` (Prometheus text), on its own address
 * (`admin.listen`, default `127.0.0.1:9090`), never on the public port; every other path is the
 * web console (`console/console_routes.ts`) when one is given. With a token (`admin.token_env`)
 * those three need `Authorization: Bearer <token>`, compared in constant time (the console also
 * takes its login session); without one the config only allows a loopback address.
 *
 * @example
 * ```ts ignore
 * const admin = startAdmin({ address, token, readiness: () => readiness(sources), metrics, log });
 * await admin.finished; // after admin.shutdown()
 * ```
 * @module
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { AdminAddress } from "../config/admin_listen.ts";
import type { Console } from "../console/console_routes.ts";
import { jsonResponse } from "../http/json_response.ts";
import type { Readiness } from "./health.ts";
import type { Logger } from "./log.ts";
import { METRICS_CONTENT_TYPE } from "./metrics.ts";

/** What the admin listener serves. */
export interface AdminDeps {
  /** The `Metrics.render()` text. */
  metrics(): string;
  readiness(): Readiness;
  /** The bearer token every request must carry; undefined: none (loopback only). */
  token?: string;
  /** The web console, served at every other path (it checks its own access). */
  console?: Console;
}

/** The paths the admin listener answers itself; every other one is the console's. */
const _OPS_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz", "/metrics"]);

/** A running admin listener. */
export interface AdminListener {
  /** Where it listens (the port is the real one when 0 was asked). */
  hostname: string;
  port: number;
  /** Stops listening; resolves when it is closed. */
  shutdown(): Promise<void>;
}

/** Equal in constant time (both sides hashed first, so lengths leak nothing either). */
export function sameSecret(a: string, b: string): boolean {
  const digest = (text: string) => createHash("sha256").update(text).digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Whether `header` is `Bearer <token>`. Both sides are hashed first, so the comparison takes
 * the same time whatever the length or content of what was sent.
 */
export function bearerMatches(header: string | null, token: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(header ?? "");
  const ok = sameSecret(match ? match[1].trim() : "", token);
  return ok && match !== null;
}

/** The admin request handler ({@linkcode startAdmin} serves it). */
function _adminHandler(
  deps: AdminDeps,
): (request: Request) => Response | Promise<Response> {
  return (request) => {
    const path = new URL(request.url).pathname;
    if (deps.console && !_OPS_PATHS.has(path)) {
      return deps.console.handle(request);
    }
    if (
      deps.token !== undefined && !bearerMatches(request.headers.get("authorization"), deps.token)
    ) {
      return jsonResponse(401, {
        error: "unauthorized",
        message: "send Authorization: Bearer <the token in admin.token_env>",
      }, { "www-authenticate": 'Bearer realm="whd admin"' });
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return jsonResponse(405, {
        error: "method_not_allowed",
        message: "/healthz, /readyz and /metrics take GET",
      }, { allow: "GET" });
    }
    switch (path) {
      case "/healthz":
        return jsonResponse(200, { ok: true });
      case "/readyz": {
        const ready = deps.readiness();
        return jsonResponse(ready.ready ? 200 : 503, ready, { "cache-control": "no-store" });
      }
      case "/metrics":
        return new Response(deps.metrics(), {
          headers: { "content-type": METRICS_CONTENT_TYPE },
        });
      default:
        return jsonResponse(404, {
          error: "not_found",
          message: "the admin listener serves /healthz, /readyz and /metrics",
        });
    }
  };
}

/** Binds `address` and serves the admin request handler. Throws when the address cannot be bound. */
export function startAdmin(address: AdminAddress, deps: AdminDeps, log: Logger): AdminListener {
  const server = Deno.serve({
    hostname: address.hostname,
    port: address.port,
    onListen: () => {},
    onError: (error) => {
      log.error("admin listener error", { error: error instanceof Error ? error.message : error });
      return jsonResponse(500, { error: "internal_error" });
    },
  }, _adminHandler(deps));
  const addr = server.addr as Deno.NetAddr;
  log.info("admin listening", {
    url: `http://${
      addr.hostname.includes(":") ? `[${addr.hostname}]` : addr.hostname
    }:${addr.port}`,
    token: deps.token !== undefined,
  });
  return {
    hostname: addr.hostname,
    port: addr.port,
    shutdown: () => {
      // Live console streams never end on their own: end them, or shutdown waits for them.
      deps.console?.close();
      return server.shutdown();
    },
  };
}
