/**
 * Messages between the inbox (main thread) and the store worker.
 *
 * @module
 */
import type { EngineOptions, SqlResult, SqlStatement } from "./sql_engine.ts";

/** Main thread → worker. `id` pairs a request with its reply. */
export type WorkerRequest =
  | { type: "open"; id: number; options: EngineOptions }
  | { type: "execute"; id: number; stmt: SqlStatement }
  | { type: "batch"; id: number; stmts: SqlStatement[] }
  | { type: "close"; id: number };

/** Worker → main thread. `userExitCode` is set when the error was a {@linkcode UserError}. */
export type WorkerReply =
  | { id: number; ok: true; result: SqlResult | SqlResult[] | null }
  | { id: number; ok: false; error: { message: string; userExitCode?: number } };
