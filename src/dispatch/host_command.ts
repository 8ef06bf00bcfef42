/**
 * How whd starts a handler host: whd itself with the hidden `__handler-host` argument, the
 * same code path whether whd runs from source or as a `deno compile`d binary.
 *
 * @module
 */
import { fileURLToPath } from "node:url";

/** A program and its arguments. */
export interface HostCommand {
  command: string;
  args: string[];
}

/** Inputs of {@linkcode handlerHostCommand}, injectable for tests. */
export interface HostCommandOptions {
  /** Running as a compiled binary. Default `Deno.build.standalone`. */
  standalone?: boolean;
  /** The running executable (the binary, or `deno`). Default `Deno.execPath()`. */
  execPath?: string;
}

/**
 * The command that starts a handler host. A compiled binary re-runs itself:
 * `<binary> __handler-host`. From source, `deno` runs this repository's `main.ts` with its
 * `deno.json` (import map): `deno run --allow-all --config <repo>/deno.json <repo>/main.ts
 * __handler-host`; both paths are resolved from this module's location, not the cwd.
 *
 * @example
 * ```ts
 * import { handlerHostCommand } from "./host_command.ts";
 * handlerHostCommand({ standalone: true, execPath: "/usr/local/bin/whd" });
 * // { command: "/usr/local/bin/whd", args: ["__handler-host"] }
 * ```
 */
export function handlerHostCommand(options: HostCommandOptions = {}): HostCommand {
  return whdCommand(["__handler-host"], options);
}

/**
 * The command that re-runs whd with `args` (`["__handler-host"]`, `["__bundler"]`, or
 * `["serve", "--worker", "1/2"]` for `--workers`) the way {@linkcode handlerHostCommand}
 * describes: the binary itself when compiled, else `deno run` on this repository's `main.ts`.
 *
 * @example
 * ```ts
 * import { whdCommand } from "./host_command.ts";
 * whdCommand(["__bundler"], { standalone: true, execPath: "/usr/local/bin/whd" });
 * // { command: "/usr/local/bin/whd", args: ["__bundler"] }
 * ```
 */
export function whdCommand(args: string[], options: HostCommandOptions = {}): HostCommand {
  const standalone = options.standalone ?? Deno.build.standalone;
  const execPath = options.execPath ?? Deno.execPath();
  if (standalone) return { command: execPath, args };
  return {
    command: execPath,
    args: [
      "run",
      "--allow-all",
      "--config",
      fileURLToPath(new URL("../../deno.json", import.meta.url)),
      fileURLToPath(new URL("../../main.ts", import.meta.url)),
      ...args,
    ],
  };
}
