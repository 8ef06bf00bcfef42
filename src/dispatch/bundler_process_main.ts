/**
 * `whd __bundler` (internal, started by `process_bundler.ts`): bundles handler files with
 * esbuild-wasm in a process of its own, so that every byte esbuild took goes back to the system
 * when it exits — a worker's memory stays in whd's allocator (measured: whd kept ~120 MB after
 * a worker bundled the example handlers, and peaked at ~320 MB).
 *
 * Protocol: one JSON {@linkcode BundleRequest} per line on stdin; one JSON
 * {@linkcode BundleReply} per line on stdout, in any order. It exits when stdin ends.
 *
 * @module
 */
import { pumpLines } from "./child_io.ts";
import { type BundleOptions, type BundleResult, createBundler } from "./bundler.ts";

/** A request to the bundler process. */
export interface BundleRequest {
  id: number;
  path: string;
  options?: BundleOptions;
}

/** The bundler process's answer. */
export interface BundleReply {
  id: number;
  result: BundleResult;
}

/** Serves bundle requests from stdin until it ends. */
export async function runBundlerProcess(): Promise<void> {
  const bundler = createBundler();
  const encoder = new TextEncoder();
  const writer = Deno.stdout.writable.getWriter();
  let writing = Promise.resolve();
  const reply = (message: BundleReply) => {
    writing = writing.then(() => writer.write(encoder.encode(JSON.stringify(message) + "\n")));
    return writing;
  };
  const inFlight = new Set<Promise<void>>();
  await pumpLines(Deno.stdin.readable, (line) => {
    if (line.trim() === "") return;
    const request = JSON.parse(line) as BundleRequest;
    const done = (async () => {
      let result: BundleResult;
      try {
        result = await bundler.bundle(request.path, request.options);
      } catch (error) {
        result = { ok: false, error: String(error) };
      }
      await reply({ id: request.id, result });
    })();
    inFlight.add(done);
    done.finally(() => inFlight.delete(done));
  });
  await Promise.all(inFlight);
  await writing;
  Deno.exit(0);
}
