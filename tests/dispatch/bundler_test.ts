import assert from "node:assert/strict";
import { join } from "node:path";
import { createBundler, toDataUrl } from "../../src/dispatch/bundler.ts";
import { createDenoNpmCache } from "../../src/dispatch/deno_npm_cache.ts";
import { loadRegistry } from "../../src/dispatch/registry.ts";
import { createProcessBundler } from "../../src/dispatch/process_bundler.ts";
import { handlersDir } from "./_helpers.ts";

const bundler = createBundler();

Deno.test("bundler: a TS handler with a relative import and a node: import runs from a data: URL", async () => {
  const dir = await handlersDir({
    "stripe/invoice.paid.ts": `
      import type { Handler } from "../../does/not/exist/handler_types.ts";
      import { describe } from "./_describe.ts";
      import { basename } from "node:path";
      const handler: Handler = (event) => { (event as { out: string }).out = describe(basename("/a/b.txt")); };
      export default handler;
    `,
    "stripe/_describe.ts": `export function describe(s: string): string { return "file " + s; }`,
  });
  const result = await bundler.bundle(join(dir, "stripe/invoice.paid.ts"));
  assert.equal(result.ok, true, result.ok ? "" : result.error);
  if (!result.ok) return;
  assert.doesNotMatch(result.code, /does\/not\/exist/, "the type-only import is erased");
  assert.doesNotMatch(result.code, /: string/, "types are stripped");
  const mod = await import(toDataUrl(result.code));
  const event = { out: "" };
  await mod.default(event);
  assert.equal(event.out, "file b.txt");
});

Deno.test("bundler: a handler importing its types from the public entry @whd/whd/handler bundles and runs", async () => {
  const dir = await handlersDir({
    "stripe/invoice.paid.ts": `
      import type { Handler, HandlerContext } from "@whd/whd/handler";
      const handler: Handler = (event, ctx: HandlerContext) => { ctx.log.info("paid " + event.id); };
      export default handler;
    `,
  });
  const result = await bundler.bundle(join(dir, "stripe/invoice.paid.ts"));
  assert.equal(result.ok, true, result.ok ? "" : result.error);
  if (!result.ok) return;
  assert.doesNotMatch(result.code, /@whd\/whd/, "the type-only import is erased");
  const mod = await import(toDataUrl(result.code));
  const lines: string[] = [];
  await mod.default({ id: "evt_1" }, { log: { info: (m: string) => lines.push(m) } });
  assert.deepEqual(lines, ["paid evt_1"]);
});

Deno.test("bundler: every example module in handlers/ imports its types from the public entry and bundles", async () => {
  const root = new URL("../../handlers/", import.meta.url).pathname;
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of Deno.readDirSync(dir)) {
      if (e.isDirectory && e.name !== "node_modules") walk(`${dir}${e.name}/`);
      else if (e.isFile && e.name.endsWith(".ts")) files.push(dir + e.name);
    }
  };
  walk(root);
  assert.ok(files.length >= 8, `examples under ${root}`);
  for (const file of files) {
    const source = await Deno.readTextFile(file);
    assert.doesNotMatch(source, /src\/dispatch\/handler_types/, `${file} imports a private path`);
    if (/import type/.test(source)) {
      assert.match(source, /from "@whd\/whd\/handler"/, `${file} imports the public entry`);
    }
    const result = await bundler.bundle(file);
    assert.equal(result.ok, true, result.ok ? "" : `${file}: ${result.error}`);
    if (result.ok) assert.doesNotMatch(result.code, /@whd\/whd/, `${file}: the import is erased`);
  }
});

Deno.test("bundler: a package that is not installed is a load error naming the file, the package and the fix", async () => {
  const dir = await handlersDir({
    "stripe/charge.succeeded.ts": `import _ from "lodash";\nexport default () => _.noop();`,
  });
  const result = await bundler.bundle(join(dir, "stripe/charge.succeeded.ts"));
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.match(result.error, /charge\.succeeded\.ts imports "lodash"/);
  assert.match(
    result.error,
    /package lodash is not installed: import it as "npm:lodash@<version>", or list it in handlers\/deno\.json \(imports\) or handlers\/package\.json \(dependencies\)/,
  );
});

Deno.test("bundler: npm: (with no deno to fetch it), https: and a missing relative file are load errors too", async () => {
  // As in a compiled binary on a host without the deno CLI.
  const noDeno = createBundler({
    npmCache: createDenoNpmCache({
      info: () =>
        Promise.resolve({
          code: -1,
          stdout: "",
          stderr: "there is no deno CLI (deno) to fetch it with",
        }),
    }),
  });
  const dir = await handlersDir({
    "a/npm.ts": `import x from "npm:left-pad";\nexport default () => x;`,
    "a/remote.ts": `import x from "https://example.com/x.ts";\nexport default () => x;`,
    "a/missing.ts": `import x from "./nope.ts";\nexport default () => x;`,
  });
  for (
    const [file, pattern] of [
      [
        "a/npm.ts",
        /npm\.ts imports "npm:left-pad": package left-pad is not installed and Deno's npm cache could not get it \(there is no deno CLI \(deno\) to fetch it with\): run `whd handlers vendor`/,
      ],
      [
        "a/remote.ts",
        /remote\.ts imports "https:\/\/example\.com\/x\.ts": handlers may import relative files, node: built-ins and npm packages/,
      ],
      ["a/missing.ts", /missing\.ts imports "\.\/nope\.ts": no such file/],
    ] as const
  ) {
    const result = await noDeno.bundle(join(dir, file));
    assert.equal(result.ok, false, file);
    if (!result.ok) assert.match(result.error, pattern);
  }
});

Deno.test("bundler: a syntax error and a missing default export are load errors", async () => {
  const dir = await handlersDir({
    "a/syntax.ts": `export default (event => {`,
    "a/named.ts": `export const handler = () => {};`,
  });
  const syntax = await bundler.bundle(join(dir, "a/syntax.ts"));
  assert.equal(syntax.ok, false);
  if (!syntax.ok) assert.match(syntax.error, /syntax\.ts:1:\d+/);
  const named = await bundler.bundle(join(dir, "a/named.ts"));
  assert.equal(named.ok, false);
  if (!named.ok) assert.match(named.error, /named\.ts has no default export/);
});

Deno.test("bundler: a wildcard file name (customer.subscription.*.ts) is not read as a glob", async () => {
  const dir = await handlersDir({
    "stripe/customer.subscription.*.ts": `export default () => "sub";`,
    "stripe/customer.subscription.created.ts": `export default () => "exact";`,
  });
  const result = await bundler.bundle(join(dir, "stripe/customer.subscription.*.ts"));
  assert.equal(result.ok, true, result.ok ? "" : result.error);
  if (result.ok) assert.equal((await import(toDataUrl(result.code))).default(), "sub");
});

/** Whether `pid` is a running (not zombie) `whd __bundler` process. */
function isBundler(pid: number): boolean {
  try {
    const state = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]?.[0];
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0");
    return state !== "Z" && cmdline.includes("__bundler");
  } catch {
    return false;
  }
}

Deno.test("process bundler (whd __bundler): bundles like the in-process one, reports load errors, and bundles again after close()", async () => {
  const dir = await handlersDir({
    "stripe/a.ts": `import { x } from "./_x.ts"; export default () => x;`,
    "stripe/_x.ts": `export const x: number = 7;`,
    "stripe/bad.ts": `import y from "left-pad"; export default y;`,
  });
  const inWorker = createProcessBundler();
  try {
    const first = await inWorker.bundle(join(dir, "stripe/a.ts"));
    assert.deepEqual(first, await bundler.bundle(join(dir, "stripe/a.ts")));
    if (!first.ok) return;
    assert.equal((await import(toDataUrl(first.code))).default(), 7);
    const bad = await inWorker.bundle(join(dir, "stripe/bad.ts"));
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? "" : bad.error, /imports "left-pad"/);
    const pid = inWorker.pid!;
    assert.ok(isBundler(pid), "a whd __bundler process while bundling");
    await inWorker.close();
    assert.equal(isBundler(pid), false, "close() resolves once the process is gone");
    const again = await inWorker.bundle(join(dir, "stripe/a.ts"));
    assert.deepEqual(again, first, "a new process after close()");
  } finally {
    await inWorker.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("middleware: the registry wraps module handlers in their scope's middleware, outermost first", async () => {
  const dir = await handlersDir({
    "_middleware.ts":
      `export default async (e, ctx, next) => { e.trail.push("root"); return await next(); };`,
    "stripe/_middleware.ts":
      `export default (e, ctx, next) => { e.trail.push("stripe"); return next(); };`,
    "stripe/charge.*.ts": `export default (e) => { e.trail.push("handler"); return 42; };`,
    "github/push.ts": `export default (e) => { e.trail.push("handler"); };`,
    "github/twice.ts": `export default () => {};`,
  });
  const registry = await loadRegistry(dir, bundler);
  assert.deepEqual(registry.errors, []);
  const charge = registry.resolve("stripe", "charge.succeeded")!;
  assert.deepEqual(charge.middleware, [
    join(dir, "_middleware.ts"),
    join(dir, "stripe/_middleware.ts"),
  ]);
  const run = async (code: string) => {
    const event = { trail: [] as string[] };
    const value = await (await import(toDataUrl(code))).default(event, {});
    return { trail: event.trail, value };
  };
  assert.deepEqual(await run(charge.code!), { trail: ["root", "stripe", "handler"], value: 42 });
  assert.deepEqual(await run(registry.resolve("github", "push")!.code!), {
    trail: ["root", "handler"],
    value: undefined,
  });
});

Deno.test("middleware: a broken middleware is a load error of every handler it wraps; next() twice rejects", async () => {
  const broken = await handlersDir({
    "shop/_middleware.ts": `import x from "./nope.ts"; export default x;`,
    "shop/a.ts": `export default () => {};`,
    "shop/b.ts": `export default () => {};`,
  });
  const registry = await loadRegistry(broken, bundler);
  assert.equal(registry.errors.length, 2);
  for (const e of registry.errors) {
    assert.match(e.message, /_middleware\.ts imports "\.\/nope\.ts": no such file/);
  }

  const twice = await handlersDir({
    "shop/_middleware.ts":
      `export default async (e, ctx, next) => { await next(); return next(); };`,
    "shop/a.ts": `export default () => {};`,
  });
  const code = (await loadRegistry(twice, bundler)).resolve("shop", "a")!.code!;
  await assert.rejects(
    (async () => await (await import(toDataUrl(code))).default({}, {}))(),
    /next\(\) was called more than once/,
  );
});
