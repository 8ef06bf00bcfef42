/**
 * A {@linkcode Bundler} that bundles in a worker (`bundle_worker.ts`) started on first use and
 * terminated by `close()`: esbuild-wasm takes about 200 MB while it works, which the daemon
 * should not keep between reloads.
 *
 * @example
 * ```ts ignore
 * const bundler = createWorkerBundler();
 * const registry = await loadRegistry("handlers", bundler);
 * bundler.close(); // the worker and esbuild's memory are gone; the next bundle() starts anew
 * ```
 * @module
 */
import type { BundleReply } from "./bundle_worker.ts";
import type { Bundler, BundleResult } from "./bundler.ts";

/** A bundler whose worker can be let go between uses. */
export interface ClosableBundler extends Bundler {
  /** Terminates the worker; bundles in flight fail. */
  close(): void;
}

/** Creates a bundler that runs esbuild in a worker. */
export function createWorkerBundler(): ClosableBundler {
  let worker: Worker | undefined;
  let nextId = 1;
  const waiting = new Map<number, (result: BundleResult) => void>();

  const start = (): Worker => {
    const w = new Worker(new URL("./bundle_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (e: MessageEvent<BundleReply>) => {
      waiting.get(e.data.id)?.(e.data.result);
      waiting.delete(e.data.id);
    };
    w.onerror = (e) => {
      e.preventDefault();
      fail(`the bundler worker failed: ${e.message}`);
    };
    return w;
  };

  const fail = (error: string) => {
    for (const settle of waiting.values()) settle({ ok: false, error });
    waiting.clear();
    worker?.terminate();
    worker = undefined;
  };

  return {
    bundle(path: string): Promise<BundleResult> {
      worker ??= start();
      const id = nextId++;
      return new Promise((resolve) => {
        waiting.set(id, resolve);
        worker!.postMessage({ id, path });
      });
    },
    close() {
      fail("the bundler was closed");
    },
  };
}
