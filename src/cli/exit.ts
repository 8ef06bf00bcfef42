/**
 * How a subcommand ends with a non-zero exit code after printing its own report (a failed
 * check, a 4xx from the daemon): it throws {@linkcode CommandFailed}, and `main` returns the
 * code without printing anything more. Subcommands never set `Deno.exitCode` themselves.
 *
 * @example
 * ```ts
 * import { CommandFailed } from "./exit.ts";
 * const problems = ["handlers/stripe/x.ts: syntax error"];
 * if (problems.length > 0) throw new CommandFailed(1);
 * ```
 * @module
 */

/** The command already printed why it failed; exit with {@linkcode CommandFailed.exitCode}. */
export class CommandFailed extends Error {
  /** Process exit code: 1 a failure, 2 invalid config or usage. */
  readonly exitCode: number;
  constructor(exitCode = 1) {
    super(`command failed (exit ${exitCode})`);
    this.name = "CommandFailed";
    this.exitCode = exitCode;
  }
}
