/**
 * The console's handler table: the data `whd handlers` prints (each handler file, the event
 * types it covers, how it runs, its load error; the configured event types and the file each
 * resolves to), from the serving process's live registry.
 *
 * @example
 * ```ts ignore
 * const table = handlerTable(config, dispatcher.registry);
 * table.errors; // [{ file, message }] when a handler fails to load
 * ```
 * @module
 */
import type { Config } from "../config/schema.ts";
import { displayPath } from "../dispatch/discovery.ts";
import type { HandlerRegistry } from "../dispatch/registry.ts";

/** One handler file. */
export interface HandlerRow {
  provider: string;
  /** The type it covers: exact, a `*` pattern, or `_default` (any other type). */
  type: string;
  file: string;
  kind: "module" | "executable";
  /** How the provider's webhooks answer deliveries: `async`, `sync`, or `mixed`. */
  mode: "async" | "sync" | "mixed";
  error: string | null;
}

/** What `GET /api/handlers` answers. */
export interface HandlerTable {
  /** The handlers directory, and whether it exists (if not, every event is unhandled). */
  dir: string;
  exists: boolean;
  handlers: HandlerRow[];
  /** Files that cannot be used, and why. */
  errors: { file: string; message: string }[];
  /** Each type in the webhooks' `events:` filters and the file that handles it (null: none). */
  types: { provider: string; type: string; file: string | null }[];
  /** False when this process runs no handlers (`--no-handlers`): the table is empty. */
  running: boolean;
}

/** The table of `registry` under `config` (null registry: this process runs no handlers). */
export function handlerTable(
  config: Pick<Config, "providers" | "handlers">,
  registry: HandlerRegistry | null,
): HandlerTable {
  if (registry === null) {
    return {
      dir: config.handlers.dir,
      exists: false,
      handlers: [],
      errors: [],
      types: [],
      running: false,
    };
  }
  const modes = new Map(config.providers.map((p) => {
    const set = new Set(p.webhooks.map((w) => w.mode));
    return [p.name, set.size > 1 ? "mixed" as const : [...set][0] ?? "async"];
  }));
  const types = config.providers.flatMap((p) =>
    [...new Set(p.webhooks.flatMap((w) => w.events ?? []))].map((type) => {
      const handler = registry.resolve(p.name, type);
      return { provider: p.name, type, file: handler ? displayPath(handler.path) : null };
    })
  );
  return {
    dir: registry.dir,
    exists: registry.exists,
    handlers: registry.handlers.map((h) => ({
      provider: h.provider,
      type: h.pattern,
      file: displayPath(h.path),
      kind: h.kind === "exec" ? "executable" : "module",
      mode: modes.get(h.provider) ?? "async",
      error: h.error ?? null,
    })),
    errors: registry.errors.map((e) => ({ file: displayPath(e.path), message: e.message })),
    types,
    running: true,
  };
}
