import assert from "node:assert/strict";
import { join } from "node:path";
import { createBundler, toDataUrl } from "../../src/dispatch/bundler.ts";
import { createWorkerBundler } from "../../src/dispatch/worker_bundler.ts";
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

Deno.test("bundler: every example handler in handlers/ (public-entry imports) bundles and runs", async () => {
  const root = new URL("../../handlers/stripe/", import.meta.url).pathname;
  const files = [...Deno.readDirSync(root)].filter((e) => e.name.endsWith(".ts")).map((e) =>
    e.name
  );
  assert.ok(files.length >= 5, `examples in ${root}`);
  for (const file of files) {
    const source = await Deno.readTextFile(root + file);
    assert.match(source, /from "@whd\/whd\/handler"/, `${file} imports the public entry`);
    const result = await bundler.bundle(root + file);
    assert.equal(result.ok, true, result.ok ? "" : result.error);
    if (!result.ok) continue;
    const mod = await import(toDataUrl(result.code));
    const logged: string[] = [];
    const log = (m: string) => logged.push(m);
    await mod.default(
      { id: "evt_1", provider: "stripe", type: file, payload: { data: { object: {} } } },
      { log: { debug: log, info: log, warn: log, error: log }, attempt: 1, env: {} },
    );
    assert.ok(logged.length > 0, `${file} ran and logged`);
  }
});

Deno.test("bundler: a bare npm import is a load error naming the file and the import", async () => {
  const dir = await handlersDir({
    "stripe/charge.succeeded.ts": `import _ from "lodash";\nexport default () => _.noop();`,
  });
  const result = await bundler.bundle(join(dir, "stripe/charge.succeeded.ts"));
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.match(result.error, /charge\.succeeded\.ts imports "lodash"/);
  assert.match(result.error, /only relative files and node: built-ins/);
});

Deno.test("bundler: npm:, https: and a missing relative file are load errors too", async () => {
  const dir = await handlersDir({
    "a/npm.ts": `import x from "npm:left-pad";\nexport default () => x;`,
    "a/remote.ts": `import x from "https://example.com/x.ts";\nexport default () => x;`,
    "a/missing.ts": `import x from "./nope.ts";\nexport default () => x;`,
  });
  for (
    const [file, pattern] of [
      ["a/npm.ts", /npm\.ts imports "npm:left-pad"/],
      ["a/remote.ts", /remote\.ts imports "https:\/\/example\.com\/x\.ts"/],
      ["a/missing.ts", /missing\.ts imports "\.\/nope\.ts": no such file/],
    ] as const
  ) {
    const result = await bundler.bundle(join(dir, file));
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

Deno.test("worker bundler: bundles like the in-process one, reports load errors, and bundles again after close()", async () => {
  const dir = await handlersDir({
    "stripe/a.ts": `import { x } from "./_x.ts"; export default () => x;`,
    "stripe/_x.ts": `export const x: number = 7;`,
    "stripe/bad.ts": `import y from "left-pad"; export default y;`,
  });
  const inWorker = createWorkerBundler();
  try {
    const first = await inWorker.bundle(join(dir, "stripe/a.ts"));
    assert.deepEqual(first, await bundler.bundle(join(dir, "stripe/a.ts")));
    if (!first.ok) return;
    assert.equal((await import(toDataUrl(first.code))).default(), 7);
    const bad = await inWorker.bundle(join(dir, "stripe/bad.ts"));
    assert.equal(bad.ok, false);
    assert.match(bad.ok ? "" : bad.error, /imports "left-pad"/);
    inWorker.close();
    const again = await inWorker.bundle(join(dir, "stripe/a.ts"));
    assert.deepEqual(again, first, "a new worker after close()");
  } finally {
    inWorker.close();
    await Deno.remove(dir, { recursive: true });
  }
});
