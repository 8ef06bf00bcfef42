/**
 * Resolves the packages a handler imports — `npm:name@version[/sub]` specifiers and bare names
 * (`pg`, `@scope/pkg/sub`) — to files in a `node_modules` directory next to the handlers (or
 * above them), the way Node does: walk up from the importing file, then the package's
 * `exports` (conditions `deno`, `node`, `import`, `module`, `default`, `require`, first match
 * in the package's own order), else `module`/`main`, else `index.js`. `whd handlers vendor`
 * (or `deno install --entrypoint …` in the handlers directory) fills that `node_modules`.
 * An `npm:` specifier no `node_modules` has comes from Deno's npm cache when a
 * {@linkcode DenoNpmCache} is given (fetched into it first if needed), and so do the imports
 * made inside a package from there; a bare name does too when the nearest `deno.json` or
 * `package.json` maps it (`package_manifest.ts`).
 *
 * @example
 * ```ts ignore
 * const found = await resolvePackage("npm:ms@2.1.3", "/srv/handlers/stripe/invoice.paid.ts");
 * if ("path" in found) console.log(found.path); // /srv/handlers/node_modules/ms/index.js
 * ```
 * @module
 */
import { builtinModules } from "node:module";
import { dirname, join, resolve } from "node:path";
import type { DenoNpmCache } from "./deno_npm_cache.ts";
import { mappedSpecifier } from "./package_manifest.ts";

/** A parsed package specifier. */
export interface PackageSpecifier {
  name: string;
  /** The version or range after `@` (npm: only). */
  range?: string;
  /** The subpath, `.` for the package itself, else `./sub`. */
  subpath: string;
}

/** Where a specifier resolved: a file, a Node built-in, or why not. */
export type PackageResolution =
  | { path: string }
  | { builtin: string }
  | { error: string };

const _BUILTINS = new Set(builtinModules);
const _CONDITIONS = new Set(["deno", "node", "import", "module", "default", "require"]);

/**
 * Parses `npm:name@range/sub` or a bare `name/sub` (`@scope/name` included); undefined when
 * `specifier` is neither (relative, absolute, URL).
 *
 * @example
 * ```ts
 * import { parsePackageSpecifier } from "./npm_resolve.ts";
 * parsePackageSpecifier("npm:@scope/pkg@^1/x"); // { name: "@scope/pkg", range: "^1", subpath: "./x" }
 * ```
 */
export function parsePackageSpecifier(specifier: string): PackageSpecifier | undefined {
  const npm = specifier.startsWith("npm:");
  const rest = npm ? specifier.slice(4).replace(/^\//, "") : specifier;
  if (!npm && (/^[./]/.test(rest) || /^[a-z][a-z0-9+.-]*:/i.test(rest))) return undefined;
  const match = /^((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(\/.*)?$/.exec(rest);
  if (!match) return undefined;
  const [, name, range, sub] = match;
  if (range !== undefined && !npm) return undefined;
  return { name, range, subpath: sub ? `.${sub}` : "." };
}

/** The Node built-in a specifier names (`fs`, `node:fs`, `fs/promises`), as `node:…`. */
function _builtinOf(specifier: string): string | undefined {
  const bare = specifier.replace(/^node:/, "");
  return _BUILTINS.has(bare) || specifier.startsWith("node:") ? `node:${bare}` : undefined;
}

async function _exists(path: string, dir = false): Promise<boolean> {
  try {
    const stat = await Deno.stat(path);
    return dir ? stat.isDirectory : stat.isFile;
  } catch {
    return false;
  }
}

/** The first `node_modules/<name>` walking up from `from` (a directory), as a real path. */
async function _findPackageDir(name: string, from: string): Promise<string | undefined> {
  let dir = from;
  while (true) {
    const candidate = join(dir, "node_modules", name);
    if (await _exists(candidate, true)) return await Deno.realPath(candidate);
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Picks the target of an `exports` value by conditions (first matching key in its order). */
function _pickCondition(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = _pickCondition(v);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === "object" && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (_CONDITIONS.has(key)) {
        const found = _pickCondition(v);
        if (found) return found;
      }
    }
  }
  return undefined;
}

/** The file `subpath` maps to through a package's `exports`, or undefined. */
function _fromExports(exports: unknown, subpath: string): string | undefined {
  const isMap = typeof exports === "object" && exports !== null && !Array.isArray(exports) &&
    Object.keys(exports).some((k) => k.startsWith("."));
  if (!isMap) return subpath === "." ? _pickCondition(exports) : undefined;
  const map = exports as Record<string, unknown>;
  if (subpath in map) return _pickCondition(map[subpath]);
  for (const [key, value] of Object.entries(map)) {
    const star = key.indexOf("*");
    if (star < 0) continue;
    const [head, tail] = [key.slice(0, star), key.slice(star + 1)];
    if (subpath.startsWith(head) && subpath.endsWith(tail)) {
      const matched = subpath.slice(head.length, subpath.length - tail.length);
      return _pickCondition(value)?.replaceAll("*", matched);
    }
  }
  return undefined;
}

const _FILE_SUFFIXES = [
  "",
  ".js",
  ".mjs",
  ".cjs",
  ".json",
  "/index.js",
  "/index.mjs",
  "/index.cjs",
];

/** The file `base` names with Node's extension and index fallbacks. */
export async function resolveFileLike(base: string): Promise<string | undefined> {
  for (const suffix of _FILE_SUFFIXES) {
    if (await _exists(base + suffix)) return base + suffix;
  }
  if (await _exists(join(base, "package.json"))) {
    const pkg = JSON.parse(await Deno.readTextFile(join(base, "package.json")));
    const main = typeof pkg.main === "string" ? pkg.main : undefined;
    if (main) return await resolveFileLike(resolve(base, main));
  }
  return undefined;
}

/** The fix a user needs when a package is missing. */
const _INSTALL_HINT =
  "run `whd handlers vendor` so that it is installed in a node_modules next to the handlers";

/** Where a package's directory is, and whether it came from Deno's cache. */
async function _packageDir(
  parsed: PackageSpecifier,
  specifier: string,
  importer: string,
  cache: DenoNpmCache | undefined,
): Promise<{ dir: string; cached: boolean } | { error: string }> {
  const dependency = cache?.dependencyDir(parsed.name, importer);
  if (dependency) return { dir: dependency, cached: true };
  if (dependency === null) {
    return {
      error: `package ${parsed.name} is not a dependency of the package importing it: ` +
        _INSTALL_HINT,
    };
  }
  const real = await Deno.realPath(importer);
  const dir = await _findPackageDir(parsed.name, dirname(real));
  if (dir) return { dir, cached: false };
  let wanted = specifier;
  if (!specifier.startsWith("npm:")) {
    const mapped = await mappedSpecifier(parsed.name, dirname(real));
    if (!mapped) {
      return {
        error: `package ${parsed.name} is not installed: import it as ` +
          `"npm:${parsed.name}@<version>", or list it in handlers/deno.json (imports) or ` +
          `handlers/package.json (dependencies)`,
      };
    }
    wanted = mapped.specifier;
  }
  if (!cache) return { error: `package ${parsed.name} is not installed: ${_INSTALL_HINT}` };
  const target = parsePackageSpecifier(wanted);
  if (!target) {
    return {
      error: `package ${parsed.name} is mapped to "${wanted}", which is not an npm package: ` +
        `map it to "npm:${parsed.name}@<version>"`,
    };
  }
  const found = await cache.packageDir(
    `npm:${target.name}${target.range ? `@${target.range}` : ""}`,
  );
  if ("dir" in found) return { dir: found.dir, cached: true };
  return {
    error: `package ${parsed.name} is not installed and Deno's npm cache could not get it ` +
      `(${found.error}): ${_INSTALL_HINT}`,
  };
}

/**
 * Resolves a package specifier imported by the file `importer`: from a `node_modules`, else,
 * for `npm:` specifiers and with `cache`, from Deno's npm cache.
 */
export async function resolvePackage(
  specifier: string,
  importer: string,
  cache?: DenoNpmCache,
): Promise<PackageResolution> {
  const builtin = _builtinOf(specifier);
  if (builtin && !specifier.startsWith("npm:")) return { builtin };
  const parsed = parsePackageSpecifier(specifier);
  if (!parsed) return { error: `"${specifier}" is not a package specifier` };
  const where = await _packageDir(parsed, specifier, importer, cache);
  if ("error" in where) return where;
  const { dir } = where;
  let pkg: Record<string, unknown> = {};
  try {
    pkg = JSON.parse(await Deno.readTextFile(join(dir, "package.json")));
  } catch { /* a directory without package.json: index fallbacks only */ }
  if (
    !where.cached && parsed.range && /^\d+\.\d+\.\d+/.test(parsed.range) &&
    pkg.version !== parsed.range
  ) {
    return {
      error: `package ${parsed.name}@${parsed.range} is wanted but ${parsed.name}@${
        pkg.version ?? "?"
      } is installed: ${_INSTALL_HINT}`,
    };
  }
  let target: string | undefined;
  if (pkg.exports !== undefined) {
    const mapped = _fromExports(pkg.exports, parsed.subpath);
    if (!mapped) {
      return { error: `package ${parsed.name} does not export "${parsed.subpath}"` };
    }
    target = resolve(dir, mapped);
  } else if (parsed.subpath === ".") {
    const main = typeof pkg.module === "string"
      ? pkg.module
      : typeof pkg.main === "string"
      ? pkg.main
      : "index.js";
    target = resolve(dir, main);
  } else {
    target = resolve(dir, parsed.subpath);
  }
  const file = await resolveFileLike(target);
  return file ? { path: file } : { error: `package ${parsed.name}: no file at ${target}` };
}
