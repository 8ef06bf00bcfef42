/**
 * `whd schema` against a real JSON Schema validator (ajv, with ajv-formats): the example config,
 * every config the README shows and `whd init`'s config validate; broken ones do not, and whd's
 * own loader agrees on each of them.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { parse } from "yaml";
import { parseConfig } from "../src/config/loader.ts";
import { REPO, whd } from "./helpers/whd_process.ts";

const run = await whd(["schema"]);
assert.equal(run.code, 0, run.stderr);
const schema = JSON.parse(run.stdout);
const ajv = new Ajv({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(schema);

function errorsOf(yamlText: string): string[] {
  if (validate(parse(yamlText))) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}`);
}

function loaderAccepts(yamlText: string): boolean {
  try {
    parseConfig(yamlText, "test");
    return true;
  } catch {
    return false;
  }
}

Deno.test("whd schema prints a draft-07 schema of the input form", () => {
  assert.equal(schema.$schema, "http://json-schema.org/draft-07/schema#");
  assert.deepEqual(schema.required, ["providers"]); // every other top-level key has a default
  assert.equal(schema.additionalProperties, false);
  assert.deepEqual(schema.properties.server.required ?? [], []);
  assert.equal(schema.properties.server.properties.port.default, 8080);
});

Deno.test("config/whd.yaml validates against the schema", async () => {
  const text = await Deno.readTextFile(join(REPO, "config", "whd.yaml"));
  assert.deepEqual(errorsOf(text), []);
});

Deno.test("every YAML config the README shows validates against the schema", async () => {
  const readme = await Deno.readTextFile(join(REPO, "README.md"));
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 1, "the README shows at least one config");
  for (const block of blocks) {
    assert.deepEqual(errorsOf(block), [], block);
    assert.ok(loaderAccepts(block), `whd's loader accepts it too:\n${block}`);
  }
});

Deno.test("init's config validates against the schema it writes beside it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_schema_" });
  try {
    const init = await whd(["init", dir, "--provider", "stripe,github,slack,standard"]);
    assert.equal(init.code, 0, init.stderr);
    const text = await Deno.readTextFile(join(dir, "whd.yaml"));
    assert.match(text, /^# yaml-language-server: \$schema=whd\.schema\.json\n/);
    assert.deepEqual(errorsOf(text), []);
    const written = JSON.parse(await Deno.readTextFile(join(dir, "whd.schema.json")));
    assert.deepEqual(written, schema);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("invalid configs fail validation, as whd's loader rejects them", () => {
  const hook = "    webhooks:\n      default:\n        path: /gh\n" +
    "        signing_secret_env: GITHUB_WEBHOOK_SECRET\n";
  const valid = `providers:\n  github:\n${hook}`;
  assert.deepEqual(errorsOf(valid), []);
  assert.ok(loaderAccepts(valid));
  const invalid: Record<string, string> = {
    "a misspelled key": `server:\n  prot: 8080\nproviders:\n  github:\n${hook}`,
    "a port out of range": `server:\n  port: 70000\nproviders:\n  github:\n${hook}`,
    "an unknown log level": `log:\n  level: verbose\nproviders:\n  github:\n${hook}`,
    "no providers": "server:\n  port: 8080\n",
    "an empty providers map": "providers: {}\n",
    "a webhook without a path": "providers:\n  github:\n    webhooks:\n      default:\n" +
      "        signing_secret_env: GITHUB_WEBHOOK_SECRET\n",
    "a secret's value where an env var name goes": "providers:\n  github:\n    webhooks:\n" +
      "      default:\n        path: /gh\n        signing_secret_env: whsec_abc+/=\n",
    "an unknown provider type": `providers:\n  acme:\n    type: paypal\n${hook}`,
    "a bad public_url": `server:\n  public_url: not a url\nproviders:\n  github:\n${hook}`,
  };
  for (const [what, text] of Object.entries(invalid)) {
    assert.notDeepEqual(errorsOf(text), [], `the schema rejects ${what}`);
    assert.equal(loaderAccepts(text), false, `whd's loader rejects ${what}`);
  }
});

Deno.test("config/whd.yaml points editors at config/whd.schema.json, which is what `whd schema` prints now", async () => {
  const text = await Deno.readTextFile(join(REPO, "config", "whd.yaml"));
  assert.match(text, /^# yaml-language-server: \$schema=whd\.schema\.json\n/);
  const committed = await Deno.readTextFile(join(REPO, "config", "whd.schema.json"));
  assert.equal(
    committed,
    run.stdout,
    "config/whd.schema.json is stale: run `deno run -A main.ts schema > config/whd.schema.json`",
  );
});
