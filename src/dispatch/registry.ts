/**
 * The handler registry: every handler file found under `handlers.dir`, module handlers
 * bundled and ready to run, and every load error. Rebuilt as a whole on reload.
 *
 * @example
 * ```ts ignore
 * const registry = await loadRegistry("handlers", createBundler());
 * for (const e of registry.errors) console.error(`${e.path}: ${e.message}`);
 * registry.resolve("stripe", "invoice.paid")?.name; // "invoice.paid.ts"
 * ```
 * @module
 */
import type { Bundler } from "./bundler.ts";
import { codeHash } from "./code_hash.ts";
import {
  discoverHandlers,
  type DiscoveryProblem,
  type HandlerFile,
  resolveHandler,
} from "./discovery.ts";

/** A handler file as loaded: module handlers carry their bundled code or their load error. */
export interface LoadedHandler extends HandlerFile {
  /** Bundled JavaScript (module handlers that loaded). */
  code?: string;
  /** Content hash of `code`. */
  hash?: string;
  /** Why the file cannot be run; its events wait until it is fixed. */
  error?: string;
}

/** A file that cannot be used, and why (a layout problem or a load error). */
export type HandlerLoadError = DiscoveryProblem;

/** A snapshot of the handlers directory. */
export interface HandlerRegistry {
  dir: string;
  /** False when `dir` does not exist (every event is then unhandled). */
  exists: boolean;
  handlers: LoadedHandler[];
  /** Load errors and layout problems, one per file. */
  errors: HandlerLoadError[];
  /** The handler for an event, by the resolution rule in `discovery.ts`. */
  resolve(provider: string, type: string): LoadedHandler | undefined;
}

/**
 * Scans `dir` and bundles every module handler (default: esbuild in this isolate, loaded only
 * when there is a module handler to bundle — it costs whd ~130 ms and ~30 MB to load).
 */
export async function loadRegistry(
  dir: string,
  bundler?: Bundler,
): Promise<HandlerRegistry> {
  const found = await discoverHandlers(dir);
  if (!bundler && found.files.some((f) => f.kind === "module")) {
    const { createBundler } = await import("./bundler.ts");
    bundler = createBundler();
  }
  const handlers: LoadedHandler[] = [];
  for (const file of found.files) {
    if (file.kind === "exec") {
      handlers.push(file);
      continue;
    }
    const result = await bundler!.bundle(file.path, { middleware: file.middleware });
    handlers.push(
      result.ok
        ? { ...file, code: result.code, hash: codeHash(result.code) }
        : { ...file, error: result.error },
    );
  }
  const errors: HandlerLoadError[] = [
    ...found.problems,
    ...handlers.filter((h) => h.error).map((h) => ({ path: h.path, message: h.error! })),
  ];
  return {
    dir,
    exists: found.exists,
    handlers,
    errors,
    resolve: (provider, type) => resolveHandler(handlers, provider, type),
  };
}

/**
 * Load errors of the handlers in `dir`, for `whd check`: empty when every handler loads.
 *
 * @example
 * ```ts ignore
 * const errors = await checkHandlers(config.handlers.dir);
 * ```
 */
export async function checkHandlers(
  dir: string,
  bundler?: Bundler,
): Promise<HandlerLoadError[]> {
  return (await loadRegistry(dir, bundler)).errors;
}
