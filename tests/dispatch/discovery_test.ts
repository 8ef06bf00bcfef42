import assert from "node:assert/strict";
import {
  classifyHandlerFile,
  discoverHandlers,
  patternMatches,
  resolveHandler,
} from "../../src/dispatch/discovery.ts";
import { handlersDir } from "./_helpers.ts";

const EXEC = 0o755;

Deno.test("discovery: module, executable, helper and ignored files are told apart", async () => {
  const dir = await handlersDir({
    "stripe/invoice.paid.ts": "export default () => {};",
    "stripe/customer.subscription.*.js": "export default () => {};",
    "stripe/_default.ts": "export default () => {};",
    "stripe/_shared.ts": "export const x = 1;",
    "stripe/types.d.ts": "export type X = 1;",
    "stripe/notes.txt": "not a handler",
    "stripe/lib/util.ts": "export const y = 2;",
    "github/push.sh": { text: "#!/bin/sh\n", mode: EXEC },
    "github/issues.opened": { text: "#!/bin/sh\n", mode: EXEC },
    "github/not_executable.sh": { text: "#!/bin/sh\n", mode: 0o644 },
    "whd.d.ts": "export type Y = 2;",
    "README.md": "# hi",
  });
  const found = await discoverHandlers(dir);
  assert.equal(found.exists, true);
  assert.deepEqual(
    found.files.map((f) => `${f.provider}/${f.pattern}:${f.kind}`),
    [
      "github/issues.opened:exec",
      "github/push:exec",
      "stripe/_default:module",
      "stripe/customer.subscription.*:module",
      "stripe/invoice.paid:module",
    ],
  );
  assert.deepEqual(found.problems, []);
});

Deno.test("discovery: two files for one pattern are a problem naming both", async () => {
  const dir = await handlersDir({
    "github/push.sh": { text: "#!/bin/sh\n", mode: EXEC },
    "github/push.ts": "export default () => {};",
  });
  const found = await discoverHandlers(dir);
  assert.equal(found.files.length, 1);
  assert.equal(found.problems.length, 1);
  assert.match(found.problems[0].message, /push\.ts and github\/push\.sh both handle "push"/);
});

Deno.test("discovery: a missing directory is reported, not thrown", async () => {
  const found = await discoverHandlers("/nonexistent/whd/handlers");
  assert.equal(found.exists, false);
  assert.deepEqual(found.files, []);
});

Deno.test("discovery: classify keeps dotted type names of extension-less executables", () => {
  assert.deepEqual(classifyHandlerFile("payment_intent.succeeded", EXEC), {
    pattern: "payment_intent.succeeded",
    kind: "exec",
  });
  assert.deepEqual(classifyHandlerFile("push.py", EXEC), { pattern: "push", kind: "exec" });
  assert.equal(classifyHandlerFile("push.py", 0o644), undefined);
  assert.equal(classifyHandlerFile(".hidden.ts", EXEC), undefined);
});

Deno.test("resolution: exact > longest * pattern > _default, per provider", () => {
  const f = (provider: string, pattern: string) => ({ provider, pattern, name: `${pattern}.ts` });
  const files = [
    f("stripe", "_default"),
    f("stripe", "customer.*"),
    f("stripe", "customer.subscription.*"),
    f("stripe", "customer.subscription.created"),
    f("stripe", "*.succeeded"),
    f("stripe", "payment_intent.*"),
    f("github", "push"),
  ];
  const table: [string, string, string | undefined][] = [
    ["stripe", "customer.subscription.created", "customer.subscription.created"],
    ["stripe", "customer.subscription.updated", "customer.subscription.*"],
    ["stripe", "customer.created", "customer.*"],
    ["stripe", "customer.subscription.trial_will_end", "customer.subscription.*"],
    // "payment_intent." (15 literal chars) beats ".succeeded" (10)
    ["stripe", "payment_intent.succeeded", "payment_intent.*"],
    ["stripe", "charge.succeeded", "*.succeeded"],
    ["stripe", "invoice.paid", "_default"],
    ["github", "push", "push"],
    ["github", "issues", undefined],
    ["slack", "message", undefined],
  ];
  for (const [provider, type, expected] of table) {
    assert.equal(resolveHandler(files, provider, type)?.pattern, expected, `${provider} ${type}`);
  }
});

Deno.test("patterns: * matches any run of characters, dots included; nothing else is special", () => {
  assert.equal(patternMatches("customer.*", "customer.subscription.created"), true);
  assert.equal(patternMatches("customer.*", "customerXsubscription"), false);
  assert.equal(patternMatches("a+b.*", "a+b.c"), true);
  assert.equal(patternMatches("push", "push"), true);
  assert.equal(patternMatches("push", "pushed"), false);
});

Deno.test("discovery: two middleware files in one scope are a problem naming both; the first by name is used", async () => {
  const dir = await handlersDir({
    "_middleware.ts": "export default (e, c, n) => n();",
    "_middleware.js": "export default (e, c, n) => n();",
    "shop/a.ts": "export default () => {};",
  });
  const found = await discoverHandlers(dir);
  assert.equal(found.problems.length, 1);
  assert.match(
    found.problems[0].message,
    /_middleware\.ts and _middleware\.js are both middleware here; remove one \(_middleware\.js is used\)/,
  );
  assert.deepEqual(found.files[0].middleware, [`${dir}/_middleware.js`]);
});
