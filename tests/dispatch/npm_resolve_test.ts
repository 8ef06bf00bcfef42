import assert from "node:assert/strict";
import { join } from "node:path";
import type { DenoNpmCache } from "../../src/dispatch/deno_npm_cache.ts";
import { resolvePackage } from "../../src/dispatch/npm_resolve.ts";

Deno.test("npm resolve: a cached package importing a package it does not depend on names it and the fix", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_npm_resolve_" });
  const importer = join(dir, "index.js");
  await Deno.writeTextFile(importer, `import "left-pad";\n`);
  // The importer is inside a package the cache knows, and left-pad is not among its dependencies.
  const cache: DenoNpmCache = {
    packageDir: () => Promise.resolve({ error: "not asked" }),
    dependencyDir: () => null,
    contains: () => true,
  };
  try {
    const found = await resolvePackage("left-pad", importer, cache);
    assert.ok("error" in found);
    assert.match(
      found.error,
      /^package left-pad is not a dependency of the package importing it: run `whd handlers vendor`/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
