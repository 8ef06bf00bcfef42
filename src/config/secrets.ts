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

/**
 * The env var names of a webhook's `signing_secret_env`: one name (whose value may list several
 * secrets, comma-separated) or a YAML list of names, each holding exactly one secret.
 */
export function secretEnvNames(
  webhook: Pick<WebhookConfig, "signing_secret_env">,
): string[] {
  const names = webhook.signing_secret_env;
  return names === undefined ? [] : Array.isArray(names) ? [...names] : [names];
}

/**
 * Splits an env value into its comma-separated secrets, empties dropped. Spaces next to a comma
 * belong to the separator (`new, old`); whitespace at either end of the whole value is kept, and
 * {@linkcode resolveSecrets} refuses it rather than trimming it.
 */
export function splitSecrets(value: string): string[] {
  if (value.trim() === "") return [];
  return value.split(/[^\S\r\n]*,[^\S\r\n]*/).filter((s) => s.length > 0);
}

const _ROTATION_HINT =
  "export it (several secrets may be listed, comma-separated, during rotation)";

/**
 * Reads every secret the config names. All problems are collected into one `ConfigError`
 * (exit 2); messages name variables and YAML paths, never values.
 *
 * `signing_secret_env: NAME` reads NAME as a comma-separated rotation list;
 * `signing_secret_env: [NEW, OLD]` reads each variable as exactly one secret, so a secret may
 * hold any character, commas included. A secret with whitespace around it is refused, never
 * trimmed: the sender signs with the exact bytes.
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
      if (webhook.signing_secret_env === undefined) {
        // parseConfig rejects this; a hand-built Config may still get here.
        problems.push(`${at}: is required while verify_signature is on: add it`);
        continue;
      }
      const listed = Array.isArray(webhook.signing_secret_env);
      const values: string[] = [];
      let complete = true;
      for (const name of secretEnvNames(webhook)) {
        const raw = env(name);
        const found = listed ? (raw ? [raw] : []) : splitSecrets(raw ?? "");
        remember(found);
        if (found.length === 0) {
          problems.push(
            `${at}: ${_unsetOrEmpty(name, raw)}: ` +
              (listed ? "export it (one secret per variable in a list)" : _ROTATION_HINT),
          );
          complete = false;
          continue;
        }
        found.forEach((value, i) => {
          const which = found.length === 1
            ? `the secret in environment variable ${name}`
            : `secret ${i + 1} of ${found.length} in environment variable ${name}`;
          if (value !== value.trim()) {
            problems.push(
              `${at}: ${which} has whitespace around it: remove it (whd does not trim secrets: ` +
                "the sender signs with the exact secret" +
                ")",
            );
            complete = false;
          } else if (webhook.type === "standard" && !_isStandardSecret(value)) {
            problems.push(
              `${at}: ${which} is not a Standard Webhooks secret (whsec_ followed by base64): ` +
                "copy it exactly from the sender's settings",
            );
            complete = false;
          }
        });
        values.push(...found);
      }
      if (complete) webhooks.set(webhookKey(webhook), values);
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

/** `whsec_` (optional) and standard base64, padded or not (as the reference libraries take it). */
function _isStandardSecret(value: string): boolean {
  const body = value.startsWith("whsec_") ? value.slice("whsec_".length) : value;
  const padded = /=$/.test(body);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return false;
  if (padded ? body.length % 4 !== 0 : body.length % 4 === 1) return false;
  try {
    return atob(padded ? body : body + "=".repeat((4 - body.length % 4) % 4)).length > 0;
  } catch {
    return false;
  }
}
