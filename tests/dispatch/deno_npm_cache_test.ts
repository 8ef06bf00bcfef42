/**
 * Deno's npm cache as a package source, with the real `deno info` (debug@4.3.7 depends on
 * ms): where a package is, which directory its dependencies come from, and failures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { createDenoNpmCache } from "../../src/dispatch/deno_npm_cache.ts";

Deno.test("deno npm cache: a package's directory and its dependencies' come from deno info", async () => {
  const cache = createDenoNpmCache();
  const found = await cache.packageDir("npm:debug@4.3.7");
  assert.ok("dir" in found, JSON.stringify(found));
  assert.match(found.dir, /[/\\]debug[/\\]4\.3\.7$/);
  const pkg = JSON.parse(await Deno.readTextFile(join(found.dir, "package.json")));
  assert.equal(pkg.version, "4.3.7");

  const importer = join(found.dir, "src", "node.js");
  assert.ok(cache.contains(importer));
  const ms = cache.dependencyDir("ms", importer);
  assert.ok(ms, "ms is a dependency of debug");
  const msPkg = JSON.parse(await Deno.readTextFile(join(ms, "package.json")));
  assert.equal(msPkg.name, "ms");
  assert.equal(cache.dependencyDir("debug", importer), found.dir, "a package may import itself");
  assert.equal(cache.dependencyDir("supports-color", importer), null, "an optional one is not");
  assert.equal(cache.dependencyDir("ms", "/srv/handlers/a.ts"), undefined);
  assert.equal(cache.contains("/srv/handlers/a.ts"), false);
});

Deno.test("deno npm cache: deno's error is the answer, and a failure is asked again next time", async () => {
  let calls = 0;
  const cache = createDenoNpmCache({
    info: (specifier) => {
      calls++;
      if (calls === 1) {
        return Promise.resolve({
          code: 0,
          stdout: JSON.stringify({
            roots: [specifier],
            modules: [{ specifier, error: "npm package 'nope' does not exist." }],
            redirects: {},
            npmPackages: {},
          }),
          stderr: "",
        });
      }
      return Promise.resolve({ code: 1, stdout: "", stderr: "Download x\nerror: no route\n" });
    },
  });
  assert.deepEqual(await cache.packageDir("npm:nope@1"), {
    error: "npm package 'nope' does not exist.",
  });
  assert.deepEqual(await cache.packageDir("npm:nope@1"), { error: "no route" });
  assert.equal(calls, 2);
});
