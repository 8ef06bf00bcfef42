/**
 * `whd endpoints list|get ID|create|update ID|delete ID|sync [--provider stripe] [--json]`:
 * manage the Stripe account's webhook endpoints from the config.
 *
 * A new endpoint's signing secret is returned by Stripe only once: `create` and `sync` write it
 * to `--secret-file` (mode 0600, `NAME=value` for the webhook's `signing_secret_env`) and print
 * it only with `--show-secret`. It is never logged.
 *
 * @module
 */
import type { Command } from "commander";
import type { ProviderConfig } from "../config/schema.ts";
import { errorMessage, UserError } from "../errors.ts";
import {
  applySync,
  createDesired,
  type DesiredEndpoint,
  desiredEndpoints,
  eventList,
  formatPlan,
  planChanges,
  planSync,
  WHD_METADATA_KEY,
} from "../jobs/endpoint_sync.ts";
import { writeSecretFile } from "../jobs/secret_file.ts";
import type { StripeEndpoint } from "../providers/stripe_api.ts";
import { type EndpointApi, endpointApi, toEnabledEvents } from "../providers/stripe_endpoints.ts";
import type { CliContext, ContextLoader, Register } from "./context.ts";
import { jsonText } from "./format.ts";
import { stripeClientFor } from "./stripe_target.ts";
import { parseList, pickProvider, pickWebhook } from "./target.ts";

/** Flags every `endpoints` subcommand takes. */
interface _Common {
  provider?: string;
  json?: boolean;
}

/** Flags of commands that may create endpoints. */
interface _SecretFlags {
  secretFile?: string;
  showSecret?: boolean;
}

/** Registers `whd endpoints` and its subcommands. */
export const register: Register = (program: Command, context: ContextLoader) => {
  const endpoints = program.command("endpoints")
    .description(
      "manage the Stripe account's webhook endpoints (list, get, create, update, delete, sync)",
    );

  const common = (cmd: Command) =>
    cmd.option("--provider <name>", "stripe provider in the config (default: the only one)")
      .option("--json", "print JSON");
  const open = async (flags: _Common) => {
    const ctx = await context(program.opts());
    const provider = pickProvider(ctx.config, flags.provider, "stripe");
    return { ctx, provider, api: endpointApi(stripeClientFor(ctx, provider), provider) };
  };

  common(endpoints.command("list").description("list the account's webhook endpoints"))
    .action(async (flags: _Common) => {
      const { ctx, api } = await open(flags);
      const all = await api.list();
      if (flags.json) return ctx.out(jsonText(all.map(_public)));
      if (all.length === 0) return ctx.out("no webhook endpoints\n");
      for (const e of all) {
        const tag = e.metadata?.[WHD_METADATA_KEY];
        ctx.out(
          `${e.id}  ${e.status.padEnd(8)}  ${e.url}  [${eventList(e.enabled_events, 4)}]${
            tag ? `  (whd ${tag})` : ""
          }\n`,
        );
      }
    });

  common(
    endpoints.command("get").argument("<id>", "endpoint id (we_…)").description(
      "show one endpoint",
    ),
  )
    .action(async (id: string, flags: _Common) => {
      const { ctx, api } = await open(flags);
      const e = await api.get(id);
      ctx.out(flags.json ? jsonText(_public(e)) : _describe(e));
    });

  common(
    endpoints.command("create")
      .description("register a webhook's public URL and events as a new endpoint")
      .option("--webhook <name>", "webhook in the config (default: default)")
      .option("--url <url>", "endpoint URL (default: server.public_url + the webhook's path)")
      .option(
        "--description <text>",
        "description (default: the webhook's, or whd <provider>/<webhook>)",
      )
      .option("--secret-file <path>", "write the signing secret here as NAME=value (mode 0600)")
      .option("--show-secret", "print the signing secret"),
  ).action(
    async (
      flags: _Common & _SecretFlags & { webhook?: string; url?: string; description?: string },
    ) => {
      const { ctx, provider, api } = await open(flags);
      _requireSecretSink(flags);
      const webhook = pickWebhook(provider, flags.webhook);
      const [desired] = desiredEndpoints(ctx.config, provider, {
        only: webhook,
        url: flags.url,
      });
      if (flags.description !== undefined) desired.description = flags.description;
      const { endpoint: e, secret } = await createDesired(api, provider, desired);
      await _keepSecret(ctx, flags, desired, secret, e.id);
      ctx.log.info("webhook endpoint created", { provider: provider.name, id: e.id, url: e.url });
      if (flags.json) {
        return ctx.out(jsonText({
          ..._public(e),
          secret_env: desired.secretEnv,
          ...(flags.secretFile ? { secret_file: flags.secretFile } : {}),
          ...(flags.showSecret ? { secret } : {}),
        }));
      }
      ctx.out(`created ${e.id} for ${desired.tag}: ${e.url} [${eventList(e.enabled_events, 4)}]\n`);
      ctx.out(_secretLines(flags, [{ desired, id: e.id }]));
      if (flags.showSecret) ctx.out(`${desired.secretEnv}=${secret}\n`);
    },
  );

  common(
    endpoints.command("update").argument("<id>", "endpoint id (we_…)")
      .description("change an endpoint's url, events, description, or enable/disable it")
      .option("--url <url>", "new URL")
      .option(
        "--events <list>",
        "new enabled events, comma-separated (families are expanded)",
        parseList,
      )
      .option("--description <text>", "new description")
      .option("--disable", "stop deliveries to the endpoint")
      .option("--enable", "resume deliveries to the endpoint"),
  ).action(
    async (
      id: string,
      flags: _Common & {
        url?: string;
        events?: string[];
        description?: string;
        disable?: boolean;
        enable?: boolean;
      },
    ) => {
      if (flags.disable && flags.enable) {
        throw new UserError("pass --disable or --enable, not both");
      }
      const changes = {
        ...(flags.url !== undefined ? { url: flags.url } : {}),
        ...(flags.events !== undefined
          ? { enabledEvents: toEnabledEvents(flags.events, "--events") }
          : {}),
        ...(flags.description !== undefined ? { description: flags.description } : {}),
        ...(flags.disable ? { disabled: true } : flags.enable ? { disabled: false } : {}),
      };
      if (Object.keys(changes).length === 0) {
        throw new UserError(
          "nothing to update: pass --url, --events, --description, --disable or --enable",
        );
      }
      const { ctx, provider, api } = await open(flags);
      const e = await api.update(id, changes);
      ctx.log.info("webhook endpoint updated", { provider: provider.name, id });
      ctx.out(flags.json ? jsonText(_public(e)) : `updated ${e.id}\n${_describe(e)}`);
    },
  );

  common(
    endpoints.command("delete").argument("<id>", "endpoint id (we_…)")
      .description("delete an endpoint (needs --yes)")
      .option("--yes", "really delete"),
  ).action(async (id: string, flags: _Common & { yes?: boolean }) => {
    if (!flags.yes) {
      throw new UserError(
        `refusing to delete ${id} without --yes: Stripe stops delivering to it at once`,
      );
    }
    const { ctx, provider, api } = await open(flags);
    await api.delete(id);
    ctx.log.info("webhook endpoint deleted", { provider: provider.name, id });
    ctx.out(flags.json ? jsonText({ id, deleted: true }) : `deleted ${id}\n`);
  });

  common(
    endpoints.command("sync")
      .description(
        "make the account's endpoints match the config: print the plan, apply it with --yes",
      )
      .option("--yes", "apply the plan")
      .option("--prune", "also delete endpoints that are not in the config")
      .option(
        "--secret-file <path>",
        "write new endpoints' signing secrets here as NAME=value (mode 0600)",
      )
      .option("--show-secret", "print new endpoints' signing secrets"),
  ).action(async (flags: _Common & _SecretFlags & { yes?: boolean; prune?: boolean }) => {
    const { ctx, provider, api } = await open(flags);
    await _runSync(ctx, provider, api, flags);
  });
};

/** The action of `whd endpoints sync`. */
async function _runSync(
  ctx: CliContext,
  provider: ProviderConfig,
  api: EndpointApi,
  flags: _Common & _SecretFlags & { yes?: boolean; prune?: boolean },
): Promise<void> {
  const desired = desiredEndpoints(ctx.config, provider);
  const plan = planSync(provider, desired, await api.list(), {
    prune: flags.prune,
  });
  const changes = planChanges(plan);
  const creates = plan.actions.some((a) => a.kind === "create");
  if (flags.yes && creates) _requireSecretSink(flags);
  const shown: Record<string, string> = {};
  const result = flags.yes && changes
    ? await applySync(plan, {
      api,
      provider,
      onSecret: async (d, secret, e) => {
        await _keepSecret(ctx, flags, d, secret, e.id);
        if (flags.showSecret) shown[d.secretEnv] = secret;
      },
    })
    : undefined;
  if (result) {
    ctx.log.info("endpoints synced", {
      provider: provider.name,
      created: result.created.length,
      updated: result.updated.length,
      deleted: result.deleted.length,
    });
  }
  if (flags.json) {
    ctx.out(jsonText({
      provider: plan.provider,
      plan: plan.actions,
      warnings: plan.warnings,
      applied: !!result,
      ...(result ? { result } : {}),
      ...(flags.showSecret && result ? { secrets: shown } : {}),
    }));
    return;
  }
  const lines = formatPlan(plan);
  ctx.out(lines.length ? lines.join("\n") + "\n" : "no endpoints configured\n");
  if (!changes) ctx.out("in sync: nothing to do\n");
  else if (!result) ctx.out("plan only: nothing was changed; run again with --yes to apply\n");
  else {
    ctx.out(
      `applied: ${result.created.length} created, ${result.updated.length} updated, ${result.deleted.length} deleted\n`,
    );
    ctx.out(
      _secretLines(
        flags,
        result.created.map((c) => ({ desired: { secretEnv: c.secretEnv }, id: c.id })),
      ),
    );
    for (const [name, value] of Object.entries(shown)) ctx.out(`${name}=${value}\n`);
  }
}

function _requireSecretSink(flags: _SecretFlags): void {
  if (!flags.secretFile && !flags.showSecret) {
    throw new UserError(
      "Stripe returns a new endpoint's signing secret only once: pass --secret-file PATH (written as NAME=value, mode 0600) or --show-secret",
    );
  }
}

/**
 * Writes a new endpoint's secret to the secret file (if any) and registers it to be scrubbed
 * from logs; `--show-secret` printing is left to the caller.
 */
async function _keepSecret(
  ctx: CliContext,
  flags: _SecretFlags,
  desired: DesiredEndpoint,
  secret: string,
  id: string,
): Promise<void> {
  ctx.secrets.add(secret);
  if (!flags.secretFile) return;
  try {
    await writeSecretFile(flags.secretFile, [{ name: desired.secretEnv, value: secret }]);
  } catch (error) {
    throw new UserError(
      `created ${id} but could not keep its signing secret (${errorMessage(error)}); Stripe ` +
        `returns it only once: roll the secret in the Stripe Dashboard, or delete ${id} ` +
        `(whd endpoints delete ${id} --yes) and create it again`,
      { cause: error },
    );
  }
}

function _secretLines(
  flags: _SecretFlags,
  items: { desired: Pick<DesiredEndpoint, "secretEnv">; id: string }[],
): string {
  if (!flags.secretFile || items.length === 0) return "";
  return items.map((i) =>
    `signing secret of ${i.id} written to ${flags.secretFile} as ${i.desired.secretEnv} (mode 0600)\n`
  ).join("");
}

/** An endpoint as printed: never with its secret. */
function _public(e: StripeEndpoint): Omit<StripeEndpoint, "secret"> {
  const { secret: _secret, ...rest } = e;
  return rest;
}

function _describe(e: StripeEndpoint): string {
  return [
    `id:          ${e.id}`,
    `url:         ${e.url}`,
    `status:      ${e.status}`,
    `api_version: ${e.api_version ?? "(account default)"}`,
    `description: ${e.description ?? ""}`,
    `events:      ${e.enabled_events.join(", ")}`,
    ...(e.metadata?.[WHD_METADATA_KEY] ? [`whd webhook: ${e.metadata[WHD_METADATA_KEY]}`] : []),
  ].join("\n") + "\n";
}
