/**
 * Builds the console page into the files whd embeds (`src/console/ui/dist/`): `app.js` (the
 * page's TypeScript under `src/` with Preact, htm and uPlot bundled in by esbuild-wasm,
 * in-process), `app.css` (uPlot's stylesheet, then the page's) and `index.html`. The output is
 * committed, so whd needs no build step at run time and a compiled binary embeds it by static
 * import; `tests/console_ui_dist_test.ts` rebuilds in memory and fails when the committed files
 * are stale.
 *
 * Run `deno task console:build` after changing anything under `src/console/ui/src/`.
 *
 * @example
 * ```ts ignore
 * const files = await buildConsole();
 * files["app.js"].length > 0; // true
 * ```
 * @module
 */
import * as esbuild from "esbuild-wasm/esm/browser.js";
import wasm from "esbuild-wasm/esbuild.wasm" with { type: "bytes" };
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { resolvePackage } from "../../dispatch/npm_resolve.ts";

/** The directory of the page's sources. */
export const UI_DIR: string = dirname(fileURLToPath(import.meta.url));

/** The file names in `dist/`, as served under `/` (index.html) and `/assets/<name>`. */
export const DIST_FILES = ["index.html", "app.js", "app.css"] as const;

/** One built console: file name → text. */
export type ConsoleFiles = Record<(typeof DIST_FILES)[number], string>;

const _BANNER = "/* whd console. Bundled: Preact (MIT), htm (Apache-2.0), uPlot (MIT). */";

async function _readFile(path: string): Promise<string> {
  return await Deno.readTextFile(path);
}

const _resolver: esbuild.Plugin = {
  name: "whd-console-files",
  setup(build) {
    build.onResolve({ filter: /.*/ }, async (args) => {
      if (args.kind === "entry-point") return { path: resolve(args.path), namespace: "file" };
      if (args.path.startsWith("./") || args.path.startsWith("../")) {
        return { path: resolve(dirname(args.importer), args.path), namespace: "file" };
      }
      const found = await resolvePackage(args.path, args.importer);
      if ("path" in found) return { path: found.path, namespace: "file" };
      return { errors: [{ text: `${args.importer} imports "${args.path}": not installed` }] };
    });
    build.onLoad({ filter: /.*/, namespace: "file" }, async (args) => ({
      contents: await _readFile(args.path),
      loader: args.path.endsWith(".ts") ? "ts" : "js",
      resolveDir: dirname(args.path),
    }));
  },
};

/** Builds the page in memory (esbuild-wasm is initialized on the first call, about 150 ms). */
export async function buildConsole(): Promise<ConsoleFiles> {
  try {
    const wasmModule = await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>);
    await esbuild.initialize({ wasmModule, worker: false });
  } catch (error) {
    // A second initialize() in one process is refused; the first one still stands.
    if (!String(error).includes("more than once")) throw error;
  }
  const result = await esbuild.build({
    entryPoints: [join(UI_DIR, "src", "app.ts")],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    legalComments: "none",
    banner: { js: _BANNER },
    logLevel: "silent",
    plugins: [_resolver],
  });
  const uplotCss = await resolvePackage("uplot/dist/uPlot.min.css", join(UI_DIR, "build.ts"));
  if (!("path" in uplotCss)) throw new Error("uplot is not installed: run deno install");
  const css = [
    "/* uPlot (MIT) */",
    (await _readFile(uplotCss.path)).trim(),
    "/* whd console */",
    (await _readFile(join(UI_DIR, "src", "app.css"))).trim(),
    "",
  ].join("\n");
  return {
    "index.html": await _readFile(join(UI_DIR, "src", "index.html")),
    "app.js": result.outputFiles[0].text,
    "app.css": css,
  };
}

if (import.meta.main) {
  const files = await buildConsole();
  for (const name of DIST_FILES) {
    await Deno.writeTextFile(join(UI_DIR, "dist", name), files[name]);
    console.log(`src/console/ui/dist/${name}: ${files[name].length} bytes`);
  }
  await esbuild.stop();
}
