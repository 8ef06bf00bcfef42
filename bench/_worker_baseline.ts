/**
 * The baseline for `handler_run_bench.ts`: a minimal module-handler Worker like the one whd
 * used before handler hosts (import the bundled code as a `data:` URL, build `ctx`, post the
 * result). Not used by whd.
 *
 * @module
 */
/// <reference lib="deno.worker" />
import { toDataUrl } from "../src/dispatch/data_url.ts";

self.onmessage = async (e: MessageEvent<{ runId: number; code: string; event: unknown }>) => {
  const { runId, code, event } = e.data;
  try {
    const module = await import(toDataUrl(code));
    const controller = new AbortController();
    const log = (message: string, fields?: unknown) =>
      self.postMessage({ kind: "log", runId, message, fields });
    await module.default(event, {
      log: { debug: log, info: log, warn: log, error: log },
      attempt: 1,
      signal: controller.signal,
      env: {},
    });
    self.postMessage({ kind: "done", runId, ok: true });
  } catch (error) {
    self.postMessage({ kind: "done", runId, ok: false, error: String(error) });
  }
};
