/**
 * The live handler registry: loads `handlers.dir` (bundling module handlers), reloads it as
 * a whole when a file under it changes (debounced), and reports each new registry. Reloads
 * never overlap: a change during a reload runs one more reload after it.
 *
 * @example
 * ```ts ignore
 * const live = createRegistryWatch({ dir: "handlers", bundler, log, clock, onReload });
 * await live.reload();
 * live.watch();
 * live.current.resolve("stripe", "invoice.paid");
 * live.close();
 * ```
 * @module
 */
import type { TimerClock } from "../clock.ts";
import { errorMessage } from "../errors.ts";
import type { Logger } from "../ops/log.ts";
import type { Bundler } from "./bundler.ts";
import { createProcessBundler } from "./process_bundler.ts";
import { type HandlerRegistry, loadRegistry } from "./registry.ts";

/** Options for {@linkcode createRegistryWatch}. */
export interface RegistryWatchOptions {
  dir: string;
  /** Default: esbuild in a worker that is let go after each load (its memory with it). */
  bundler?: Bundler;
  log: Logger;
  clock: TimerClock;
  /** Quiet time after a change before reloading. Default 150 ms. */
  debounceMs?: number;
  /** Called with each new registry (after the first load too), before `reload` resolves. */
  onReload?: (next: HandlerRegistry, previous: HandlerRegistry) => Promise<void> | void;
}

/** A registry kept in line with the handler files. */
export interface RegistryWatch {
  /** The current handlers (empty until the first load). */
  readonly current: HandlerRegistry;
  /** True once a load has completed. */
  readonly loaded: boolean;
  /** Rebuilds the registry from disk (joins a reload in progress). */
  reload(): Promise<HandlerRegistry>;
  /** Starts watching the directory; logs and gives up when it cannot be watched. */
  watch(): void;
  /** Stops watching; resolves after a reload in progress. */
  close(): Promise<void>;
}

/** The registry before the first load: nothing resolves. */
export const EMPTY_REGISTRY: HandlerRegistry = {
  dir: "",
  exists: false,
  handlers: [],
  errors: [],
  resolve: () => undefined,
};

/** Creates the live registry; nothing is read until `reload()`. */
export function createRegistryWatch(options: RegistryWatchOptions): RegistryWatch {
  const { dir, log, clock } = options;
  const debounceMs = options.debounceMs ?? 150;
  let current = EMPTY_REGISTRY;
  let loaded = false;
  let reloading: Promise<HandlerRegistry> | undefined;
  let again = false;
  let closed = false;
  let watcher: Deno.FsWatcher | undefined;
  const own = options.bundler ? undefined : createProcessBundler();
  const bundler = options.bundler ?? own;

  const reload = (): Promise<HandlerRegistry> => {
    if (reloading) {
      again = true;
      return reloading;
    }
    reloading = (async () => {
      let next: HandlerRegistry;
      do {
        again = false;
        const before = current;
        try {
          next = await loadRegistry(dir, bundler);
        } finally {
          // Handlers run (and hosts start) only once the bundler's memory is given back.
          if (!again) await own?.close();
        }
        current = next;
        loaded = true;
        const known = new Set(before.errors.map((e) => `${e.path}\n${e.message}`));
        for (const e of next.errors) {
          if (!known.has(`${e.path}\n${e.message}`)) {
            log.error("handler failed to load", { path: e.path, error: e.message });
          }
        }
        await options.onReload?.(next, before);
      } while (again);
      return next;
    })().finally(() => reloading = undefined);
    return reloading;
  };

  return {
    get current() {
      return current;
    },
    get loaded() {
      return loaded;
    },
    reload,
    watch() {
      try {
        watcher = Deno.watchFs(dir, { recursive: true });
      } catch (error) {
        log.warn("cannot watch handlers directory; changes need a restart", {
          dir,
          error: errorMessage(error),
        });
        return;
      }
      (async () => {
        let cancel = () => {};
        try {
          for await (const change of watcher!) {
            if (change.kind === "access") continue;
            cancel();
            cancel = clock.setTimer(debounceMs, () => {
              if (!closed) void reload();
            });
          }
        } catch { /* closed */ }
        cancel();
      })();
    },
    async close() {
      closed = true;
      watcher?.close();
      await reloading;
    },
  };
}
