/**
 * Starts whd's request handler on a loopback port with a real libSQL inbox in a temp dir.
 * @module
 */
import { type Clock, systemClock } from "../../src/clock.ts";
import { parseConfig, resolveSecrets, secretsFor } from "../../src/config/loader.ts";
import type { Config } from "../../src/config/schema.ts";
import { createRequestHandler, type ServerDeps } from "../../src/http/server.ts";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import type { Inbox } from "../../src/inbox/types.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { Metrics } from "../../src/ops/metrics.ts";

/** A running test server. */
export interface TestServer {
  url: string;
  config: Config;
  inbox: Inbox;
  metrics: Metrics;
  /** Every log line written so far (JSON). */
  logLines: string[];
  dir: string;
  close(): Promise<void>;
}

/** Options for {@linkcode startTestServer}. */
export interface TestServerOptions {
  clock?: Clock;
  extra?: Partial<ServerDeps>;
}

/** Serves `yaml` (with `env` as the environment) on 127.0.0.1 at a free port. */
export async function startTestServer(
  yaml: string,
  env: Record<string, string>,
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dir = await Deno.makeTempDir({ prefix: "whd_server_test_" });
  const config = parseConfig(yaml, "test.yaml");
  config.database.url = `file:${dir}/whd.db`;
  const secrets = new Set<string>();
  const log = memoryLogger();
  const resolved = resolveSecrets(config, (name) => env[name], { secrets });
  const inbox = await openInbox({ url: config.database.url, log });
  const metrics = new Metrics();
  const handler = createRequestHandler({
    config,
    secretsFor: (webhook) => secretsFor(resolved, webhook),
    inbox,
    log,
    metrics,
    clock: options.clock ?? systemClock,
    ...options.extra,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    config,
    inbox,
    metrics,
    logLines: log.lines,
    dir,
    close: async () => {
      await server.shutdown();
      inbox.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
