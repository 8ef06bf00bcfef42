/**
 * Errors a user can fix: the CLI prints their message without a stack and exits non-zero.
 *
 * @module
 */

/** A mistake in the user's input (flag, config, env, API key) with a message that says the fix. */
export class UserError extends Error {
  /** Process exit code the CLI uses for this error. */
  readonly exitCode: number;
  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = "UserError";
    this.exitCode = options.exitCode ?? 1;
  }
}

/** An invalid config file: exit code 2, one line per problem. */
export class ConfigError extends UserError {
  /** Each problem, already formatted with its YAML path and line. */
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(
      `invalid config ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`,
      { exitCode: 2 },
    );
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/** The message of a caught value: an Error's message, else the value as text. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
