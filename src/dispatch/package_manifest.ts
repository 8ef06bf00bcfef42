/**
 * Bare package names in handlers (`import pg from "pg"`) mapped to `npm:` specifiers by the
 * nearest manifest above the importing file: a `deno.json`'s `imports` (`"pg": "npm:pg@8"`) or
 * a `package.json`'s `dependencies`, `devDependencies` or `optionalDependencies`
 * (`"pg": "^8.11.0"`, or an `npm:` alias). The nearest file of the two wins; a name it does not
 * list is not mapped.
 *
 * @example
 * ```ts ignore
 * // handlers/deno.json: { "imports": { "ms": "npm:ms@2.1.3" } }
 * await mappedSpecifier("ms", "/srv/handlers/stripe"); // { specifier: "npm:ms@2.1.3", manifest: "/srv/handlers/deno.json" }
 * ```
 * @module
 */
import { dirname, join } from "node:path";

/** Where a bare name maps to, and which manifest said so. */
export interface MappedSpecifier {
  specifier: string;
  manifest: string;
}

async function _readJson(path: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    return {}; // present but not JSON: it still stops the walk
  }
}

function _entry(map: unknown, name: string): string | undefined {
  if (typeof map !== "object" || map === null) return undefined;
  const value = (map as Record<string, unknown>)[name];
  return typeof value === "string" ? value : undefined;
}

/** The `npm:` specifier the nearest manifest above `fromDir` maps `name` to, if any. */
export async function mappedSpecifier(
  name: string,
  fromDir: string,
): Promise<MappedSpecifier | undefined> {
  let dir = fromDir;
  while (true) {
    const denoJson = join(dir, "deno.json");
    const deno = await _readJson(denoJson);
    if (deno) {
      const target = _entry(deno.imports, name);
      return target?.startsWith("npm:") ? { specifier: target, manifest: denoJson } : undefined;
    }
    const packageJson = join(dir, "package.json");
    const pkg = await _readJson(packageJson);
    if (pkg) {
      for (const field of ["dependencies", "devDependencies", "optionalDependencies"]) {
        const range = _entry(pkg[field], name);
        if (range === undefined) continue;
        if (range.startsWith("npm:")) return { specifier: range, manifest: packageJson };
        // file:, git and URL dependencies are not registry packages.
        if (/^[a-z+]+:|\//i.test(range)) return undefined;
        return { specifier: `npm:${name}@${range || "*"}`, manifest: packageJson };
      }
      return undefined;
    }
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
