/**
 * The page's places, kept in the URL's hash so a view can be linked and reloaded:
 * `#/events?status=dead`, `#/event/<provider>/<id>`, `#/dead`, `#/throughput?range=day`,
 * `#/handlers`.
 * @module
 */

/** Where the page is. */
export type Route =
  | { view: "events"; query: URLSearchParams }
  | { view: "event"; provider: string; id: string }
  | { view: "dead" }
  | { view: "throughput"; range: "hour" | "day" }
  | { view: "handlers" };

/**
 * The route of a location hash; the events list for anything unknown.
 *
 * @example
 * ```ts ignore
 * parseRoute("#/event/stripe/evt_1"); // { view: "event", provider: "stripe", id: "evt_1" }
 * ```
 */
export function parseRoute(hash: string): Route {
  const [path, search = ""] = hash.replace(/^#/, "").split("?", 2);
  const parts = path.split("/").filter((p) => p !== "");
  const query = new URLSearchParams(search);
  switch (parts[0]) {
    case "event":
      if (parts.length === 3) {
        return {
          view: "event",
          provider: decodeURIComponent(parts[1]),
          id: decodeURIComponent(parts[2]),
        };
      }
      break;
    case "dead":
      return { view: "dead" };
    case "throughput":
      return { view: "throughput", range: query.get("range") === "day" ? "day" : "hour" };
    case "handlers":
      return { view: "handlers" };
  }
  return { view: "events", query };
}

/**
 * The hash of one event's page.
 *
 * @example
 * ```ts ignore
 * eventHref("shop", "a/b"); // "#/event/shop/a%2Fb"
 * ```
 */
export function eventHref(provider: string, id: string): string {
  return `#/event/${encodeURIComponent(provider)}/${encodeURIComponent(id)}`;
}

/**
 * The hash of the events list with `filters` (empty values left out).
 *
 * @example
 * ```ts ignore
 * eventsHref({ status: "dead", type: "" }); // "#/events?status=dead"
 * ```
 */
export function eventsHref(filters: Record<string, string>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(filters)) if (value !== "") query.set(key, value);
  const text = query.toString();
  return text === "" ? "#/events" : `#/events?${text}`;
}
