/**
 * Handler files that can never run, for `whd check`: a folder that names no configured provider,
 * or a file whose types every webhook of its provider drops with its `events:` filter.
 *
 * @example
 * ```ts ignore
 * unreachableHandlers(config, registry.handlers);
 * // [{ file: "handlers/stripe/charge.refunded.ts", message: "… events: filter drops …" }]
 * ```
 * @module
 */
import type { Config } from "../config/schema.ts";
import { matchesEvents } from "../config/event_filter.ts";
import { displayPath, type HandlerFile, patternMatches } from "../dispatch/discovery.ts";

/** A handler file that never runs, and why. */
export interface UnreachableHandler {
  file: string;
  message: string;
}

/** Every handler file in `files` that no delivery of `config` can reach. */
export function unreachableHandlers(
  config: Pick<Config, "providers">,
  files: readonly HandlerFile[],
): UnreachableHandler[] {
  const out: UnreachableHandler[] = [];
  for (const file of files) {
    const provider = config.providers.find((p) => p.name === file.provider);
    if (!provider) {
      const names = config.providers.map((p) => p.name).join(", ");
      out.push({
        file: displayPath(file.path),
        message: `the folder ${file.provider}/ matches no provider in the config (${names}): ` +
          "rename the folder after a key under providers:, or add that provider",
      });
      continue;
    }
    if (file.pattern === "_default") continue;
    const reached = provider.webhooks.some((w) => mayPass(file.pattern, w.events));
    if (!reached) {
      const filters = provider.webhooks.map((w) => `${w.name}: [${w.events!.join(", ")}]`);
      out.push({
        file: displayPath(file.path),
        message: `every ${provider.name} webhook's events: filter drops ${file.pattern} ` +
          `(${filters.join("; ")}), so this handler never runs: add the type to events:, ` +
          "or remove the file",
      });
    }
  }
  return out;
}

/**
 * Whether some type matched by the handler `pattern` (`*` wildcards) passes the `events`
 * allowlist. Errs towards true when it cannot tell, so check never cries wolf.
 */
export function mayPass(pattern: string, events: readonly string[] | undefined): boolean {
  if (!events) return true;
  if (!pattern.includes("*")) return matchesEvents(pattern, events);
  const literal = pattern.slice(0, pattern.indexOf("*"));
  return events.some((entry) => {
    if (entry.endsWith("*")) {
      const prefix = entry.slice(0, -1);
      return literal.startsWith(prefix) || prefix.startsWith(literal);
    }
    // An exact entry admits itself and `entry.` followed by anything.
    return patternMatches(pattern, entry) || literal.startsWith(entry + ".") ||
      (entry + ".").startsWith(literal);
  });
}
