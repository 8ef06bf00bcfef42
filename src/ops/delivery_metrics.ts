/**
 * Delivery metrics around the public request handler: `whd_deliveries_total` by status code
 * and `whd_delivery_seconds` (request in → reply out), per configured webhook route. Series
 * are resolved once per route and status code; a request adds two clock reads, a map lookup
 * and a bucket search. Requests to other paths are not counted here.
 *
 * @example
 * ```ts ignore
 * Deno.serve(observeDeliveries(createRequestHandler(deps), { config, metrics }));
 * ```
 * @module
 */
import type { Config } from "../config/schema.ts";
import {
  type Counter,
  DELIVERY_BUCKETS,
  type Histogram,
  type Labels,
  type Metrics,
} from "./metrics.ts";

/** What {@linkcode observeDeliveries} needs. */
export interface DeliveryMetricsOptions {
  config: Config;
  metrics: Metrics;
  /** Milliseconds with sub-millisecond precision; default `performance.now`. */
  now?: () => number;
}

interface _RouteSeries {
  path: string;
  labels: Labels;
  latency: Histogram;
  codes: Map<number, Counter>;
}

/**
 * The route whose path the URL (as `Deno.serve` builds it: already normalized) has, compared in
 * place: no substring is built or hashed, which a lookup by sliced path would cost per request.
 */
function _match(routes: readonly _RouteSeries[], url: string): _RouteSeries | undefined {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  if (start < 0) return undefined;
  for (const route of routes) {
    const end = start + route.path.length;
    if (url.startsWith(route.path, start) && (end === url.length || url.charCodeAt(end) === 63)) {
      return route;
    }
  }
  return undefined;
}

/** Wraps `handler` so that each delivery to a webhook route is counted and timed. */
export function observeDeliveries(
  handler: Deno.ServeHandler,
  options: DeliveryMetricsOptions,
): Deno.ServeHandler {
  const { metrics } = options;
  const now = options.now ?? (() => performance.now());
  const routes: _RouteSeries[] = [];
  for (const provider of options.config.providers) {
    for (const webhook of provider.webhooks) {
      const labels = { provider: provider.name, webhook: webhook.name };
      routes.push({
        path: webhook.path,
        labels,
        latency: metrics.histogram("whd_delivery_seconds", labels, DELIVERY_BUCKETS),
        codes: new Map(),
      });
    }
  }
  const count = (route: _RouteSeries, status: number) => {
    let counter = route.codes.get(status);
    if (!counter) {
      counter = metrics.counter("whd_deliveries_total", { ...route.labels, code: String(status) });
      route.codes.set(status, counter);
    }
    counter.inc();
  };
  return async (request, info) => {
    const route = _match(routes, request.url);
    if (!route) return await handler(request, info);
    const started = now();
    const response = await handler(request, info);
    route.latency.observe((now() - started) / 1000);
    count(route, response.status);
    return response;
  };
}
