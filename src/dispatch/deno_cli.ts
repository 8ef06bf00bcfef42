/**
 * Which `deno` executable whd asks for package work (`whd handlers vendor`, and fetching a
 * handler's `npm:` packages into Deno's cache): `DENO` when set, else the deno running whd
 * (`deno run`), else `deno` on PATH (a compiled whd binary).
 *
 * @example
 * ```ts
 * import { denoCommand } from "./deno_cli.ts";
 * denoCommand({ DENO: "/opt/deno/bin/deno" }); // "/opt/deno/bin/deno"
 * ```
 * @module
 */
import { basename } from "node:path";

/** The deno CLI to run, given the environment and this process's executable. */
export function denoCommand(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  execPath: string = Deno.execPath(),
): string {
  if (env.DENO) return env.DENO;
  return basename(execPath).startsWith("deno") ? execPath : "deno";
}
