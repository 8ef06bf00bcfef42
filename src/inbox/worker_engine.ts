/**
 * A {@linkcode SqlEngine} whose connection lives in a worker (`store_worker.ts`), for `file:`
 * databases: the main thread only posts messages, so a slow fsync or another process's lock
 * never stalls HTTP. Requests are answered in order. If the worker dies, every outstanding and
 * later call fails with {@linkcode StoreUnavailable}.
 *
 * @example
 * ```ts
 * import { openWorkerEngine } from "./worker_engine.ts";
 * const engine = await openWorkerEngine({ url: "file::memory:" });
 * await engine.execute({ sql: "SELECT 1", args: [] });
 * engine.close();
 * ```
 * @module
 */
import { UserError } from "../errors.ts";
import type { EngineOptions, SqlEngine, SqlResult, SqlStatement } from "./sql_engine.ts";
import { StoreUnavailable } from "./types.ts";
import type { WorkerReply, WorkerRequest } from "./worker_protocol.ts";

interface _Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Starts the store worker and opens (creating and migrating) the database in it. */
export async function openWorkerEngine(options: EngineOptions): Promise<SqlEngine> {
  // A literal URL next to this module. `deno compile` embeds worker code only when told to:
  // the compile task passes `--include src/inbox/store_worker.ts` (Deno's compile docs, Workers).
  const worker = new Worker(new URL("./store_worker.ts", import.meta.url), { type: "module" });
  const engine = new _WorkerEngine(worker);
  try {
    await engine.request({ type: "open", id: 0, options });
  } catch (error) {
    engine.close();
    throw error;
  }
  return engine;
}

class _WorkerEngine implements SqlEngine {
  #worker: Worker;
  #pending = new Map<number, _Pending>();
  #nextId = 1;
  #dead: Error | undefined;

  constructor(worker: Worker) {
    this.#worker = worker;
    worker.onmessage = (e: MessageEvent<WorkerReply>) => {
      const reply = e.data;
      const waiting = this.#pending.get(reply.id);
      if (!waiting) return;
      this.#pending.delete(reply.id);
      if (reply.ok) {
        waiting.resolve(reply.result);
      } else if (reply.error.userExitCode !== undefined) {
        waiting.reject(new UserError(reply.error.message, { exitCode: reply.error.userExitCode }));
      } else {
        waiting.reject(new Error(reply.error.message));
      }
    };
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      this.#stop(new StoreUnavailable(`the store worker stopped: ${e.message}`));
    };
  }

  /** Sends `request` (its id is assigned here) and waits for the worker's answer. */
  request(request: WorkerRequest): Promise<unknown> {
    if (this.#dead) return Promise.reject(this.#dead);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#worker.postMessage({ ...request, id });
    });
  }

  execute(stmt: SqlStatement): Promise<SqlResult> {
    return this.request({ type: "execute", id: 0, stmt }) as Promise<SqlResult>;
  }

  batch(stmts: SqlStatement[]): Promise<SqlResult[]> {
    return this.request({ type: "batch", id: 0, stmts }) as Promise<SqlResult[]>;
  }

  #stop(reason: Error): void {
    this.#dead ??= reason;
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(reason);
  }

  close(): Promise<void> {
    if (this.#dead) return Promise.resolve();
    // The worker closes the connection after the requests already sent, then exits.
    const closed = this.request({ type: "close", id: 0 }).then(() => {}, () => {});
    const id = this.#nextId - 1;
    const pending = [...this.#pending].filter(([k]) => k !== id);
    this.#dead = new Error("the inbox is closed");
    for (const [k, p] of pending) {
      this.#pending.delete(k);
      p.reject(this.#dead);
    }
    return closed;
  }
}
