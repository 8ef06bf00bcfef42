/**
 * Reading the secrets a config names from the environment, kept apart from the `Config` object
 * so that printing or logging a config can never reveal one.
 *
 * @example
 * ```ts
 * import { resolveSecrets, secretsFor } from "./secrets.ts";
 * import type { Config } from "./schema.ts";
 * declare const config: Config;
 * const secrets = new Set<string>();
 * const resolved = resolveSecrets(config, (name) => Deno.env.get(name), { secrets });
 * const stripe = config.providers.find((p) => p.name === "stripe")!.webhooks[0];
 * secretsFor(resolved, stripe); // ["whsec_…"] — every value listed in STRIPE_WEBHOOK_SECRET
 * ```
 * @module
 */
import { ConfigError } from "../errors.ts";
import { formatPath } from "./problems.ts";
import type { Config, WebhookConfig } from "./schema.ts";

/** The secrets a config needs, read from the environment. */
export interface ResolvedSecrets {
  /**
   * Keyed by {@linkcode webhookKey} (`provider/webhook`): the secrets to try, in the order
   * listed (several during rotation). An empty list for webhooks with `verify_signature: false`.
   */
  webhooks: ReadonlyMap<string, readonly string[]>;
  /** The value of `database.auth_token_env`, when the config names one. */
  databaseAuthToken?: string;
}

/** Options for {@linkcode resolveSecrets}. */
export interface ResolveSecretsOptions {
  /** Every secret value read is added here (the logger scrubs these). */
  secrets?: Set<string>;
}

/** The key of a webhook in {@linkcode ResolvedSecrets.webhooks}: `provider/webhook`. */
export function webhookKey(webhook: Pick<WebhookConfig, "provider" | "name">): string {
  return `${webhook.provider}/${webhook.name}`;
}

/** The secrets for one webhook (empty when it does not verify, or was not resolved). */
export function secretsFor(
  resolved: ResolvedSecrets,
  webhook: Pick<WebhookConfig, "provider" | "name">,
): readonly string[] {
  return resolved.webhooks.get(webhookKey(webhook)) ?? [];
}

/** Splits an env value into its comma-separated secrets, trimmed, empties dropped. */
export function splitSecrets(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

const _ROTATION_HINT =
  "export it (several secrets may be listed, comma-separated, during rotation)";

/**
 * Reads every secret the config names. All problems are collected into one `ConfigError`
 * (exit 2); messages name variables and YAML paths, never values.
 */
export function resolveSecrets(
  config: Config,
  env: (name: string) => string | undefined,
  options: ResolveSecretsOptions = {},
): ResolvedSecrets {
  const problems: string[] = [];
  const webhooks = new Map<string, string[]>();
  const remember = (values: string[]) => values.forEach((v) => options.secrets?.add(v));
  for (const provider of config.providers) {
    for (const webhook of provider.webhooks) {
      if (!webhook.verify_signature) {
        webhooks.set(webhookKey(webhook), []);
        continue;
      }
      const at = formatPath([
        "providers",
        provider.name,
        "webhooks",
        webhook.name,
        "signing_secret_env",
      ]);
      const name = webhook.signing_secret_env;
      if (name === undefined) {
        // parseConfig rejects this; a hand-built Config may still get here.
        problems.push(`${at}: is required while verify_signature is on: add it`);
        continue;
      }
      const raw = env(name);
      const values = splitSecrets(raw ?? "");
      remember(values);
      if (values.length === 0) {
        problems.push(`${at}: ${_unsetOrEmpty(name, raw)}: ${_ROTATION_HINT}`);
        continue;
      }
      if (webhook.type === "standard") {
        values.forEach((value, i) => {
          if (!_isStandardSecret(value)) {
            problems.push(
              `${at}: secret ${i + 1} of ${values.length} in environment variable ${name} is ` +
                "not a Standard Webhooks secret (whsec_ followed by base64): copy it exactly " +
                "from the sender's settings",
            );
          }
        });
      }
      webhooks.set(webhookKey(webhook), values);
    }
  }
  const databaseAuthToken = _databaseToken(config, env, problems);
  if (databaseAuthToken) remember([databaseAuthToken]);
  if (problems.length > 0) throw new ConfigError(config.source, problems);
  return { webhooks, databaseAuthToken };
}

/**
 * The value of `database.auth_token_env` (undefined when the config names none), for commands
 * that need the database but no webhook secret. Throws a `ConfigError` (exit 2) when the
 * variable is unset or empty; the token is added to `options.secrets`.
 */
export function resolveDatabaseToken(
  config: Config,
  env: (name: string) => string | undefined,
  options: ResolveSecretsOptions = {},
): string | undefined {
  const problems: string[] = [];
  const token = _databaseToken(config, env, problems);
  if (problems.length > 0) throw new ConfigError(config.source, problems);
  if (token) options.secrets?.add(token);
  return token;
}

function _databaseToken(
  config: Config,
  env: (name: string) => string | undefined,
  problems: string[],
): string | undefined {
  const tokenEnv = config.database.auth_token_env;
  if (tokenEnv === undefined) return undefined;
  const raw = env(tokenEnv);
  const value = raw?.trim() ?? "";
  if (value) return value;
  problems.push(
    `database.auth_token_env: ${_unsetOrEmpty(tokenEnv, raw)}: ` +
      `export it (the auth token for ${_safeUrl(config.database.url)})`,
  );
  return undefined;
}

function _unsetOrEmpty(name: string, value: string | undefined): string {
  return value === undefined
    ? `environment variable ${name} is not set`
    : `environment variable ${name} is empty`;
}

/** A database URL without credentials or query (which may carry an auth token). */
function _safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "the database";
  }
}

function _isStandardSecret(value: string): boolean {
  const body = value.startsWith("whsec_") ? value.slice("whsec_".length) : value;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body) || body.length % 4 !== 0) return false;
  try {
    return atob(body).length > 0;
  } catch {
    return false;
  }
}
