/**
 * `whd init [DIR]`: write a working starting point into DIR — a commented `whd.yaml` with its
 * JSON Schema beside it, an example handler per provider, `whd.env` (mode 0600) with secrets,
 * and `whd.service` — never overwriting a file unless `--force` is given.
 *
 * @example
 * ```ts
 * import { planInit } from "./init.ts";
 * const files = planInit({
 *   dir: "/srv/whd",
 *   providers: ["stripe"],
 *   bin: "/usr/local/bin/whd",
 *   random: (n) => crypto.getRandomValues(new Uint8Array(n)),
 * });
 * files.map((f) => f.path); // whd.yaml, whd.schema.json, whd.env, whd.service, handlers/stripe/_default.ts
 * ```
 * @module
 */
import { Buffer } from "node:buffer";
import { basename, join, resolve } from "node:path";
import type { Command } from "commander";
import unitTemplate from "../../deploy/whd.service" with { type: "text" };
import { configJsonSchema } from "../config/json_schema.ts";
import { errorMessage, UserError } from "../errors.ts";
import type { Register } from "./context.ts";
import { jsonText } from "./format.ts";
import handlerTemplate from "./init_templates/handler.ts" with { type: "text" };
import githubBlock from "./init_templates/provider_github.yaml" with { type: "text" };
import slackBlock from "./init_templates/provider_slack.yaml" with { type: "text" };
import standardBlock from "./init_templates/provider_standard.yaml" with { type: "text" };
import stripeBlock from "./init_templates/provider_stripe.yaml" with { type: "text" };
import configTemplate from "./init_templates/whd.yaml" with { type: "text" };

/** Providers `whd init --provider` can set up. */
export const INIT_PROVIDERS = ["stripe", "github", "slack", "standard"] as const;
/** One of {@linkcode INIT_PROVIDERS}. */
export type InitProvider = typeof INIT_PROVIDERS[number];

/** The database URL `whd init` writes unless `--database` names another. */
export const INIT_DATABASE_URL = "file:data/whd.db";

/** Where deploy/whd.service expects the install directory and the binary. */
const UNIT_DIR = "/opt/whd";
const UNIT_BIN = "/usr/local/bin/whd";

interface ProviderKit {
  block: string;
  /** whd.env lines: comments, then NAME=value. */
  env(random: (n: number) => Uint8Array): string;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

const KITS: Record<InitProvider, ProviderKit> = {
  stripe: {
    block: stripeBlock,
    env: (random) =>
      "# stripe: PLACEHOLDER. Stripe issues this secret: replace the value with your endpoint's\n" +
      "# signing secret (Dashboard → Developers → Webhooks → the endpoint → Signing secret), or\n" +
      "# let `whd endpoints create --secret-file whd.env` write it. Until then this local stand-in\n" +
      "# lets `whd send --provider stripe` try the set-up; Stripe's own deliveries fail it.\n" +
      `STRIPE_WEBHOOK_SECRET=whsec_local_${hex(random(24))}\n` +
      "# For whd backfill / whd endpoints (also uncomment api_key_env in whd.yaml):\n" +
      "# STRIPE_SECRET_KEY=sk_test_...\n",
  },
  github: {
    block: githubBlock,
    env: (random) =>
      "# github: generated for you. Paste it as the webhook's Secret in GitHub\n" +
      "# (Settings → Webhooks → Add webhook → Secret).\n" +
      `GITHUB_WEBHOOK_SECRET=${hex(random(32))}\n`,
  },
  slack: {
    block: slackBlock,
    env: (random) =>
      "# slack: PLACEHOLDER. Slack issues this secret: replace the value with your app's\n" +
      "# Signing Secret (api.slack.com/apps → the app → Basic Information). Until then this local\n" +
      "# stand-in lets `whd send --provider slack` try the set-up.\n" +
      `SLACK_SIGNING_SECRET=local${hex(random(16))}\n`,
  },
  standard: {
    block: standardBlock,
    env: (random) =>
      "# standard: generated for you (whsec_ + base64 of 32 random bytes). Give it to your sender,\n" +
      "# or, when the sender issues one (Svix and others), replace it with theirs.\n" +
      `STANDARD_WEBHOOK_SECRET=whsec_${base64(random(32))}\n`,
  },
};

/** One file `whd init` writes, relative to DIR. */
export interface InitFile {
  path: string;
  content: string;
  /** Unix permission bits. */
  mode: number;
}

/** Input of {@linkcode planInit}. */
export interface InitPlan {
  /** The target directory (absolute, or relative to the working directory). */
  dir: string;
  providers: readonly InitProvider[];
  /** The whd binary ExecStart runs. */
  bin: string;
  /** `database.url` for whd.yaml; default {@linkcode INIT_DATABASE_URL}. */
  database?: string;
  /** Random bytes for the generated secrets (injected so tests can fix them). */
  random: (n: number) => Uint8Array;
}

/** The files `whd init` writes, without touching the disk. */
export function planInit(plan: InitPlan): InitFile[] {
  const dir = resolve(plan.dir);
  const files: InitFile[] = [
    { path: "whd.yaml", content: configText(plan.providers, plan.database), mode: 0o644 },
    { path: "whd.schema.json", content: jsonText(configJsonSchema()), mode: 0o644 },
    { path: "whd.env", content: envText(plan.providers, plan.random), mode: 0o600 },
    { path: "whd.service", content: unitText(dir, plan.bin), mode: 0o644 },
  ];
  for (const provider of plan.providers) {
    files.push({
      path: join("handlers", provider, "_default.ts"),
      content: handlerTemplate.replaceAll("__PROVIDER__", provider),
      mode: 0o644,
    });
  }
  return files;
}

/** whd.yaml for these providers, pointing editors at whd.schema.json. */
export function configText(providers: readonly InitProvider[], database?: string): string {
  const blocks = providers.map((p) =>
    KITS[p].block.trimEnd().split("\n").map((line) => `  ${line}`).join("\n")
  ).join("\n\n");
  let text = configTemplate.replace("#@PROVIDERS@", blocks);
  if (database !== undefined) {
    text = text.replace(`url: ${INIT_DATABASE_URL}`, `url: ${JSON.stringify(database)}`);
  }
  return text;
}

/** whd.env: `WHD_CONFIG` and each provider's secret, generated or a marked placeholder. */
export function envText(
  providers: readonly InitProvider[],
  random: (n: number) => Uint8Array,
): string {
  return [
    "# whd.env: secrets for whd, written by `whd init`. NAME=value lines; keep it mode 0600 and\n" +
    "# never commit it. Loaded by whd.service (EnvironmentFile=), or in a shell in this directory:\n" +
    "#   set -a; . ./whd.env; set +a\n" +
    "# A variable may hold several secrets, comma-separated, while you rotate them.\n",
    "# The config whd commands use (relative: run them from this directory).\n" +
    "WHD_CONFIG=whd.yaml\n",
    ...providers.map((p) => KITS[p].env(random)),
    "# admin: the bearer token of the admin listener (/readyz, /metrics). Needed only when\n" +
    "# admin.listen leaves loopback: then uncomment it here and admin.token_env in whd.yaml.\n" +
    `# WHD_ADMIN_TOKEN=${hex(random(32))}\n`,
  ].join("\n");
}

/**
 * deploy/whd.service with its paths filled in: DIR for /opt/whd and `bin` for the binary.
 * systemd reads `%` as a specifier and splits ExecStart= on spaces, so both are escaped.
 */
export function unitText(dir: string, bin: string): string {
  const escape = (path: string) => path.replaceAll("%", "%%");
  const quote = (path: string) => /\s|"/.test(path) ? JSON.stringify(path) : path;
  return unitTemplate
    .split("\n")
    .map((line) => {
      if (line.startsWith("ExecStart=")) {
        return line
          .replace(UNIT_BIN, quote(escape(bin)))
          .replace(`${UNIT_DIR}/whd.yaml`, quote(escape(`${dir}/whd.yaml`)));
      }
      const filled = line.replaceAll(UNIT_BIN, bin).replaceAll(UNIT_DIR, dir);
      return line.startsWith("#") ? filled : escape(filled);
    })
    .join("\n");
}

/** Options of {@linkcode init}. */
export interface InitOptions {
  /** Comma-separated providers; default `stripe`. */
  provider?: string;
  /** Overwrite existing files. */
  force?: boolean;
  /** `database.url` to write. */
  database?: string;
  /** The binary for whd.service's ExecStart. */
  bin?: string;
}

/** What {@linkcode init} needs from the outside world. */
export interface InitDeps {
  random: (n: number) => Uint8Array;
  /** Path of the running executable: the whd binary when compiled, else `deno`. */
  execPath: string;
  out(text: string): void;
}

/** Parses `--provider a,b` into known, distinct providers (a usage error names a bad one). */
export function parseProviders(value: string | undefined): InitProvider[] {
  const names = (value ?? "stripe").split(",").map((n) => n.trim()).filter((n) => n !== "");
  if (names.length === 0) {
    throw new UserError(`--provider is empty: name one or more of ${INIT_PROVIDERS.join(", ")}`, {
      exitCode: 2,
    });
  }
  for (const name of names) {
    if (!(INIT_PROVIDERS as readonly string[]).includes(name)) {
      throw new UserError(
        `--provider ${JSON.stringify(name)} is not one init can set up: use ${
          INIT_PROVIDERS.join(", ")
        } (comma-separated), then add others to whd.yaml by hand`,
        { exitCode: 2 },
      );
    }
  }
  return [...new Set(names)] as InitProvider[];
}

/**
 * Writes the planned files into `dir` (created when missing). Refuses with exit 1, writing
 * nothing, when any of them exists and `force` is off. Returns the files written.
 */
export async function init(
  dir: string,
  options: InitOptions,
  deps: InitDeps,
): Promise<InitFile[]> {
  const providers = parseProviders(options.provider);
  const bin = options.bin ??
    (/^deno(\.exe)?$/.test(basename(deps.execPath)) ? UNIT_BIN : deps.execPath);
  const files = planInit({ dir, providers, bin, database: options.database, random: deps.random });
  const target = resolve(dir);
  await _ensureDirectory(target, dir);
  if (!options.force) {
    const existing: string[] = [];
    for (const file of files) {
      if (await _exists(join(target, file.path))) existing.push(file.path);
    }
    if (existing.length > 0) {
      throw new UserError(
        `${existing.join(", ")} already exist${existing.length === 1 ? "s" : ""} in ${dir}: ` +
          "nothing was written; move them away, choose another directory, or pass --force to " +
          "overwrite them",
      );
    }
  }
  for (const file of files) {
    const path = join(target, file.path);
    try {
      await Deno.mkdir(join(path, ".."), { recursive: true });
      await Deno.writeTextFile(path, file.content, { mode: file.mode });
      await Deno.chmod(path, file.mode); // also when --force replaced an existing file
    } catch (error) {
      throw new UserError(`cannot write ${path}: ${errorMessage(error)}: check the permissions`, {
        cause: error,
      });
    }
  }
  deps.out(_nextSteps(dir, files, providers, options.database ?? INIT_DATABASE_URL, target));
  return files;
}

/** Registers `whd init`. */
export const register: Register = (program) => {
  program.command("init")
    .description("write a starting config, example handlers, whd.env and whd.service into DIR")
    .argument("[dir]", "directory to write into (created when missing)", ".")
    .option("--provider <list>", `providers to set up: ${INIT_PROVIDERS.join(",")}`, "stripe")
    .option("--database <url>", `database.url to write (default ${INIT_DATABASE_URL})`)
    .option("--bin <path>", "whd binary for whd.service's ExecStart (default: this binary)")
    .option("--force", "overwrite files that already exist")
    .action(async (dir: string, options: InitOptions, _command: Command) => {
      const encoder = new TextEncoder();
      await init(dir, options, {
        random: (n) => crypto.getRandomValues(new Uint8Array(n)),
        execPath: Deno.execPath(),
        out: (text) => {
          const bytes = encoder.encode(text);
          for (let at = 0; at < bytes.length;) at += Deno.stdout.writeSync(bytes.subarray(at));
        },
      });
    });
};

function _nextSteps(
  dir: string,
  files: InitFile[],
  providers: InitProvider[],
  database: string,
  target: string,
): string {
  const lines = [
    `wrote ${files.map((f) => f.path).join(", ")} in ${dir}`,
    "",
    "next:",
    `  cd ${dir}`,
    "  set -a; . ./whd.env; set +a     # WHD_CONFIG=whd.yaml and the secrets",
    "  whd check",
    "  whd serve                         # then, in another shell (same env):",
    `  whd send --provider ${providers[0]}`,
    "",
    "whd.env holds secrets (mode 0600): replace the PLACEHOLDER ones with your providers' secrets.",
  ];
  if (/^file:(?!\/)/.test(database)) {
    lines.push(
      `under systemd, whd.service may write only to /var/lib/whd: set database.url to ` +
        "file:/var/lib/whd/whd.db in whd.yaml (or run init with --database) before installing it.",
    );
  }
  if (/^\/(home|root|run\/user)(\/|$)/.test(target)) {
    lines.push(
      `whd.service has ProtectHome=yes, which hides ${target}: install into /opt or /srv ` +
        "for systemd.",
    );
  }
  return lines.join("\n") + "\n";
}

async function _ensureDirectory(target: string, shown: string): Promise<void> {
  try {
    const info = await Deno.stat(target);
    if (!info.isDirectory) {
      throw new UserError(`${shown} exists and is not a directory: name a directory for init`, {
        exitCode: 2,
      });
    }
  } catch (error) {
    if (error instanceof UserError) throw error;
    if (!(error instanceof Deno.errors.NotFound)) {
      throw new UserError(`cannot use ${shown}: ${errorMessage(error)}`, { cause: error });
    }
    try {
      await Deno.mkdir(target, { recursive: true });
    } catch (mkdirError) {
      throw new UserError(
        `cannot create ${shown}: ${errorMessage(mkdirError)}: check the permissions`,
        { cause: mkdirError },
      );
    }
  }
}

async function _exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
