/**
 * A {@linkcode SqlEngine} whose connection lives in a worker (`store_worker.ts`), for `file:`
 * databases: the main thread only posts messages, so a slow fsync or another process's lock
 * never stalls HTTP. Requests are answered in order. If the worker dies, every outstanding call
 * fails with {@linkcode StoreUnavailable}, and the next call starts a new worker (at most one
 * start a second), which reopens the file: whd recovers without a restart.
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

/** Starts a store worker (tests pass one that can be made to crash). */
export type SpawnStoreWorker = () => Worker;

/** The store worker module: a literal URL next to this module, so `deno compile` can embed it. */
export const spawnStoreWorker: SpawnStoreWorker = () =>
  // `deno compile` embeds worker code only when told to: the compile task passes
  // `--include src/inbox/store_worker.ts` (Deno's compile docs, Workers).
  new Worker(new URL("./store_worker.ts", import.meta.url), { type: "module" });

/** Least time between two worker starts after crashes. */
const _RESPAWN_INTERVAL_MS = 1000;

/**
 * Starts the store worker and opens (creating and migrating) the database in it. A worker that
 * dies later is replaced on the next call.
 */
export async function openWorkerEngine(
  options: EngineOptions,
  spawn: SpawnStoreWorker = spawnStoreWorker,
): Promise<SqlEngine> {
  const first = await _startWorker(options, spawn);
  return new _RespawningEngine(first, options, spawn);
}

async function _startWorker(
  options: EngineOptions,
  spawn: SpawnStoreWorker,
): Promise<_WorkerEngine> {
  const engine = new _WorkerEngine(spawn());
  try {
    await engine.request({ type: "open", id: 0, options });
  } catch (error) {
    engine.close();
    throw error;
  }
  return engine;
}

/** The current worker, replaced when it crashed. */
class _RespawningEngine implements SqlEngine {
  #current: _WorkerEngine;
  #options: EngineOptions;
  #spawn: SpawnStoreWorker;
  #starting: Promise<_WorkerEngine> | undefined;
  #lastStart = 0;
  #closed = false;

  constructor(first: _WorkerEngine, options: EngineOptions, spawn: SpawnStoreWorker) {
    this.#current = first;
    this.#options = options;
    this.#spawn = spawn;
  }

  /** The live worker, starting a new one when the current one crashed. */
  async #engine(): Promise<_WorkerEngine> {
    if (this.#closed || !this.#current.crashed) return this.#current;
    if (this.#starting === undefined) {
      const wait = this.#lastStart + _RESPAWN_INTERVAL_MS - Date.now();
      if (wait > 0) throw this.#current.crashed;
      this.#lastStart = Date.now();
      this.#starting = _startWorker(this.#options, this.#spawn).then(
        (engine) => this.#current = engine,
        (error) => {
          throw new StoreUnavailable(`the store worker could not restart: ${error.message}`);
        },
      ).finally(() => this.#starting = undefined);
    }
    return await this.#starting;
  }

  async execute(stmt: SqlStatement): Promise<SqlResult> {
    return await (await this.#engine()).execute(stmt);
  }

  async batch(stmts: SqlStatement[]): Promise<SqlResult[]> {
    return await (await this.#engine()).batch(stmts);
  }

  close(): Promise<void> {
    this.#closed = true;
    return this.#current.close();
  }
}

class _WorkerEngine implements SqlEngine {
  #worker: Worker;
  #pending = new Map<number, _Pending>();
  #nextId = 1;
  #dead: Error | undefined;
  /** Set when the worker died (not when it was closed). */
  crashed: StoreUnavailable | undefined;

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
      const error = new StoreUnavailable(`the store worker stopped: ${e.message}`);
      this.crashed ??= error;
      this.#stop(error);
      this.#worker.terminate();
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
