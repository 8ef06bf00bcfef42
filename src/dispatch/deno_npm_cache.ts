/**
 * Deno's global npm cache as a place handler packages load from, when no `node_modules` next
 * to the handlers has them: `deno info --json npm:name@range` fetches the package and its
 * dependencies into the cache (as `deno run` would; nothing to do when they are there already)
 * and reports where each one is and which versions its dependencies resolved to. Imports from
 * inside a cached package then follow that graph.
 *
 * Needs a deno CLI ({@linkcode denoCommand}); the registry only for packages not cached yet.
 *
 * @example
 * ```ts ignore
 * const cache = createDenoNpmCache();
 * const found = await cache.packageDir("npm:ms@2.1.3");
 * // { dir: "/root/.cache/deno/npm/registry.npmjs.org/ms/2.1.3" }
 * cache.dependencyDir("ms", "/root/.cache/deno/npm/registry.npmjs.org/debug/4.3.7/src/node.js");
 * ```
 * @module
 */
import { sep } from "node:path";
import { redactUrl } from "../ops/scrub.ts";
import { denoCommand } from "./deno_cli.ts";

/** What `deno info` answered, as its output text and exit code. */
export type DenoInfo = (
  specifier: string,
) => Promise<{ code: number; stdout: string; stderr: string }>;

/** Packages in Deno's npm cache. */
export interface DenoNpmCache {
  /**
   * The cache directory of the package an `npm:name[@range]` specifier (no subpath) names,
   * fetched into the cache first when needed; or why it cannot be had.
   */
  packageDir(specifier: string): Promise<{ dir: string } | { error: string }>;
  /**
   * The directory of the dependency `name` of the cached package holding the file
   * `importer`; undefined when `importer` is not inside a package this cache reported.
   * `null` when it is, but `name` is not one of its dependencies.
   */
  dependencyDir(name: string, importer: string): string | null | undefined;
  /** Whether `file` is inside a package this cache reported. */
  contains(file: string): boolean;
}

/** Options of {@linkcode createDenoNpmCache}. */
export interface DenoNpmCacheOptions {
  /** Runs `deno info --json` on a specifier; default the deno CLI (tests inject one). */
  info?: DenoInfo;
  /** Limit for one `deno info` (a download); default 120 s. */
  timeoutMs?: number;
}

interface _InfoPackage {
  name: string;
  dependencies: string[];
  localPath?: string;
}

interface _InfoOutput {
  roots?: string[];
  redirects?: Record<string, string>;
  modules?: { specifier: string; npmPackage?: string; error?: string }[];
  npmPackages?: Record<string, _InfoPackage>;
}

interface _Known {
  name: string;
  dir: string;
  /** Dependency name → its directory. */
  deps: Map<string, string>;
}

/** The deno CLI's `deno info`, with no config, lock file or node_modules of its own. */
function _denoInfo(timeoutMs: number): DenoInfo {
  return async (specifier) => {
    const deno = denoCommand();
    let output: Deno.CommandOutput;
    try {
      output = await new Deno.Command(deno, {
        args: ["info", "--json", "--no-config", "--no-lock", "--node-modules-dir=none", specifier],
        cwd: "/",
        env: { NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(timeoutMs),
      }).output();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        return { code: -1, stdout: "", stderr: `there is no deno CLI (${deno}) to fetch it with` };
      }
      return { code: -1, stdout: "", stderr: `${deno} info failed: ${(error as Error).message}` };
    }
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: output.code, stdout: text(output.stdout), stderr: text(output.stderr) };
  };
}

/**
 * The first `error:` line of deno's stderr, else its last non-empty line; without the
 * credentials of a registry URL it quotes.
 */
function _denoError(stderr: string): string {
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const line = lines.find((l) => l.startsWith("error:")) ?? lines.at(-1) ?? "deno info failed";
  return redactUrl(line.replace(/^error:\s*/, ""));
}

/** Creates a cache view; what `deno info` reported is kept for the life of the object. */
export function createDenoNpmCache(options: DenoNpmCacheOptions = {}): DenoNpmCache {
  const info = options.info ?? _denoInfo(options.timeoutMs ?? 120_000);
  const known = new Map<string, _Known>(); // by directory
  const asked = new Map<string, Promise<{ dir: string } | { error: string }>>();

  const learn = (packages: Record<string, _InfoPackage>) => {
    for (const pkg of Object.values(packages)) {
      if (!pkg.localPath || known.has(pkg.localPath)) continue;
      const deps = new Map<string, string>();
      for (const id of pkg.dependencies) {
        const dep = packages[id];
        if (dep?.localPath) deps.set(dep.name, dep.localPath);
      }
      known.set(pkg.localPath, { name: pkg.name, dir: pkg.localPath, deps });
    }
  };

  const ask = async (specifier: string): Promise<{ dir: string } | { error: string }> => {
    const run = await info(specifier);
    let parsed: _InfoOutput;
    try {
      parsed = JSON.parse(run.stdout);
    } catch {
      return { error: _denoError(run.stderr) };
    }
    const root = parsed.roots?.[0] ?? specifier;
    const target = parsed.redirects?.[root] ?? root;
    const module = parsed.modules?.find((m) => m.specifier === target || m.specifier === root);
    // deno quotes the registry URL it failed on, user info (a token) included.
    if (module?.error) return { error: redactUrl(module.error) };
    const pkg = module?.npmPackage ? parsed.npmPackages?.[module.npmPackage] : undefined;
    if (!pkg?.localPath) return { error: _denoError(run.stderr) };
    learn(parsed.npmPackages ?? {});
    return { dir: pkg.localPath };
  };

  /** The innermost known package holding `file`. */
  const holderOf = (file: string): _Known | undefined => {
    let holder: _Known | undefined;
    for (const pkg of known.values()) {
      if (file.startsWith(pkg.dir + sep) && (!holder || pkg.dir.length > holder.dir.length)) {
        holder = pkg;
      }
    }
    return holder;
  };

  return {
    contains: (file) => holderOf(file) !== undefined,
    packageDir(specifier) {
      let pending = asked.get(specifier);
      if (!pending) {
        pending = ask(specifier).then((found) => {
          if ("error" in found) asked.delete(specifier); // a later load asks again
          return found;
        });
        asked.set(specifier, pending);
      }
      return pending;
    },
    dependencyDir(name, importer) {
      const holder = holderOf(importer);
      if (!holder) return undefined;
      return holder.deps.get(name) ?? (name === holder.name ? holder.dir : null);
    },
  };
}
