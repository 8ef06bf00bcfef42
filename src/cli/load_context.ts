/**
 * Builds a {@linkcode CliContext} from the global options: loads the config, makes the logger,
 * and opens the inbox on demand.
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import { loadConfig, resolveDatabaseToken } from "../config/loader.ts";
import { openInbox } from "../inbox/libsql_inbox.ts";
import { createLogger } from "../ops/log.ts";
import type { CliContext, GlobalOptions } from "./context.ts";

const encoder = new TextEncoder();

/** Loads the config named by `--config`, `WHD_CONFIG` or the default and wires the context. */
export async function loadContext(options: GlobalOptions): Promise<CliContext> {
  const env = (name: string) => Deno.env.get(name);
  const config = await loadConfig({ path: options.config, env });
  const secrets = new Set<string>();
  const log = createLogger({ level: config.log.level, format: config.log.format, secrets });
  return {
    config,
    log,
    secrets,
    env,
    clock: systemClock,
    isTty: Deno.stdout.isTerminal(),
    out: (text) => {
      Deno.stdout.writeSync(encoder.encode(text));
    },
    openInbox: () => {
      const authToken = resolveDatabaseToken(config, env, { secrets });
      return openInbox({
        url: config.database.url,
        authToken,
        log,
        deadlineMs: config.database.timeout_ms,
        dedupeRetentionMs: config.database.dedupe_retention_days * 86_400_000,
      });
    },
  };
}
