/**
 * A {@linkcode Bundler} that bundles in a worker (`bundle_worker.ts`) started on first use and
 * terminated by `close()`: esbuild-wasm takes about 200 MB while it works, which the daemon
 * should not keep between reloads.
 *
 * This module does not load esbuild into whd's own isolate (that costs ~130 ms at start and
 * ~30 MB for good). When the worker cannot run (a `deno compile`d binary built without
 * `--include src/dispatch/bundle_worker.ts` has no worker module), it bundles in-process
 * instead: slower to give memory back, never a load error of its own.
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
import type { BundleOptions, Bundler, BundleResult } from "./bundler.ts";

/** A bundler whose worker can be let go between uses. */
export interface ClosableBundler extends Bundler {
  /** Terminates the worker; bundles in flight fail. */
  close(): void;
}

interface _Waiting {
  path: string;
  options?: BundleOptions;
  settle: (result: BundleResult) => void;
}

/** Options for {@linkcode createWorkerBundler}. */
export interface WorkerBundlerOptions {
  /** The worker module. Default `bundle_worker.ts` beside this file. */
  workerUrl?: URL;
}

/** Creates a bundler that runs esbuild in a worker. */
export function createWorkerBundler(options: WorkerBundlerOptions = {}): ClosableBundler {
  let worker: Worker | undefined;
  let fallback: Promise<Bundler> | undefined;
  let nextId = 1;
  const waiting = new Map<number, _Waiting>();

  const inProcess = async (path: string, options?: BundleOptions) =>
    (await fallback!).bundle(path, options);

  const stop = () => {
    worker?.terminate();
    worker = undefined;
  };

  const start = (): Worker => {
    const w = options.workerUrl
      ? new Worker(options.workerUrl, { type: "module" })
      : new Worker(new URL("./bundle_worker.ts", import.meta.url), { type: "module" });
    w.onmessage = (e: MessageEvent<BundleReply>) => {
      waiting.get(e.data.id)?.settle(e.data.result);
      waiting.delete(e.data.id);
    };
    w.onerror = (e) => {
      e.preventDefault();
      // The worker cannot run here: bundle in this isolate from now on.
      stop();
      fallback ??= import("./bundler.ts").then((m) => m.createBundler());
      const pending = [...waiting.values()];
      waiting.clear();
      for (const { path, options, settle } of pending) inProcess(path, options).then(settle);
    };
    return w;
  };

  return {
    bundle(path: string, options?: BundleOptions): Promise<BundleResult> {
      if (fallback) return inProcess(path, options);
      worker ??= start();
      const id = nextId++;
      return new Promise((settle) => {
        waiting.set(id, { path, options, settle });
        worker!.postMessage({ id, path, options });
      });
    },
    close() {
      stop();
      for (const { settle } of waiting.values()) {
        settle({ ok: false, error: "the bundler was closed" });
      }
      waiting.clear();
    },
  };
}
