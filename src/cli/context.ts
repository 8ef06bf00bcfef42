/**
 * What every subcommand gets: the loaded config, a logger, the inbox, the environment and
 * where to print. Subcommand modules export `register(program, context)` and call
 * `await context(options)` inside their action, so `--help` never touches the config.
 *
 * @module
 */
import type { Command } from "commander";
import type { Clock } from "../clock.ts";
import type { Config } from "../config/schema.ts";
import type { Inbox } from "../inbox/types.ts";
import type { Logger } from "../ops/log.ts";

/** The dependencies of one subcommand run. */
export interface CliContext {
  config: Config;
  log: Logger;
  /** Opens (and migrates) the inbox named by `database.url`. Close it when done. */
  openInbox(): Promise<Inbox>;
  /** Reads an environment variable. */
  env(name: string): string | undefined;
  /** Writes to standard output (a newline is not added). */
  out(text: string): void;
  /** True when standard output is a terminal (progress bars, colors). */
  isTty: boolean;
  clock: Clock;
  /** Secret values to scrub from logs; add each secret you resolve. */
  secrets: Set<string>;
}

/** Global options every subcommand accepts. */
export interface GlobalOptions {
  /** `--config PATH`; else `WHD_CONFIG`; else `config/whd.yaml`. */
  config?: string;
}

/** Builds the context for a subcommand from its parsed global options. */
export type ContextLoader = (options: GlobalOptions) => Promise<CliContext>;

/** The signature of a subcommand module's `register`. */
export type Register = (program: Command, context: ContextLoader) => void;
