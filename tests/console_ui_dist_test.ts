/**
 * The console page whd embeds (`src/console/ui/dist/`) is what `deno task console:build` makes
 * of the sources today: rebuilt in memory and compared file by file, so an edit under
 * `src/console/ui/src/` without a rebuild fails here instead of shipping a stale page.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildConsole, DIST_FILES, UI_DIR } from "../src/console/ui/build.ts";

Deno.test("console: the committed dist/ is the build of src/console/ui/src (run deno task console:build)", async () => {
  const built = await buildConsole();
  for (const name of DIST_FILES) {
    const committed = await Deno.readTextFile(join(UI_DIR, "dist", name));
    assert.ok(
      committed === built[name],
      `src/console/ui/dist/${name} is stale: run deno task console:build and commit it`,
    );
  }
  // The page's rules hold in what ships: no inline script or style, nothing fetched elsewhere.
  const html = built["index.html"];
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)/, "an inline <script>");
  assert.doesNotMatch(html, /<style|\sstyle=/, "an inline style");
  for (const text of Object.values(built)) {
    assert.doesNotMatch(
      text,
      /(?:src|href)=["']?(?:https?:)?\/\//,
      "a reference to another origin",
    );
    assert.doesNotMatch(text, /@import\s+url\(\s*["']?https?:/, "a stylesheet from another origin");
  }
  // Data reaches the DOM as text only: the page's own code never writes HTML.
  for await (const entry of Deno.readDir(join(UI_DIR, "src"))) {
    const text = await Deno.readTextFile(join(UI_DIR, "src", entry.name));
    assert.doesNotMatch(text, /innerHTML|outerHTML|insertAdjacentHTML|document\.write/, entry.name);
  }
});
