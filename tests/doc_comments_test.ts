/**
 * The style rule "a short doc comment on every exported symbol" (docs/ARCHITECTURE.md), checked
 * over every file of src/: a top-level `export` declaration must follow a `/** … *\/` comment.
 * Re-exports (`export { x } from`, `export type { X }`) are documented where they are declared.
 */
import assert from "node:assert/strict";

const DECLARATION =
  /^export\s+(?:default\s+)?(?:declare\s+)?(?:async\s+)?(?:abstract\s+)?(?:function\*?|const|let|class|interface|type|enum)\s+([A-Za-z0-9_$]+)/;

/** Whether the non-blank lines above `index` (lint directives skipped) end a `/**` comment. */
function documented(lines: string[], index: number): boolean {
  let j = index - 1;
  while (j >= 0 && (lines[j].trim() === "" || lines[j].trim().startsWith("// deno-lint"))) j--;
  if (j < 0 || !lines[j].trim().endsWith("*/")) return false;
  while (j >= 0 && !lines[j].includes("/*")) j--;
  return j >= 0 && lines[j].includes("/**");
}

async function* sourceFiles(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sourceFiles(url);
    else if (entry.name.endsWith(".ts")) yield url;
  }
}

Deno.test("every exported declaration in src/ has a doc comment", async () => {
  const src = new URL("../src/", import.meta.url);
  const missing: string[] = [];
  let seen = 0;
  for await (const file of sourceFiles(src)) {
    const lines = (await Deno.readTextFile(file)).split("\n");
    lines.forEach((line, i) => {
      const match = DECLARATION.exec(line);
      if (!match) return;
      seen++;
      if (!documented(lines, i)) {
        missing.push(`${file.pathname.slice(src.pathname.length)}:${i + 1} ${match[1]}`);
      }
    });
  }
  assert.ok(seen > 300, `found only ${seen} exported declarations: is the pattern broken?`);
  assert.deepEqual(missing, [], `exports without a /** doc comment */:\n${missing.join("\n")}`);
});
