/**
 * `whd send`: sign a delivery with a webhook's own secret and POST it to a running whd —
 * the quickest way to see the whole path work, and a tool for testing handlers.
 *
 * @module
 */
import type { Command } from "commander";
import { secretEnvNames, splitSecrets } from "../config/secrets.ts";
import { errorMessage, UserError } from "../errors.ts";
import { findFixture, FIXTURES, renderFixture } from "../providers/fixtures/mod.ts";
import { PROVIDERS } from "../providers/mod.ts";
import type { CliContext, Register } from "./context.ts";
import { CommandFailed } from "./exit.ts";
import { httpOrigin } from "./format.ts";
import { pickProvider, pickWebhook } from "./target.ts";

/** Options of `whd send`. */
export interface SendOptions {
  provider: string;
  webhook?: string;
  type?: string;
  data?: string;
  file?: string;
  url?: string;
  id?: string;
}

/** Registers `whd send`. */
export const register: Register = (program, context) => {
  program.command("send")
    .description("sign a delivery with the webhook's secret and POST it to a running whd")
    .requiredOption("--provider <name>", "provider to send as")
    .option("--webhook <name>", "webhook of the provider (default: `default`, or its only one)")
    .option(
      "--type <type>",
      `event type of the sample body; realistic embedded samples: ${_fixtureList()}`,
    )
    .option("--data <json>", "body to send (default: a realistic sample)")
    .option("--file <path>", "read the body from a file")
    .option("--sample", "send a sample body (the default)")
    .option("--id <id>", "event id of the sample (default: a fresh one each send)")
    .option("--url <url>", "where to POST (default: this config's server and the webhook's path)")
    .action(async (options: SendOptions, command: Command) => {
      const ok = await send(await context(command.optsWithGlobals()), options);
      if (!ok) throw new CommandFailed(1);
    });
};

/** Signs and sends one delivery; prints the answer; resolves true on a 2xx. */
export async function send(ctx: CliContext, options: SendOptions): Promise<boolean> {
  const webhook = pickWebhook(pickProvider(ctx.config, options.provider), options.webhook);
  const kind = PROVIDERS[webhook.type];
  let body: string;
  let type = options.type;
  let id = options.id;
  if (options.data !== undefined) body = options.data;
  else if (options.file !== undefined) {
    try {
      body = await Deno.readTextFile(options.file);
    } catch (error) {
      throw new UserError(`--file ${options.file}: ${errorMessage(error)}`, { exitCode: 2 });
    }
  } else {
    const fixture = findFixture(webhook.type, options.type);
    if (fixture) {
      const rendered = renderFixture(fixture, { id: options.id, now: ctx.clock.now() });
      ({ body, type, id } = rendered);
    } else {
      const sample = kind.sample(options.type);
      body = sample.body;
      type = sample.type;
    }
  }
  id ??= crypto.randomUUID();

  let secret = "";
  if (webhook.verify_signature) {
    // The first secret: of the first variable of a list, else of the comma-separated value.
    const envName = secretEnvNames(webhook)[0];
    const raw = ctx.env(envName) ?? "";
    secret = Array.isArray(webhook.signing_secret_env) ? raw : splitSecrets(raw)[0] ?? "";
    if (!secret) {
      throw new UserError(
        `environment variable ${envName} is not set: export the signing secret of ${webhook.provider}/${webhook.name}` +
          " (the demo: deno task demo:send)",
        { exitCode: 2 },
      );
    }
    ctx.secrets.add(secret);
  }
  const headers = await kind.sign(webhook, body, {
    secret,
    id,
    type,
    timestamp: Math.floor(ctx.clock.now() / 1000),
  });

  const host = ["0.0.0.0", "::", ""].includes(ctx.config.server.host)
    ? "127.0.0.1"
    : ctx.config.server.host;
  const url = options.url ?? `${httpOrigin(host, ctx.config.server.port)}${webhook.path}`;
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers, body });
  } catch (error) {
    throw new UserError(
      `cannot reach whd at ${url} (${
        errorMessage(error)
      }): is \`whd serve\` (deno task start) running?`,
    );
  }
  const text = await response.text();
  ctx.out(
    `POST ${url} (${webhook.provider}/${webhook.name}${
      type ? `, ${type}` : ""
    }, id ${id}) → ${response.status} ${text}\n`,
  );
  return response.ok;
}

function _fixtureList(): string {
  const by = new Map<string, string[]>();
  for (const f of FIXTURES) by.set(f.provider, [...(by.get(f.provider) ?? []), f.type]);
  return [...by].map(([p, types]) => `${p}: ${types.join(", ")}`).join("; ");
}
