/**
 * The console page's files, embedded in whd by static imports (`deno compile` includes them;
 * nothing is read from disk at run time). `src/console/ui/dist/` holds the built page; each
 * file is served at `/` (index.html) or `/assets/<name>`.
 *
 * @example
 * ```ts
 * import { consoleAsset } from "./console_assets.ts";
 * consoleAsset("/assets/app.js")?.type; // "text/javascript; charset=utf-8"
 * ```
 * @module
 */
import appCss from "./ui/dist/app.css" with { type: "text" };
import appJs from "./ui/dist/app.js" with { type: "text" };
import indexHtml from "./ui/dist/index.html" with { type: "text" };

/** One embedded file. */
export interface ConsoleAsset {
  body: string;
  /** Its Content-Type. */
  type: string;
}

const _HTML = "text/html; charset=utf-8";
const _JS = "text/javascript; charset=utf-8";
const _CSS = "text/css; charset=utf-8";

/** Every embedded file by URL path. */
const _ASSETS: ReadonlyMap<string, ConsoleAsset> = new Map([
  ["/", { body: indexHtml, type: _HTML }],
  ["/assets/app.js", { body: appJs, type: _JS }],
  ["/assets/app.css", { body: appCss, type: _CSS }],
]);

/** The embedded file served at `path`, or undefined. */
export function consoleAsset(path: string): ConsoleAsset | undefined {
  return _ASSETS.get(path);
}
