/**
 * The config loader: YAML text → validated, normalized {@linkcode Config}, with every problem
 * reported at once as `path.to.key (line N): what is wrong: how to fix it`.
 *
 * @example
 * ```ts
 * import { loadConfig, resolveSecrets } from "./loader.ts";
 * const env = (name: string) => Deno.env.get(name);
 * const config = await loadConfig({ path: undefined, env }); // WHD_CONFIG, else config/whd.yaml
 * const secrets = new Set<string>();
 * const resolved = resolveSecrets(config, env, { secrets });
 * ```
 * @module
 */
import { isAbsolute, join } from "node:path";
import { LineCounter, parseDocument } from "yaml";
import exampleConfig from "../../config/whd.yaml" with { type: "text" };
import { ConfigError, errorMessage, UserError } from "../errors.ts";
import { checkConfig, type ProviderInput, WEBHOOK_KEYS } from "./checks.ts";
import {
  createLocator,
  describeIssue,
  formatProblem,
  type Misplaced,
  type SchemaIssue,
  sortByLine,
  type YamlPath,
} from "./problems.ts";
import {
  type Config,
  type ConfigInput,
  ConfigSchema,
  NAME_PATTERN,
  PROVIDER_TYPES,
  type ProviderConfig,
  ProviderSchema,
  type ProviderType,
  type WebhookConfig,
} from "./schema.ts";

export {
  resolveDatabaseToken,
  type ResolvedSecrets,
  resolveSecrets,
  type ResolveSecretsOptions,
  secretsFor,
  splitSecrets,
  webhookKey,
} from "./secrets.ts";

/** The config file used when neither `--config` nor `WHD_CONFIG` names one. */
export const DEFAULT_CONFIG_PATH = "config/whd.yaml";

/** The `source` of a config loaded from the example embedded in whd. */
export const EMBEDDED_SOURCE = "embedded example (config/whd.yaml not found)";

/** The example config (config/whd.yaml) as embedded at build time. */
export const EXAMPLE_CONFIG: string = exampleConfig;

/**
 * Parses, validates and normalizes config text. `source` names it in errors.
 * Throws {@linkcode ConfigError} listing every problem found.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./loader.ts";
 * const config = parseConfig(
 *   "providers:\n  github:\n    webhooks:\n      default:\n        path: /gh\n" +
 *     "        signing_secret_env: GITHUB_WEBHOOK_SECRET\n",
 *   "inline",
 * );
 * config.providers[0].webhooks[0].type; // "github"
 * ```
 */
export function parseConfig(text: string, source: string): Config {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((error) => {
        const { line, col } = lineCounter.linePos(error.pos[0]);
        return `YAML syntax (line ${line}, column ${col}): ${_sentence(error.message)}: ` +
          "fix the YAML at that spot (indentation, a missing colon, quotes or brackets)";
      }),
    );
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) {
    throw new ConfigError(source, [
      "(top level): the file is empty: start from the example config/whd.yaml " +
      "(providers: is required)",
    ]);
  }
  const locate = createLocator(doc, lineCounter);
  const problems: string[] = [];
  const report = (path: YamlPath, what: string, fix: string) =>
    problems.push(formatProblem(path, locate(path), what, fix));

  const parsed = ConfigSchema.safeParse(data, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      problems.push(...describeIssue(issue as SchemaIssue, ConfigSchema, locate, _misplaced));
    }
    // Still check the providers that are valid on their own, so one run reports as much as it can.
    checkConfig({ providers: _validProviders(data) }, report, locate);
    throw new ConfigError(source, sortByLine(problems));
  }
  const types = checkConfig(parsed.data, report, locate);
  if (problems.length > 0) throw new ConfigError(source, sortByLine(problems));
  return _normalize(parsed.data, types, source);
}

/** Options for {@linkcode loadConfig}. */
export interface LoadConfigOptions {
  /** `--config PATH`; wins over `WHD_CONFIG`. */
  path?: string;
  /** Reads an environment variable (`WHD_CONFIG`, `WHD_PORT`). */
  env: (name: string) => string | undefined;
  /** Directory relative paths are resolved against; default `Deno.cwd()`. */
  cwd?: string;
}

/**
 * Loads the config named by `--config`, else `WHD_CONFIG`, else `config/whd.yaml`; when that
 * default file does not exist, the embedded example config. Applies `WHD_PORT` over
 * `server.port`. A named file that does not exist is a {@linkcode UserError} (exit 2).
 *
 * @example
 * ```ts
 * import { loadConfig } from "./loader.ts";
 * const config = await loadConfig({ path: "config/whd.yaml", env: () => undefined });
 * config.server.port; // 8080
 * ```
 */
export async function loadConfig(options: LoadConfigOptions): Promise<Config> {
  const cwd = options.cwd ?? Deno.cwd();
  const fromEnv = options.env("WHD_CONFIG") || undefined;
  const named = options.path ?? fromEnv;
  const origin = options.path !== undefined ? "--config" : "WHD_CONFIG";
  let text: string;
  let source: string;
  if (named !== undefined) {
    source = named;
    text = await _readNamed(isAbsolute(named) ? named : join(cwd, named), named, origin);
  } else {
    try {
      text = await Deno.readTextFile(join(cwd, DEFAULT_CONFIG_PATH));
      source = DEFAULT_CONFIG_PATH;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw _readError(DEFAULT_CONFIG_PATH, error);
      text = EXAMPLE_CONFIG;
      source = EMBEDDED_SOURCE;
    }
  }
  const port = _portFromEnv(options.env("WHD_PORT"));
  let config: Config;
  try {
    config = parseConfig(text, source);
  } catch (error) {
    // Report a bad WHD_PORT together with the file's problems.
    if (error instanceof ConfigError && typeof port === "string") {
      throw new ConfigError(source, [...error.problems, port]);
    }
    throw error;
  }
  if (typeof port === "string") throw new ConfigError(source, [port]);
  if (port !== undefined) config.server.port = port;
  return config;
}

async function _readNamed(file: string, named: string, origin: string): Promise<string> {
  try {
    return await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const fix = origin === "--config"
        ? "check the path, or drop --config to use config/whd.yaml"
        : "check the path, or unset WHD_CONFIG to use config/whd.yaml";
      throw new UserError(`config file ${named} (from ${origin}) does not exist: ${fix}`, {
        exitCode: 2,
      });
    }
    throw _readError(named, error);
  }
}

function _readError(named: string, error: unknown): UserError {
  return new UserError(
    `cannot read config file ${named}: ${errorMessage(error)}: check that it is a readable file`,
    { exitCode: 2, cause: error },
  );
}

/** The port from `WHD_PORT`, undefined when unset, or a problem line when invalid. */
function _portFromEnv(value: string | undefined): number | string | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const trimmed = value.trim();
  const port = Number(trimmed);
  if (/^\d+$/.test(trimmed) && port >= 0 && port <= 65535) return port;
  return `WHD_PORT (environment): ${JSON.stringify(value)} is not a port number: ` +
    "set it to a whole number from 0 to 65535 (0 picks a free port), or unset it";
}

/** Providers of a config that failed validation which are valid on their own. */
function _validProviders(data: unknown): Record<string, ProviderInput> {
  const providers = (data as { providers?: unknown })?.providers;
  const valid: Record<string, ProviderInput> = {};
  if (!providers || typeof providers !== "object" || Array.isArray(providers)) return valid;
  for (const [name, raw] of Object.entries(providers)) {
    if (!NAME_PATTERN.test(name)) continue;
    const parsed = ProviderSchema.safeParse(raw);
    if (parsed.success) valid[name] = parsed.data;
  }
  return valid;
}

/** Hints for keys written at the wrong level. */
const _misplaced: Misplaced = (key, path) => {
  if (path.length === 0 && (PROVIDER_TYPES as readonly string[]).includes(key)) {
    return `move it under "providers:"`;
  }
  if (
    path.length === 2 && path[0] === "providers" && WEBHOOK_KEYS.includes(key) &&
    !(key in ProviderSchema.shape)
  ) {
    return `move it into a webhook, under ${String(path[1])}.webhooks.<name>`;
  }
  return undefined;
};

function _sentence(message: string): string {
  return message.replace(/\s+/g, " ").trim().replace(/\.$/, "");
}

function _normalize(
  input: ConfigInput,
  types: Map<string, ProviderType>,
  source: string,
): Config {
  const providers: ProviderConfig[] = Object.entries(input.providers).map(([name, provider]) => {
    const type = types.get(name)!;
    const webhooks = Object.entries(provider.webhooks).map(([hook, webhook]): WebhookConfig => {
      const normalized: WebhookConfig = { ...webhook, name: hook, provider: name, type };
      if (type === "hmac") {
        normalized.algorithm ??= "sha256";
        normalized.encoding ??= "hex";
      }
      const allowlist = webhook.ip_allowlist ?? provider.ip_allowlist ?? input.ip_allowlist;
      if (allowlist) normalized.effective_ip_allowlist = allowlist;
      const rateLimit = webhook.rate_limit ?? provider.rate_limit;
      if (rateLimit) normalized.effective_rate_limit = rateLimit;
      return normalized;
    });
    const { type: _type, webhooks: _webhooks, ...rest } = provider;
    return { name, type, webhooks, ...rest };
  });
  const config: Config = {
    server: input.server,
    database: input.database,
    admin: input.admin,
    handlers: input.handlers,
    log: input.log,
    providers,
    source,
  };
  if (input.ip_allowlist) config.ip_allowlist = input.ip_allowlist;
  return config;
}
