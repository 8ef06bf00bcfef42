/**
 * The config rules a schema cannot express: provider types, keys that only fit one type,
 * hmac requirements, unverified routes, reserved and duplicate paths, Stripe event names.
 *
 * Every rule reports through one callback with the YAML path of the offending key, so the loader
 * can add its line and collect all problems before failing.
 *
 * @example
 * ```ts
 * import { checkConfig } from "./checks.ts";
 * const problems: string[] = [];
 * checkConfig(
 *   { providers: { acme: { webhooks: { default: { path: "/hooks" } } } } } as never,
 *   (path, what, fix) => problems.push(`${path.join(".")}: ${what}: ${fix}`),
 *   () => undefined,
 * );
 * // problems[0] starts with 'providers.acme: unknown provider "acme"'
 * ```
 * @module
 */
import { validateAllowlistEntry } from "../net/ip_allowlist.ts";
import { IP_PRESET_NAMES } from "../net/ip_presets.ts";
import { formatPath, type Locator, type YamlPath } from "./problems.ts";
import { type ConfigInput, PROVIDER_TYPES, type ProviderType, WebhookSchema } from "./schema.ts";

/** Receives one problem: where, what is wrong, how to fix it. */
export type Report = (path: YamlPath, what: string, fix: string) => void;

/** One provider block as the schema validated it. */
export type ProviderInput = ConfigInput["providers"][string];

/** Webhook keys that only mean something for `type: hmac`. */
export const HMAC_ONLY_KEYS = [
  "signature_header",
  "algorithm",
  "encoding",
  "signature_prefix",
  "id_header",
  "id_path",
  "type_header",
  "type_path",
] as const;

/** Provider keys that only mean something for Stripe-type providers (API access). */
export const STRIPE_ONLY_KEYS = ["api_key_env", "api_base", "api_version", "reconcile"] as const;

/** Paths the server answers itself. */
export const RESERVED_PATHS = ["/healthz", "/metrics"] as const;

/** A Stripe event type (`invoice.paid`), a group (`invoice`) or a prefix ending in `*`. */
const _STRIPE_EVENT = /^(?:[a-z0-9_]+(?:\.[a-z0-9_]+)*|[a-z0-9_.]*\*)$/;

/** Env var names that are more likely a pasted secret than a name. */
function _looksLikeSecret(name: string): boolean {
  return /^(whsec|sk|rk|pk|ghp|gho|ghs|ghu)_/i.test(name) ||
    (name.length >= 20 && /[a-z]/.test(name) && /[A-Z]/.test(name) && /[0-9]/.test(name));
}

/** The part of the validated config the checks read. */
export interface CheckInput {
  server?: { trusted_proxies?: string[] };
  ip_allowlist?: string[];
  providers: Record<string, ProviderInput>;
}

/**
 * Runs every cross-key rule; returns the type of each provider whose type could be resolved.
 * `locate` finds lines for messages that point at a second place (duplicate paths).
 */
export function checkConfig(
  input: CheckInput,
  report: Report,
  locate: Locator,
): Map<string, ProviderType> {
  const types = new Map<string, ProviderType>();
  const routes: { path: string; at: YamlPath }[] = [];
  for (const [name, provider] of Object.entries(input.providers)) {
    const type = resolveProviderType(name, provider, report);
    if (type) {
      types.set(name, type);
      _checkProvider(name, provider, type, report);
    }
    for (const [hook, webhook] of Object.entries(provider.webhooks)) {
      routes.push({ path: webhook.path, at: ["providers", name, "webhooks", hook, "path"] });
    }
  }
  _checkRoutes(routes, report, locate);
  _checkAllowlists(input, report);
  return types;
}

/** A provider's `type:`, else its name when that is a known type; reports otherwise. */
export function resolveProviderType(
  name: string,
  provider: ProviderInput,
  report: Report,
): ProviderType | undefined {
  if (provider.type) return provider.type;
  if ((PROVIDER_TYPES as readonly string[]).includes(name)) return name as ProviderType;
  report(
    ["providers", name],
    `unknown provider "${name}"`,
    `add "type: hmac" (or stripe|github|slack|standard)`,
  );
  return undefined;
}

function _checkProvider(
  name: string,
  provider: ProviderInput,
  type: ProviderType,
  report: Report,
): void {
  const base = ["providers", name];
  if (type !== "stripe") {
    for (const key of STRIPE_ONLY_KEYS) {
      if (provider[key] !== undefined) {
        report(
          [...base, key],
          `"${key}" only applies to Stripe providers (this one is type ${type})`,
          "remove it",
        );
      }
    }
  }
  _checkEnvName([...base, "api_key_env"], provider.api_key_env, report);
  if (type === "stripe" && provider.reconcile && !provider.api_key_env) {
    report(
      [...base, "reconcile"],
      "reconcile lists events through the Stripe API",
      "set api_key_env",
    );
  }
  for (const [hook, webhook] of Object.entries(provider.webhooks)) {
    _checkWebhook([...base, "webhooks", hook], webhook, type, report);
  }
}

function _checkWebhook(
  at: YamlPath,
  webhook: ProviderInput["webhooks"][string],
  type: ProviderType,
  report: Report,
): void {
  if (type === "hmac") {
    _checkHmac(at, webhook, report);
  } else {
    for (const key of HMAC_ONLY_KEYS) {
      if (key === "type_path" && type === "standard") continue; // where the type is, default /type
      if (webhook[key] !== undefined) {
        report(
          [...at, key],
          `"${key}" only applies to type: hmac${
            key === "type_path" ? " or standard" : ""
          } providers (this one is type ${type})`,
          "remove it",
        );
      }
    }
  }
  if (webhook.verify_signature) {
    if (webhook.signing_secret_env === undefined) {
      report(
        at,
        "missing signing_secret_env",
        'add "signing_secret_env: NAME_OF_ENV_VAR" naming the variable that holds the secret',
      );
    }
    if (webhook.allow_unverified) {
      report(
        [...at, "allow_unverified"],
        "allow_unverified does nothing while signatures are verified",
        "remove it (it only confirms verify_signature: false)",
      );
    }
  } else if (!webhook.allow_unverified) {
    report(
      [...at, "verify_signature"],
      "verify_signature: false accepts forged deliveries",
      'add "allow_unverified: true" next to it to confirm, or remove verify_signature',
    );
  }
  const secretEnv = webhook.signing_secret_env;
  if (Array.isArray(secretEnv)) {
    secretEnv.forEach((name, i) => _checkEnvName([...at, "signing_secret_env", i], name, report));
  } else {
    _checkEnvName([...at, "signing_secret_env"], secretEnv, report);
  }
  if ((RESERVED_PATHS as readonly string[]).includes(webhook.path)) {
    report(
      [...at, "path"],
      `path ${webhook.path} is reserved (whd serves it)`,
      "choose another path, e.g. /webhooks/<name>",
    );
  }
  if (type === "stripe") {
    webhook.events?.forEach((entry, i) => {
      if (!_STRIPE_EVENT.test(entry)) {
        report(
          [...at, "events", i],
          `${JSON.stringify(entry)} is not a Stripe event type`,
          "use names like payment_intent.succeeded, or a prefix ending in * such as " +
            "customer.subscription.*",
        );
      }
    });
  }
}

function _checkHmac(
  at: YamlPath,
  webhook: ProviderInput["webhooks"][string],
  report: Report,
): void {
  if (webhook.verify_signature && webhook.signature_header === undefined) {
    report(
      at,
      "missing signature_header (type: hmac)",
      'add "signature_header: X-Signature" naming the header that carries the HMAC',
    );
  }
  for (const what of ["id", "type"] as const) {
    const header = `${what}_header` as const;
    const pointer = `${what}_path` as const;
    if (webhook[header] !== undefined && webhook[pointer] !== undefined) {
      report(
        [...at, pointer],
        `${header} and ${pointer} are both set (type: hmac)`,
        `keep one: the header carrying the event ${what}, or its JSON pointer in the body`,
      );
    } else if (webhook[header] === undefined && webhook[pointer] === undefined) {
      report(
        at,
        `missing ${header} or ${pointer} (type: hmac)`,
        `add "${header}: X-Event-${what === "id" ? "Id" : "Type"}" or "${pointer}: /${what}"`,
      );
    }
  }
}

function _checkEnvName(at: YamlPath, name: string | undefined, report: Report): void {
  if (name !== undefined && _looksLikeSecret(name)) {
    report(
      at,
      "this looks like a secret, not the name of an environment variable",
      "put the secret in an environment variable (e.g. STRIPE_WEBHOOK_SECRET) and name it here",
    );
  }
}

function _checkRoutes(
  routes: { path: string; at: YamlPath }[],
  report: Report,
  locate: Locator,
): void {
  const seen = new Map<string, YamlPath>();
  for (const route of routes) {
    const first = seen.get(route.path);
    if (!first) {
      seen.set(route.path, route.at);
      continue;
    }
    const line = locate(first);
    report(
      route.at,
      `path ${route.path} is already used by ${formatPath(first)}` +
        (line === undefined ? "" : ` (line ${line})`),
      "give each webhook its own path",
    );
  }
}

/**
 * Checks every `ip_allowlist` entry (top level, provider, webhook) and every
 * `server.trusted_proxies` entry (addresses and CIDRs only: presets name senders, not proxies).
 */
function _checkAllowlists(input: CheckInput, report: Report): void {
  const lists: { at: YamlPath; entries: string[] | undefined }[] = [
    { at: ["ip_allowlist"], entries: input.ip_allowlist },
  ];
  for (const [name, provider] of Object.entries(input.providers)) {
    lists.push({ at: ["providers", name, "ip_allowlist"], entries: provider.ip_allowlist });
    for (const [hook, webhook] of Object.entries(provider.webhooks)) {
      lists.push({
        at: ["providers", name, "webhooks", hook, "ip_allowlist"],
        entries: webhook.ip_allowlist,
      });
    }
  }
  for (const { at, entries } of lists) {
    entries?.forEach((entry, i) => {
      const why = validateAllowlistEntry(entry);
      if (why) report([...at, i], "invalid entry", why);
    });
  }
  input.server?.trusted_proxies?.forEach((entry, i) => {
    const at = ["server", "trusted_proxies", i];
    if ((IP_PRESET_NAMES as readonly string[]).includes(entry)) {
      report(
        at,
        `"${entry}" is a sender preset, not a proxy`,
        "list the addresses or CIDRs of your own reverse proxies",
      );
    } else {
      const why = validateAllowlistEntry(entry);
      if (why) report(at, "invalid entry", why);
    }
  });
}

/** Keys a webhook accepts: used to say "this belongs under webhooks.<name>". */
export const WEBHOOK_KEYS: readonly string[] = Object.keys(WebhookSchema.shape);
