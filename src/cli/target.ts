/**
 * Which provider and webhook a subcommand acts on: the ones named by `--provider` and
 * `--webhook`, or the obvious one. Shared by `send`, `backfill` and `endpoints`.
 *
 * @module
 */
import type { Config, ProviderConfig, ProviderType, WebhookConfig } from "../config/schema.ts";
import { UserError } from "../errors.ts";

function _usage(message: string): UserError {
  return new UserError(message, { exitCode: 2 });
}

/**
 * The provider named `name`; without a name, the only provider (of `type`, when given).
 * Throws a usage error that lists the choices when there is none or several.
 */
export function pickProvider(config: Config, name?: string, type?: ProviderType): ProviderConfig {
  const kind = type ? `${type} ` : "";
  if (name) {
    const found = config.providers.find((p) => p.name === name);
    if (!found) {
      throw _usage(
        `no provider "${name}" in ${config.source}; providers: ${
          config.providers.map((p) => p.name).join(", ")
        }`,
      );
    }
    if (type && found.type !== type) {
      throw _usage(
        `provider "${name}" is of type ${found.type}; this command needs a ${type} provider`,
      );
    }
    return found;
  }
  const candidates = config.providers.filter((p) => !type || p.type === type);
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) {
    throw _usage(`no ${kind}provider in ${config.source}: add one under providers:`);
  }
  throw _usage(
    `several ${kind}providers (${
      candidates.map((p) => p.name).join(", ")
    }): pick one with --provider`,
  );
}

/** The webhook named `name`, else `default`, else the provider's only webhook. */
export function pickWebhook(provider: ProviderConfig, name?: string): WebhookConfig {
  const names = provider.webhooks.map((w) => w.name).join(", ");
  if (name) {
    const found = provider.webhooks.find((w) => w.name === name);
    if (!found) {
      throw _usage(`provider "${provider.name}" has no webhook "${name}"; webhooks: ${names}`);
    }
    return found;
  }
  const only = provider.webhooks.length === 1 ? provider.webhooks[0] : undefined;
  const chosen = provider.webhooks.find((w) => w.name === "default") ?? only;
  if (!chosen) {
    throw _usage(
      `provider "${provider.name}" has several webhooks (${names}): pick one with --webhook`,
    );
  }
  return chosen;
}

/** Parses a comma-separated flag value into trimmed, non-empty entries. */
export function parseList(value: string): string[] {
  return value.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}
