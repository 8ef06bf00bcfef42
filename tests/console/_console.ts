/**
 * A throw-away whd project for the console tests, run as a user runs whd (`whd serve` as a
 * child process): a GitHub webhook and an hmac `shop` webhook with canary secrets, executable
 * handlers (one that succeeds, one that always fails), the admin listener on a free port, and
 * helpers to deliver through the real signing path and to call the console API.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parseConfig } from "../../src/config/loader.ts";
import type { Config } from "../../src/config/schema.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";
import { writeFile } from "../dispatch/_helpers.ts";
import { startWhd, type WhdServer } from "../helpers/whd_process.ts";

/** A parsed JSON answer (the tests read its fields freely). */
// deno-lint-ignore no-explicit-any
export type Json = any;

/** The signing secrets and the admin token (canaries: none may appear in any answer). */
export const SECRETS = {
  GITHUB_SECRET: "gh_canary_secret_5e1f0a9b7c3d",
  SHOP_SECRET: "shop_canary_secret_8d2c4b6a0f1e",
  ADMIN_TOKEN: "admin_canary_token_3b9d7f1a5c2e4680",
};

/** A project folder and its running whd. */
export interface ConsoleProject {
  dir: string;
  config: Config;
  /** Starts `whd serve` with `env` added; resolves once listening. */
  start(env?: Record<string, string>): Promise<RunningConsole>;
  remove(): Promise<void>;
}

/** A running whd with its console. */
export interface RunningConsole {
  server: WhdServer;
  /** `http://127.0.0.1:<admin port>` */
  admin: string;
  /** POSTs a signed GitHub delivery; returns the status. */
  github(id: string, event: string, payload: unknown): Promise<number>;
  /** POSTs a signed shop delivery `{id, type, ...extra}`; returns the status. */
  shop(id: string, type: string, extra?: Record<string, unknown>): Promise<number>;
  /** GETs a console API path as JSON (bearer token when `auth` is given). */
  get(path: string, auth?: string): Promise<{ status: number; body: Json; text: string }>;
  /** POSTs to a console API path with the CSRF token from /api/session. */
  post(path: string, body?: unknown, auth?: string): Promise<{ status: number; body: Json }>;
  /** Polls `path` until `check` holds for its JSON (10 s at most). */
  until(path: string, check: (body: Json) => boolean, auth?: string): Promise<Json>;
  /** Every answer body read so far (for the secrets check). */
  answers: string[];
}

/** Writes the project: `extraYaml` is prepended to the config (e.g. an admin: block). */
export async function consoleProject(
  options: { extraYaml?: string; maxAttempts?: number } = {},
): Promise<ConsoleProject> {
  const dir = await Deno.makeTempDir({ prefix: "whd_console_" });
  const yaml = `${options.extraYaml ?? ""}server:
  host: 127.0.0.1
database:
  url: file:data/whd.db
handlers:
  dir: handlers
  max_attempts: ${options.maxAttempts ?? 1}
  backoff_base_ms: 100
  backoff_max_ms: 200
  timeout_ms: 5000
  shutdown_grace_ms: 300
  watch: false
log:
  level: info
  format: json
providers:
  github:
    webhooks:
      repo:
        path: /hooks/github
        signing_secret_env: GITHUB_SECRET
  shop:
    type: hmac
    webhooks:
      orders:
        path: /hooks/shop
        signing_secret_env: SHOP_SECRET
        signature_header: X-Shop-Signature
        signature_prefix: "sha256="
        id_path: /id
        type_path: /type
`;
  await writeFile(dir, "config/whd.yaml", yaml);
  const ok = '#!/bin/sh\ncat > /dev/null\necho "handled fine"\n';
  const fail = '#!/bin/sh\ncat > /dev/null\necho "about to fail" >&2\nexit 3\n';
  await writeFile(dir, "handlers/shop/order.created.sh", { text: ok, mode: 0o755 });
  await writeFile(dir, "handlers/shop/order.failed.sh", { text: fail, mode: 0o755 });
  await writeFile(dir, "handlers/shop/order.refused.sh", { text: fail, mode: 0o755 });
  await writeFile(dir, "handlers/github/_default.sh", { text: ok, mode: 0o755 });
  const config = parseConfig(yaml, "whd.yaml");
  return {
    dir,
    config,
    async start(extraEnv = {}) {
      const server = await startWhd([], {
        cwd: dir,
        env: {
          GITHUB_SECRET: SECRETS.GITHUB_SECRET,
          SHOP_SECRET: SECRETS.SHOP_SECRET,
          ...extraEnv,
        },
      });
      return running(server, config);
    },
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** The admin URL from the log (`admin listening`). */
export function adminUrlOf(server: WhdServer): string {
  const match = /"msg":"admin listening","url":"(http:\/\/[^"]+)"/.exec(server.logs());
  assert.ok(match, `no admin listener in the log:\n${server.logs()}`);
  return match[1];
}

function running(server: WhdServer, config: Config): RunningConsole {
  const admin = adminUrlOf(server);
  const github = config.providers.find((p) => p.name === "github")!.webhooks[0];
  const shop = config.providers.find((p) => p.name === "shop")!.webhooks[0];
  const answers: string[] = [];
  const bearer = (auth?: string): Record<string, string> =>
    auth ? { authorization: `Bearer ${auth}` } : {};
  const get = async (path: string, auth?: string) => {
    const response = await fetch(`${admin}${path}`, { headers: bearer(auth) });
    const text = await response.text();
    answers.push(text);
    let body: Json;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: response.status, body, text };
  };
  return {
    server,
    admin,
    answers,
    async github(id, event, payload) {
      const body = JSON.stringify(payload);
      const headers = await PROVIDERS.github.sign(github, body, {
        secret: SECRETS.GITHUB_SECRET,
        id,
        type: event,
      });
      const response = await fetch(`${server.url}/hooks/github`, {
        method: "POST",
        headers,
        body,
      });
      await response.body?.cancel();
      return response.status;
    },
    async shop(id, type, extra = {}) {
      const body = JSON.stringify({ id, type, ...extra });
      const headers = await PROVIDERS.hmac.sign(shop, body, { secret: SECRETS.SHOP_SECRET });
      const response = await fetch(`${server.url}/hooks/shop`, { method: "POST", headers, body });
      await response.body?.cancel();
      return response.status;
    },
    get,
    async post(path, body, auth) {
      const session = await get("/api/session", auth);
      const response = await fetch(`${admin}${path}`, {
        method: "POST",
        headers: {
          ...bearer(auth),
          "x-csrf-token": session.body.csrf,
          "content-type": "application/json",
          origin: admin,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      answers.push(text);
      return { status: response.status, body: JSON.parse(text) };
    },
    async until(path, check, auth) {
      const deadline = Date.now() + 10_000;
      while (true) {
        const { body } = await get(path, auth);
        if (check(body)) return body;
        if (Date.now() > deadline) {
          throw new Error(`${path} never matched; last: ${JSON.stringify(body)}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

/** Where a file of the project is. */
export function inProject(project: ConsoleProject, name: string): string {
  return join(project.dir, name);
}
