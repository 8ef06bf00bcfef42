/**
 * A whd-like process for the kill -9 test: a dispatcher over a libSQL file, nothing else.
 * Usage: deno run -A _crash_child.ts <db-url> <handlers-dir>
 */
import { createDispatcher } from "../../src/dispatch/dispatcher.ts";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { createLogger } from "../../src/ops/log.ts";
import { Metrics } from "../../src/ops/metrics.ts";
import { testConfig } from "./_helpers.ts";

const [url, dir] = Deno.args;
const inbox = await openInbox({ url });
const dispatcher = createDispatcher({
  config: testConfig(dir, { timeout_ms: 5000 }),
  inbox,
  log: createLogger({ level: "warn" }),
  metrics: new Metrics(),
  pollMs: 50,
  leaseMarginMs: 0,
  abortGraceMs: 200,
});
await dispatcher.start();
console.log("ready");
