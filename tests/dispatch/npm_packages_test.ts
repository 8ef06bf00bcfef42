/**
 * npm packages in handlers through the real CLI and daemon, with packages whd itself does not
 * depend on (ms is CommonJS, nanoid is ESM importing node:crypto, debug is CommonJS requiring
 * ms and, optionally, supports-color):
 * - under `deno run`, a pinned `npm:` specifier alone is enough: whd fetches the package into
 *   Deno's npm cache when the handler loads (a fresh, empty DENO_DIR here) and bundles it in;
 * - `whd handlers vendor` installs them next to the handlers, after which the daemon needs no
 *   deno CLI and no registry (as the compiled binary runs);
 * - a package that cannot be had is a load error naming the file, the package and the fix.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { daemonProject } from "./_daemon.ts";
import { lines, waitFor } from "./_helpers.ts";

const SHIP = (out: string) =>
  `import ms from "npm:ms@2.1.3";
  import { customAlphabet } from "npm:nanoid@5.0.9";
  import createDebug from "npm:debug@4.3.7";
  export default async () => {
    createDebug("ship")("shipping");
    const id = customAlphabet("abc", 6)();
    await Deno.writeTextFile(${JSON.stringify(out)}, ms(90_000) + " " + id.length + "\\n");
  };`;

/** No deno CLI to fetch with: the compiled binary on a host without deno. */
const NO_DENO = { DENO: "/nonexistent/deno" };

Deno.test("under deno run a pinned npm: import loads from Deno's npm cache, fetched on first load", async () => {
  const project = await daemonProject({});
  const denoDir = await Deno.makeTempDir({ prefix: "whd_deno_dir_" });
  const out = project.path("out");
  await project.handler("ship.ts", SHIP(out));
  try {
    // No registry and an empty cache: the load error names the file, the package and the fix.
    const offline = await project.cli(["handlers"], {
      DENO_DIR: denoDir,
      NPM_CONFIG_REGISTRY: "http://whd:npm_canary_token@127.0.0.1:1/",
    });
    assert.equal(offline.code, 1, offline.stdout + offline.stderr);
    // deno info quotes the registry URL with its user info: the token must not reach whd's
    // output (stderr holds `deno run`'s own Download lines for whd's modules, not whd's).
    assert.ok(!offline.stdout.includes("npm_canary_token"), offline.stdout);
    assert.match(
      offline.stdout,
      /handlers\/shop\/ship\.ts imports "npm:ms@2\.1\.3": package ms is not installed and Deno's npm cache could not get it \(.*127\.0\.0\.1:1.*\): run `whd handlers vendor`/,
    );

    const server = await project.start({ DENO_DIR: denoDir });
    try {
      assert.equal((await project.deliver(server, "evt_ship", "ship")).status, 200);
      const written = await waitFor(async () => (await lines(out))[0], 60_000, "the handler");
      assert.equal(written, "2m 6");
    } finally {
      await server.stop("SIGTERM");
    }
    for (const pkg of ["ms/2.1.3", "nanoid/5.0.9", "debug/4.3.7"]) {
      const cached = join(denoDir, "npm", "registry.npmjs.org", pkg, "package.json");
      assert.ok((await Deno.stat(cached)).isFile, `${pkg} was fetched into Deno's cache`);
    }
    await assert.rejects(Deno.stat(project.path("handlers/node_modules")), Deno.errors.NotFound);
  } finally {
    await project.remove();
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("after whd handlers vendor the daemon needs no deno CLI and no registry; without either a missing package is a load error", async () => {
  const project = await daemonProject({});
  const out = project.path("out");
  await project.handler("ship.ts", SHIP(out));
  try {
    const before = await project.cli(["handlers"], NO_DENO);
    assert.equal(before.code, 1, "not installed yet, nothing to fetch with: a load error");
    assert.match(
      before.stdout,
      /handlers\/shop\/ship\.ts imports "npm:ms@2\.1\.3": package ms is not installed and Deno's npm cache could not get it \(there is no deno CLI \(\/nonexistent\/deno\) to fetch it with\): run `whd handlers vendor`/,
    );

    const vendor = await project.cli(["handlers", "vendor"]);
    assert.equal(vendor.code, 0, vendor.stdout + vendor.stderr);
    assert.match(vendor.stdout, /packages installed in handlers\/node_modules/);
    const installed = await Deno.stat(project.path("handlers/node_modules/ms/package.json"));
    assert.ok(installed.isFile);

    const offline = { ...NO_DENO, NPM_CONFIG_REGISTRY: "http://127.0.0.1:1/" };
    const after = await project.cli(["handlers"], offline);
    assert.equal(after.code, 0, after.stdout);
    assert.doesNotMatch(after.stdout, /node_modules/, "node_modules is not a provider");

    const server = await project.start(offline);
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

Deno.test("a bare name mapped by handlers/deno.json or handlers/package.json loads under deno run, and vendors", async () => {
  const manifests = {
    "deno.json": { imports: { ms: "npm:ms@2.1.3" } },
    "package.json": { dependencies: { ms: "2.1.3" } },
  };
  for (const [file, manifest] of Object.entries(manifests)) {
    const project = await daemonProject({});
    const out = project.path("out");
    await Deno.writeTextFile(project.path(`handlers/${file}`), JSON.stringify(manifest));
    await project.handler(
      "ship.ts",
      `import ms from "ms";
      export default async () => { await Deno.writeTextFile(${
        JSON.stringify(out)
      }, ms(90_000)); };`,
    );
    try {
      const server = await project.start();
      try {
        assert.equal((await project.deliver(server, "evt_ship", "ship")).status, 200);
        const written = await waitFor(() => Deno.readTextFile(out).catch(() => ""), 30_000, file);
        assert.equal(written, "2m", file);
      } finally {
        await server.stop("SIGTERM");
      }

      const vendor = await project.cli(["handlers", "vendor"]);
      assert.equal(vendor.code, 0, `${file}: ${vendor.stdout}${vendor.stderr}`);
      const installed = await Deno.stat(project.path("handlers/node_modules/ms/package.json"));
      assert.ok(installed.isFile, file);
      const offline = await project.cli(["handlers"], NO_DENO);
      assert.equal(offline.code, 0, `${file}: ${offline.stdout}`);
    } finally {
      await project.remove();
    }
  }
});
