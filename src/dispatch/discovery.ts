/**
 * Finds handler files under `handlers.dir` and decides which one handles an event type.
 *
 * Layout: `<dir>/<provider>/<pattern>[.ext]`.
 * - `.ts`, `.mts`, `.js`, `.mjs` files are module handlers (`.d.ts` files are skipped); the
 *   pattern is the name without that extension.
 * - Any other file with an execute bit is an executable handler; a script extension
 *   (`.sh`, `.bash`, `.py`, `.rb`, `.pl`, `.php`, `.lua`, `.exe`) is dropped from the
 *   pattern, any other name is the pattern as is (`push` or `payment_intent.succeeded`).
 * - Names starting with `.` or `_` (other than `_default`) are helpers, not handlers, and so
 *   are subdirectories of a provider directory and files at the root of `dir`.
 * - Middleware: `<dir>/_middleware.ts` wraps every module handler, `<dir>/<provider>/_middleware.ts`
 *   those of one provider (any module extension); listed outermost first in each module
 *   handler's `middleware`.
 *
 * Resolution (the most specific file wins): a file named exactly like the type; else the
 * matching `*` pattern with the most literal characters (`*` matches any run of characters,
 * dots included: `customer.*` matches `customer.subscription.created`, but
 * `customer.subscription.*` wins over it); ties go to fewer `*`s, then to the smaller name;
 * else `_default`.
 *
 * @example
 * ```ts ignore
 * const found = await discoverHandlers("handlers");
 * resolveHandler(found.files, "stripe", "customer.subscription.updated")?.name;
 * // "customer.subscription.*.ts"
 * ```
 * @module
 */
import { join, relative } from "node:path";

/** How a handler file is run. */
export type HandlerKind = "module" | "exec";

/** One handler file found on disk. */
export interface HandlerFile {
  /** Directory name under `handlers.dir`. */
  provider: string;
  /** Event type pattern: a type, a pattern with `*`, or `_default`. */
  pattern: string;
  kind: HandlerKind;
  /** File name, e.g. `payment_intent.succeeded.ts`. */
  name: string;
  /** Full path. */
  path: string;
  /** Module handlers: the middleware files that wrap it, outermost first (full paths). */
  middleware?: string[];
}

/** A problem with the layout itself (two files for one pattern, an unreadable dir). */
export interface DiscoveryProblem {
  path: string;
  message: string;
}

/** What {@linkcode discoverHandlers} found. */
export interface Discovery {
  dir: string;
  /** False when `dir` does not exist. */
  exists: boolean;
  files: HandlerFile[];
  problems: DiscoveryProblem[];
}

const _MODULE_EXT = /\.(ts|mts|js|mjs)$/;
const _MIDDLEWARE = /^_middleware\.(ts|mts|js|mjs)$/;

/**
 * The middleware file among `names` (in `dir`), reporting a second one as a problem.
 */
function _middlewareIn(
  dir: string,
  names: string[],
  problems: DiscoveryProblem[],
): string | undefined {
  const found = names.filter((n) => _MIDDLEWARE.test(n)).sort();
  for (const extra of found.slice(1)) {
    problems.push({
      path: join(dir, extra),
      message: `${extra} and ${found[0]} are both middleware here; remove one (${
        found[0]
      } is used)`,
    });
  }
  return found.length > 0 ? join(dir, found[0]) : undefined;
}
const _SCRIPT_EXT = /\.(sh|bash|py|rb|pl|php|lua|exe)$/;

/** The pattern and kind of a file name, or undefined when it is not a handler. */
export function classifyHandlerFile(
  name: string,
  mode: number | null,
): { pattern: string; kind: HandlerKind } | undefined {
  if (name.startsWith(".")) return undefined;
  if (name.startsWith("_") && !/^_default(\.[^.]+)?$/.test(name)) return undefined;
  if (/\.d\.(ts|mts)$/.test(name)) return undefined;
  if (_MODULE_EXT.test(name)) return { pattern: name.replace(_MODULE_EXT, ""), kind: "module" };
  if (mode !== null && (mode & 0o111) !== 0) {
    return { pattern: name.replace(_SCRIPT_EXT, ""), kind: "exec" };
  }
  return undefined;
}

/** Scans `dir` for handler files. Never throws for a missing directory. */
export async function discoverHandlers(dir: string): Promise<Discovery> {
  const result: Discovery = { dir, exists: true, files: [], problems: [] };
  let providers: string[];
  const rootFiles: string[] = [];
  try {
    providers = [];
    for await (const entry of Deno.readDir(dir)) {
      // node_modules: the handlers' installed packages (`whd handlers vendor`), not a provider.
      if (entry.isDirectory && !entry.name.startsWith(".") && entry.name !== "node_modules") {
        providers.push(entry.name);
      } else if (entry.isFile || entry.isSymlink) rootFiles.push(entry.name);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return { ...result, exists: false };
    throw error;
  }
  const outer = _middlewareIn(dir, rootFiles, result.problems);
  for (const provider of providers.sort()) {
    const providerDir = join(dir, provider);
    const byPattern = new Map<string, HandlerFile>();
    const names: string[] = [];
    for await (const entry of Deno.readDir(providerDir)) {
      if (entry.isFile || entry.isSymlink) names.push(entry.name);
    }
    const inner = _middlewareIn(providerDir, names, result.problems);
    const middleware = [outer, inner].filter((m): m is string => m !== undefined);
    for (const name of names.sort()) {
      const path = join(providerDir, name);
      let stat: Deno.FileInfo;
      try {
        stat = await Deno.stat(path);
      } catch {
        continue; // dangling symlink, or deleted while scanning
      }
      if (!stat.isFile) continue;
      const kind = classifyHandlerFile(name, stat.mode);
      if (!kind) continue;
      const previous = byPattern.get(kind.pattern);
      if (previous) {
        result.problems.push({
          path,
          message:
            `${provider}/${name} and ${provider}/${previous.name} both handle "${kind.pattern}"; ` +
            `remove or rename one (the first, ${previous.name}, is used)`,
        });
        continue;
      }
      const file: HandlerFile = { provider, pattern: kind.pattern, kind: kind.kind, name, path };
      if (kind.kind === "module" && middleware.length > 0) file.middleware = middleware;
      byPattern.set(kind.pattern, file);
      result.files.push(file);
    }
  }
  return result;
}

/** True when `pattern` (with `*` wildcards) matches the whole of `type`. */
export function patternMatches(pattern: string, type: string): boolean {
  if (!pattern.includes("*")) return pattern === type;
  const source = pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(
    ".*",
  );
  return new RegExp(`^${source}$`, "s").test(type);
}

/** Picks the file that handles `type` for `provider`: exact > longest `*` pattern > `_default`. */
export function resolveHandler<T extends Pick<HandlerFile, "provider" | "pattern" | "name">>(
  files: readonly T[],
  provider: string,
  type: string,
): T | undefined {
  let best: T | undefined;
  let fallback: T | undefined;
  const score = (f: T) => [f.pattern.replaceAll("*", "").length, -f.pattern.split("*").length];
  for (const file of files) {
    if (file.provider !== provider) continue;
    if (file.pattern === "_default") {
      fallback = file;
      continue;
    }
    if (file.pattern === type) return file;
    if (!file.pattern.includes("*") || !patternMatches(file.pattern, type)) continue;
    if (!best) {
      best = file;
      continue;
    }
    const [a, b] = [score(file), score(best)];
    if (
      a[0] > b[0] || (a[0] === b[0] && (a[1] > b[1] || (a[1] === b[1] && file.name < best.name)))
    ) {
      best = file;
    }
  }
  return best ?? fallback;
}

/** `path` relative to the working directory when it lies below it, for messages and logs. */
export function displayPath(path: string): string {
  const rel = relative(Deno.cwd(), path);
  return rel.startsWith("..") ? path : rel;
}
