/**
 * A throw-away whd project for the reliability tests, run as a user runs whd (`main.ts` as a
 * child process): canary secrets in every place the config names one (a rotation list, a
 * Stripe API key, a secret full of characters that change under escaping, a libSQL token),
 * a `shop` hmac webhook, handlers written by each test, and helpers to deliver, to wait for
 * outcomes and to find a secret in any form in any text.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { parseConfig } from "../../src/config/loader.ts";
import type { WebhookConfig } from "../../src/config/schema.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";
import { writeFile } from "../dispatch/_helpers.ts";
import { startWhd, whd, type WhdRun, type WhdServer } from "../helpers/whd_process.ts";

/** The canaries, by environment variable. */
export const CANARIES = {
  STRIPE_WEBHOOK_SECRET: "whsec_canaryOLD_9f8e7d6c5b4a,whsec_canaryNEW_1a2b3c4d5e6f",
  STRIPE_SECRET_KEY: "sk_test_canaryKEY_51HxYzAbCdEf",
  SHOP_SECRET: 'shop"canary\\secret/42+x y',
  LIBSQL_AUTH_TOKEN: "libsql_canary_token_eyJhbGciOi",
};

/** Every single secret value (the rotation list split). */
export const CANARY_VALUES: string[] = Object.values(CANARIES).flatMap((v) => v.split(","));

/**
 * The first form of a canary found in `text` (raw, JSON-escaped, URL-encoded, base64 at any
 * alignment, base64url, hex), or undefined. Independent of whd's own scrubber.
 */
export function leakIn(text: string): string | undefined {
  for (const secret of CANARY_VALUES) {
    const bytes = Buffer.from(secret, "utf8");
    const forms: Record<string, string> = {
      raw: secret,
      json: JSON.stringify(secret).slice(1, -1),
      url: encodeURIComponent(secret),
      form: new URLSearchParams({ q: secret }).toString().slice(2),
      hex: bytes.toString("hex"),
    };
    for (const pad of ["", "u", "us"]) {
      // The middle of the encoding, which does not depend on what surrounds the secret.
      const b64 = Buffer.from(pad + secret).toString("base64");
      forms[`base64+${pad.length}`] = b64.slice(4, Math.floor(8 * (pad.length + bytes.length) / 6));
      forms[`base64url+${pad.length}`] = forms[`base64+${pad.length}`].replaceAll("+", "-")
        .replaceAll("/", "_");
    }
    for (const [name, form] of Object.entries(forms)) {
      if (text.includes(form)) return `${name} of ${secret.slice(0, 12)}…`;
    }
  }
  return undefined;
}

/** A project folder; `dir` is the daemon's working directory. */
export interface Project {
  dir: string;
  env: Record<string, string>;
  path(name: string): string;
  /** Writes `handlers/shop/<file>` (mode 0755 for anything but .ts). */
  handler(file: string, text: string): Promise<string>;
  start(): Promise<WhdServer>;
  /** Signs and POSTs `{id, type}` to `/hooks/shop`. */
  deliver(server: WhdServer, id: string, type: string): Promise<number>;
  /** Runs a whd subcommand in the project. */
  cli(...args: string[]): Promise<WhdRun>;
  /** Waits until every id has one of `statuses` (via `whd events list --json`). */
  waitFor(ids: string[], statuses: string[], timeoutMs?: number): Promise<Listed[]>;
  remove(): Promise<void>;
}

/** A row of `whd events list --json`. */
export interface Listed {
  id: string;
  type: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

/** Writes a project; `handlers` and `log` are merged into the config's sections. */
export async function project(options: {
  handlers?: Record<string, number | boolean>;
  log?: { level?: string; format?: string };
} = {}): Promise<Project> {
  const dir = await Deno.makeTempDir({ prefix: "whd_reliability_" });
  const section = (values: Record<string, unknown>) =>
    Object.entries(values).map(([k, v]) => `  ${k}: ${v}`).join("\n");
  const yaml = `server:
  host: 127.0.0.1
database:
  url: file:data/whd.db
  auth_token_env: LIBSQL_AUTH_TOKEN
handlers:
${
    section({
      dir: "handlers",
      max_attempts: 1,
      timeout_ms: 1500,
      shutdown_grace_ms: 300,
      watch: false,
      ...options.handlers,
    })
  }
log:
${section({ level: "debug", format: "json", ...options.log })}
providers:
  stripe:
    api_key_env: STRIPE_SECRET_KEY
    api_base: http://127.0.0.1:9
    webhooks:
      default:
        path: /hooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
  shop:
    type: hmac
    webhooks:
      orders:
        path: /hooks/shop
        signing_secret_env: SHOP_SECRET
        signature_header: X-Shop-Signature
        id_path: /id
        type_path: /type
`;
  await writeFile(dir, "config/whd.yaml", yaml);
  await Deno.mkdir(join(dir, "handlers", "shop"), { recursive: true });
  const webhook: WebhookConfig = parseConfig(yaml, "whd.yaml").providers[1].webhooks[0];
  const env = { ...CANARIES };
  const cli = (...args: string[]) => whd(args, { cwd: dir, env });
  return {
    dir,
    env,
    path: (name) => join(dir, name),
    handler: (file, text) =>
      writeFile(
        dir,
        join("handlers", "shop", file),
        file.endsWith(".ts") ? text : { text, mode: 0o755 },
      ),
    start: () => startWhd([], { cwd: dir, env }),
    async deliver(server, id, type) {
      const body = JSON.stringify({ id, type, data: { n: 1 } });
      const secret = CANARIES.SHOP_SECRET;
      const headers = await PROVIDERS.hmac.sign(webhook, body, { secret });
      const response = await fetch(`${server.url}/hooks/shop`, { method: "POST", headers, body });
      await response.body?.cancel();
      return response.status;
    },
    cli,
    async waitFor(ids, statuses, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (true) {
        const run = await cli("events", "list", "--json");
        if (run.code !== 0) throw new Error(`whd events list failed:\n${run.stderr}`);
        const rows: Listed[] = JSON.parse(run.stdout);
        const mine = ids.map((id) => rows.find((r) => r.id === id));
        if (mine.every((r) => r && statuses.includes(r.status))) return mine as Listed[];
        if (Date.now() > deadline) {
          throw new Error(`events not ${statuses} in time: ${JSON.stringify(mine)}`);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The JSON log lines of a whd's stderr. */
export function jsonLines(logs: string): Record<string, unknown>[] {
  return logs.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** Whether process `pid` is still running (a zombie counts as gone). */
export { alive } from "../helpers/processes.ts";
