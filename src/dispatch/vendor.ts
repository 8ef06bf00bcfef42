/**
 * `whd handlers vendor`: installs the npm packages the handlers import into
 * `<handlers.dir>/node_modules`, at deploy time, so that loading handlers needs no registry.
 * It runs `deno install --entrypoint <every module handler and middleware>` in the handlers
 * directory (with `handlers/deno.json` or `handlers/package.json` when there is one, else with
 * no config and no lock file, so a project's own config is left alone). Needs the `deno` CLI (`DENO` or `deno` on
 * PATH) where it runs; the compiled whd binary then only reads the files.
 *
 * @example
 * ```ts ignore
 * const { code } = await vendorHandlers({ dir: "handlers", print: console.log });
 * ```
 * @module
 */
import { join, relative } from "node:path";
import { UserError } from "../errors.ts";
import { redactUrl } from "../ops/scrub.ts";
import { denoCommand } from "./deno_cli.ts";
import { discoverHandlers } from "./discovery.ts";

/** Options of {@linkcode vendorHandlers}. */
export interface VendorOptions {
  dir: string;
  /** Receives the installer's output lines. */
  print(line: string): void;
}

/** Installs the handlers' packages; resolves with the installer's exit code. */
export async function vendorHandlers(options: VendorOptions): Promise<{ code: number }> {
  const found = await discoverHandlers(options.dir);
  if (!found.exists) {
    throw new UserError(`handlers directory ${options.dir} does not exist: nothing to vendor`);
  }
  const files = new Set<string>();
  for (const file of found.files) {
    if (file.kind !== "module") continue;
    files.add(file.path);
    for (const m of file.middleware ?? []) files.add(m);
  }
  if (files.size === 0) {
    options.print("no module handlers: nothing to install");
    return { code: 0 };
  }
  let config = ["--no-config", "--no-lock"];
  for (const name of ["deno.json", "deno.jsonc", "package.json"]) {
    try {
      await Deno.stat(join(options.dir, name));
      // deno reads a package.json in its working directory by itself (--no-config would not).
      config = name === "package.json" ? [] : ["--config", name];
      break;
    } catch { /* not there */ }
  }
  const deno = denoCommand();
  const args = [
    "install",
    ...config,
    "--node-modules-dir=auto",
    "--entrypoint",
    ...[...files].map((f) => relative(options.dir, f)).sort(),
  ];
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(deno, {
      args,
      cwd: options.dir,
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UserError(
        `cannot run ${deno}: vendoring needs the deno CLI; install it, or set DENO to its path`,
      );
    }
    throw error;
  }
  const output = await child.output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  // deno quotes a registry URL it failed on with its user info (a token): dropped here.
  for (const line of text.split("\n")) if (line.trim()) options.print(redactUrl(line));
  return { code: output.code };
}
