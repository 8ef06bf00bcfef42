/**
 * A throw-away whd project for tests against the real daemon: `config/whd.yaml` with one
 * generic-hmac provider (`shop`, an async and a `mode: sync` webhook), a `handlers/` folder, a
 * `data/` libSQL file, and helpers to sign and deliver events over HTTP and read
 * `whd events list --json`.
 *
 * @module
 */
import { join } from "node:path";
import { parseConfig } from "../../src/config/loader.ts";
import type { WebhookConfig } from "../../src/config/schema.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";
import { startWhd, whd, type WhdServer } from "../helpers/whd_process.ts";
import { writeFile } from "./_helpers.ts";

const SECRET = "shop-test-secret";

/** A project folder; `dir` is the daemon's working directory. */
export interface DaemonProject {
  dir: string;
  /** Absolute path of a file under the project (for handlers to write to). */
  path(name: string): string;
  /** Writes `handlers/shop/<file>`. */
  handler(file: string, text: string): Promise<string>;
  /** Starts `whd serve` in the project (`env` adds to its environment). */
  start(env?: Record<string, string>): Promise<WhdServer>;
  /** A signed delivery of an event: the path, headers and body to POST. */
  signed(
    id: string,
    type: string,
    sync?: boolean,
    data?: unknown,
  ): Promise<{ path: string; headers: Record<string, string>; body: string }>;
  /** Signs and POSTs an event to `/hooks/shop` (or `/hooks/shop-sync` when `sync`). */
  deliver(
    server: WhdServer,
    id: string,
    type: string,
    sync?: boolean,
    data?: unknown,
  ): Promise<Delivery>;
  /** Runs the real CLI (`main.ts`) in the project with its environment (plus `env`). */
  cli(
    args: string[],
    env?: Record<string, string>,
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `whd events list --json` (newest `limit`, default the CLI's 50). */
  events(limit?: number): Promise<ListedEvent[]>;
  remove(): Promise<void>;
}

/** An HTTP answer and how long it took. */
export interface Delivery {
  status: number;
  /** The parsed JSON body (an empty object when the body is not JSON). */
  body: Record<string, unknown>;
  /** The raw body. */
  text: string;
  headers: Headers;
  ms: number;
}

/** A row of `whd events list --json`. */
export interface ListedEvent {
  id: string;
  type: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

/**
 * Writes the project; `handlers` are extra keys under `handlers:` in whd.yaml, `webhook` extra
 * keys of the async webhook (e.g. `order_key`), `syncWebhook` those of the `mode: sync` one.
 */
export async function daemonProject(
  handlers: Record<string, number | boolean>,
  webhook: Record<string, string> = {},
  syncWebhook: Record<string, string> = {},
): Promise<DaemonProject> {
  const dir = await Deno.makeTempDir({ prefix: "whd_daemon_" });
  const settings = Object.entries({ dir: "handlers", ...handlers })
    .map(([key, value]) => `  ${key}: ${value}`).join("\n");
  const hmac = `        signing_secret_env: SHOP_SECRET
        signature_header: X-Shop-Signature
        id_path: /id
        type_path: /type`;
  const extra = (keys: Record<string, string>) =>
    Object.entries(keys).map(([k, v]) => `\n        ${k}: ${JSON.stringify(v)}`).join("");
  const yaml = `server:
  host: 127.0.0.1
database:
  url: file:data/whd.db
handlers:
${settings}
log:
  format: json
providers:
  shop:
    type: hmac
    webhooks:
      orders:
        path: /hooks/shop
${hmac}${extra(webhook)}
      orders_sync:
        path: /hooks/shop-sync
        mode: sync
${hmac}${extra(syncWebhook)}
`;
  await writeFile(dir, "config/whd.yaml", yaml);
  await Deno.mkdir(join(dir, "handlers", "shop"), { recursive: true });
  const config = parseConfig(yaml, "whd.yaml");
  const webhooks = config.providers[0].webhooks;
  const hookOf = (sync: boolean): WebhookConfig =>
    webhooks.find((w) => (w.mode === "sync") === sync)!;
  const env = { SHOP_SECRET: SECRET };

  const signed = async (id: string, type: string, sync = false, data: unknown = { n: 1 }) => {
    const body = JSON.stringify({ id, type, data });
    const hook = hookOf(sync);
    const headers = await PROVIDERS.hmac.sign(hook, body, { secret: SECRET });
    return { path: hook.path, headers, body };
  };

  return {
    dir,
    signed,
    path: (name) => join(dir, name),
    handler: (file, text) => writeFile(dir, join("handlers", "shop", file), text),
    start: (extra = {}) => startWhd([], { cwd: dir, env: { ...env, ...extra } }),
    async deliver(server, id, type, sync = false, data?: unknown) {
      const { path, headers, body } = await signed(id, type, sync, data);
      const started = performance.now();
      const response = await fetch(`${server.url}${path}`, {
        method: "POST",
        headers,
        body,
      });
      const text = await response.text();
      const ms = performance.now() - started;
      let parsed: Record<string, unknown> = {};
      try {
        parsed = JSON.parse(text);
      } catch { /* a handler's own reply need not be JSON */ }
      return { status: response.status, body: parsed, text, headers: response.headers, ms };
    },
    async cli(args, extra = {}) {
      const run = await whd(args, { cwd: dir, env: { ...env, ...extra } });
      return { code: run.code, stdout: run.stdout, stderr: run.stderr };
    },
    async events(limit?: number) {
      const args = ["events", "list", "--json", ...(limit ? ["--limit", String(limit)] : [])];
      const run = await whd(args, { cwd: dir, env });
      if (run.code !== 0) throw new Error(`whd events list failed:\n${run.stderr}`);
      return JSON.parse(run.stdout);
    },
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
