/**
 * The store worker: owns the `file:` database connection so that the synchronous driver (its
 * fsyncs, its waits on other processes' locks) never runs on the HTTP thread. It answers the
 * messages {@linkcode openWorkerEngine} sends, one at a time, in order.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { UserError } from "../errors.ts";
import { openMigratedNativeEngine } from "./native_engine.ts";
import { isMemoryUrl, openClientEngine, type SqlEngine } from "./sql_engine.ts";
import type { WorkerReply, WorkerRequest } from "./worker_protocol.ts";

function _serve(scope: typeof self): void {
  let engine: SqlEngine | undefined;
  const reply = (message: WorkerReply) => scope.postMessage(message);
  const failure = (id: number, error: unknown): WorkerReply => ({
    id,
    ok: false,
    error: {
      message: error instanceof Error ? error.message : String(error),
      userExitCode: error instanceof UserError ? error.exitCode : undefined,
    },
  });
  // Messages are handled strictly in order: each waits for the one before.
  let chain: Promise<unknown> = Promise.resolve();
  scope.onmessage = (e: MessageEvent<WorkerRequest>) => {
    const request = e.data;
    chain = chain.then(async () => {
      try {
        switch (request.type) {
          case "open":
            // A file on the driver itself (prepared statements), created and migrated on the
            // connection that then serves; `native: false` and in-memory files on the client.
            engine = !isMemoryUrl(request.options.url) && request.options.native !== false
              ? await openMigratedNativeEngine(
                request.options.url,
                request.options.busyTimeoutMs ?? 5000,
              )
              : await openClientEngine(request.options);
            reply({ id: request.id, ok: true, result: null });
            return;
          case "execute":
            reply({ id: request.id, ok: true, result: await engine!.execute(request.stmt) });
            return;
          case "batch":
            reply({ id: request.id, ok: true, result: await engine!.batch(request.stmts) });
            return;
          case "close":
            await engine?.close();
            engine = undefined;
            reply({ id: request.id, ok: true, result: null });
            scope.close();
            return;
        }
      } catch (error) {
        reply(failure(request.id, error));
      }
    });
  };
}

_serve(self);
