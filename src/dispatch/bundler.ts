/**
 * Turns a handler file into one JavaScript module text: TypeScript is transformed and the
 * file's relative imports are bundled in, in-process, with esbuild-wasm. The result is
 * imported as a `data:` URL, which works the same under `deno run` and in a compiled binary.
 *
 * Allowed imports: relative or absolute paths to `.ts`/`.js` files, `node:` built-ins, and
 * packages — `npm:name@version` specifiers and bare names — found in a `node_modules` next to
 * the handlers (`npm_resolve.ts`), else (`npm:` specifiers) in Deno's npm cache, fetched there
 * by the deno CLI when missing (`deno_npm_cache.ts`), bundled in (CommonJS included). Type-only imports are
 * erased without being resolved. Anything else (`jsr:`, `https:`), and a package that is not
 * installed, is a load error naming the file, the import and the fix.
 *
 * @example
 * ```ts ignore
 * const bundler = createBundler();
 * const result = await bundler.bundle("handlers/stripe/invoice.paid.ts");
 * if (result.ok) await import(toDataUrl(result.code));
 * ```
 * @module
 */
import * as esbuild from "esbuild-wasm/esm/browser.js";
import wasm from "esbuild-wasm/esbuild.wasm" with { type: "bytes" };
import { dirname, isAbsolute, resolve } from "node:path";
import { displayPath } from "./discovery.ts";
import { createDenoNpmCache, type DenoNpmCache } from "./deno_npm_cache.ts";
import { resolveFileLike, resolvePackage } from "./npm_resolve.ts";

export { toDataUrl } from "./data_url.ts";

/** Result of bundling one handler file. */
export type BundleResult =
  | { ok: true; code: string }
  | { ok: false; error: string };

/** What else goes into a handler's bundle. */
export interface BundleOptions {
  /**
   * Middleware files wrapping the handler, outermost first: the bundle's default export runs
   * them around the handler (see {@linkcode middlewareEntry}).
   */
  middleware?: readonly string[];
}

/** Bundles handler files. */
export interface Bundler {
  bundle(path: string, options?: BundleOptions): Promise<BundleResult>;
}

/**
 * The source of the virtual entry that wraps `handler` in `middleware` (outermost first):
 * each middleware gets `(event, ctx, next)`; `next()` runs the next one, or the handler, and
 * resolves to its return value; a second call of one `next` rejects.
 *
 * @example
 * ```ts
 * import { middlewareEntry } from "./bundler.ts";
 * middlewareEntry("/h/shop/a.ts", ["/h/_middleware.ts"]).includes("_middleware"); // true
 * ```
 */
export function middlewareEntry(handler: string, middleware: readonly string[]): string {
  const imports = middleware.map((m, i) => `import __whd_m${i} from ${JSON.stringify(m)};`);
  const checks = middleware.map((m, i) =>
    `if (typeof __whd_m${i} !== "function") throw new Error(${
      JSON.stringify(`${displayPath(m)}: the default export is not a function`)
    });`
  );
  return `${imports.join("\n")}
import __whd_handler from ${JSON.stringify(handler)};
${checks.join("\n")}
const __whd_chain = [${middleware.map((_, i) => `__whd_m${i}`).join(", ")}];
export default function (event, ctx) {
  const step = (i) => {
    if (i === __whd_chain.length) return Promise.resolve(__whd_handler(event, ctx));
    let called = false;
    const next = () => {
      if (called) return Promise.reject(new Error("next() was called more than once"));
      called = true;
      return step(i + 1);
    };
    return Promise.resolve(__whd_chain[i](event, ctx, next));
  };
  return step(0);
}
`;
}

// esbuild-wasm keeps its state per process and refuses a second initialize(), so the one
// initialization is shared by every bundler (the only module-level state in dispatch).
let _ready: Promise<void> | undefined;

function _initialize(): Promise<void> {
  _ready ??= (async () => {
    const wasmModule = await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>);
    await esbuild.initialize({ wasmModule, worker: false });
  })();
  return _ready;
}

const _LOADERS: Record<string, esbuild.Loader> = {
  ts: "ts",
  mts: "ts",
  tsx: "tsx",
  js: "js",
  mjs: "js",
  cjs: "js",
  jsx: "jsx",
  json: "json",
};
const _TRY_SUFFIXES = ["", ".ts", ".js", ".mts", ".mjs", "/index.ts", "/index.js"];

async function _isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** Options of {@linkcode createBundler}. */
export interface BundlerOptions {
  /** Where `npm:` packages missing from every `node_modules` come from; default Deno's cache. */
  npmCache?: DenoNpmCache;
}

/** Creates a bundler; esbuild is initialized on first use (about 150 ms). */
export function createBundler(options: BundlerOptions = {}): Bundler {
  const npmCache = options.npmCache ?? createDenoNpmCache();
  // The entry is virtual: esbuild would read a `*` in a real entry path as a glob.
  const plugin = (entry: string, middleware: readonly string[]): esbuild.Plugin => ({
    name: "whd-handler-files",
    setup(build) {
      build.onResolve({ filter: /.*/ }, async (args) => {
        if (args.kind === "entry-point") {
          return middleware.length > 0
            ? { path: resolve(entry), namespace: "whd-entry" }
            : { path: resolve(entry), namespace: "file" };
        }
        if (args.path.startsWith("node:")) return { path: args.path, external: true };
        const relativeImport = args.path.startsWith("./") || args.path.startsWith("../") ||
          isAbsolute(args.path);
        if (!relativeImport) {
          if (/^[a-z][a-z0-9+.-]*:/i.test(args.path) && !args.path.startsWith("npm:")) {
            return {
              errors: [{
                text: `${displayPath(args.importer)} imports "${args.path}": handlers may ` +
                  `import relative files, node: built-ins and npm packages (npm:name@version); ` +
                  `copy the code into a local file, or use an npm package`,
              }],
            };
          }
          const found = await resolvePackage(args.path, args.importer, npmCache);
          if ("path" in found) return { path: found.path, namespace: "file" };
          if ("builtin" in found) return { path: found.builtin, external: true };
          // A package's require() of a package that is not installed is often optional
          // (inside try/catch, e.g. debug → supports-color): left to fail at run time.
          const inPackage = args.importer.includes("/node_modules/") ||
            npmCache.contains(args.importer);
          if (args.kind === "require-call" && inPackage) {
            return { path: args.path, external: true };
          }
          return {
            errors: [{
              text: `${displayPath(args.importer)} imports "${args.path}": ${found.error}`,
            }],
          };
        }
        const base = resolve(dirname(args.importer), args.path);
        for (const suffix of _TRY_SUFFIXES) {
          if (await _isFile(base + suffix)) return { path: base + suffix, namespace: "file" };
        }
        const nodeStyle = await resolveFileLike(base);
        if (nodeStyle) return { path: nodeStyle, namespace: "file" };
        return {
          errors: [{
            text: `${displayPath(args.importer)} imports "${args.path}": no such file`,
          }],
        };
      });
      build.onLoad({ filter: /.*/, namespace: "whd-entry" }, (args) => ({
        contents: middlewareEntry(args.path, middleware.map((m) => resolve(m))),
        loader: "js",
        resolveDir: dirname(args.path),
      }));
      build.onLoad({ filter: /.*/, namespace: "file" }, async (args) => {
        const ext = args.path.split(".").pop() ?? "";
        return {
          contents: await Deno.readTextFile(args.path),
          loader: _LOADERS[ext] ?? "js",
          resolveDir: dirname(args.path),
        };
      });
    },
  });

  return {
    async bundle(path: string, options: BundleOptions = {}): Promise<BundleResult> {
      await _initialize();
      let result: esbuild.BuildResult<{ write: false; metafile: true }>;
      try {
        result = await esbuild.build({
          entryPoints: ["whd-handler-entry"],
          bundle: true,
          write: false,
          metafile: true,
          format: "esm",
          platform: "neutral",
          target: "esnext",
          logLevel: "silent",
          plugins: [plugin(path, options.middleware ?? [])],
        });
      } catch (error) {
        const failure = error as esbuild.BuildFailure;
        const messages = failure.errors?.length
          ? failure.errors.map((m) =>
            m.location && !m.pluginName
              ? `${displayPath(m.location.file)}:${m.location.line}:${m.location.column}: ${m.text}`
              : m.text
          )
          : [String(error)];
        return { ok: false, error: messages.join("; ") };
      }
      const output = Object.values(result.metafile.outputs)[0];
      if (!output?.exports.includes("default")) {
        return {
          ok: false,
          error: `${displayPath(path)} has no default export: add ` +
            "`export default async (event, ctx) => { … }`",
        };
      }
      let code = result.outputFiles[0].text;
      // CommonJS in a package calls require() for built-ins; esbuild's ESM output routes it
      // through __require, which needs a require in scope.
      if (code.includes("__require")) {
        code = `import { createRequire as __whd_createRequire } from "node:module";\n` +
          `var require = __whd_createRequire("/");\n${code}`;
      }
      return { ok: true, code };
    },
  };
}
