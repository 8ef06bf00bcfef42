/**
 * Builds a {@linkcode CliContext} from the global options: loads the config, makes the logger,
 * and opens the inbox on demand.
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import { loadConfig, resolveDatabaseToken } from "../config/loader.ts";
import { openInbox } from "../inbox/libsql_inbox.ts";
import { createOrderOf } from "../dispatch/order_of.ts";
import { createLogger } from "../ops/log.ts";
import {
  configuredSecrets,
  createScrubber,
  MIN_SECRET_LENGTH,
  shortSecrets,
} from "../ops/scrub.ts";
import type { CliContext, GlobalOptions } from "./context.ts";

const encoder = new TextEncoder();

/** Loads the config named by `--config`, `WHD_CONFIG` or the default and wires the context. */
export async function loadContext(options: GlobalOptions): Promise<CliContext> {
  const env = (name: string) => Deno.env.get(name);
  const config = await loadConfig({ path: options.config, env });
  // Every secret the config names, so that logs and output are scrubbed from the start.
  const found = configuredSecrets(config, env);
  const secrets = new Set(found.map((s) => s.value));
  const log = createLogger({ level: config.log.level, format: config.log.format, secrets });
  for (const name of shortSecrets(found)) {
    log.warn(
      `${name} holds a secret shorter than ${MIN_SECRET_LENGTH} characters; it is not ` +
        "scrubbed from logs and output: use a longer secret",
    );
  }
  // Output is scrubbed of the configured secrets only: a secret a command reveals on purpose
  // (a new endpoint's, with --show-secret) is added to `secrets` for the log alone.
  const output = createScrubber(new Set(secrets));
  return {
    config,
    log,
    secrets,
    env,
    clock: systemClock,
    isTty: Deno.stdout.isTerminal(),
    out: (text) => {
      Deno.stdout.writeSync(encoder.encode(output.scrub(text)));
    },
    openInbox: () => {
      const authToken = resolveDatabaseToken(config, env, { secrets });
      return openInbox({
        url: config.database.url,
        authToken,
        log,
        deadlineMs: config.database.timeout_ms,
        dedupeRetentionMs: config.database.dedupe_retention_days * 86_400_000,
        orderOf: createOrderOf(config),
      });
    },
  };
}
