/**
 * npm packages in handlers through the real CLI and daemon: `whd handlers vendor` installs
 * what the handlers import (packages whd itself does not depend on: ms is CommonJS, nanoid is
 * ESM importing node:crypto) next to them; `whd serve` bundles them in and runs the handler;
 * a package that is not installed is a load error naming it and the fix.
 */
import assert from "node:assert/strict";
import { daemonProject } from "./_daemon.ts";
import { lines, waitFor } from "./_helpers.ts";

Deno.test("a handler importing npm: packages runs after whd handlers vendor; a missing one is a load error", async () => {
  const project = await daemonProject({});
  const out = project.path("out");
  await project.handler(
    "ship.ts",
    `import ms from "npm:ms@2.1.3";
    import { customAlphabet } from "npm:nanoid@5.0.9";
    export default async () => {
      const id = customAlphabet("abc", 6)();
      await Deno.writeTextFile(${JSON.stringify(out)}, ms(90_000) + " " + id.length + "\\n");
    };`,
  );
  try {
    const before = await project.cli(["handlers"]);
    assert.equal(before.code, 1, "not installed yet: a load error");
    assert.match(
      before.stdout,
      /handlers\/shop\/ship\.ts imports "npm:ms@2\.1\.3": package ms is not installed: run `whd handlers vendor`/,
    );

    const vendor = await project.cli(["handlers", "vendor"]);
    assert.equal(vendor.code, 0, vendor.stdout + vendor.stderr);
    assert.match(vendor.stdout, /packages installed in handlers\/node_modules/);
    const installed = await Deno.stat(project.path("handlers/node_modules/ms/package.json"));
    assert.ok(installed.isFile);

    const after = await project.cli(["handlers"]);
    assert.equal(after.code, 0, after.stdout);
    assert.doesNotMatch(after.stdout, /node_modules/, "node_modules is not a provider");

    const server = await project.start();
    try {
      assert.equal((await project.deliver(server, "evt_ship", "ship")).status, 200);
      const written = await waitFor(async () => (await lines(out))[0], 30_000, "the handler");
      assert.equal(written, "2m 6");
    } finally {
      await server.stop("SIGTERM");
    }
  } finally {
    await project.remove();
  }
});
