/**
 * The body of the bundler worker (`worker_bundler.ts`): bundles handler files with esbuild-wasm
 * off the main isolate, so its memory goes away when the worker is terminated.
 *
 * Messages in: `{ id, path }`; out: `{ id, result }` ({@linkcode BundleResult}).
 *
 * @module
 */
import { type BundleOptions, type BundleResult, createBundler } from "./bundler.ts";

/** A request to the worker. */
export interface BundleRequest {
  id: number;
  path: string;
  options?: BundleOptions;
}

/** The worker's answer. */
export interface BundleReply {
  id: number;
  result: BundleResult;
}

const bundler = createBundler();
const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<BundleRequest>) => void) | null;
  postMessage(reply: BundleReply): void;
};
scope.onmessage = async (e) => {
  let result: BundleResult;
  try {
    result = await bundler.bundle(e.data.path, e.data.options);
  } catch (error) {
    result = { ok: false, error: String(error) };
  }
  scope.postMessage({ id: e.data.id, result });
};
