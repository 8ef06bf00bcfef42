/**
 * A signing secret from the environment never appears in whd's log, whatever prints it (here a
 * careless module handler and an executable handler), in both log formats — through the real
 * daemon, so it holds whoever rewrites the scrubber.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startWhd, whd } from "./helpers/whd_process.ts";
import { tempDir } from "./helpers/temp_dir.ts";

/** Every way the secret could show up in a line: raw, JSON-escaped, and escaped twice. */
function renderings(secret: string): string[] {
  const once = JSON.stringify(secret).slice(1, -1);
  const twice = JSON.stringify(once).slice(1, -1);
  return [...new Set([secret, once, twice])];
}

async function leakedLines(format: "text" | "json", secret: string): Promise<string[]> {
  await using dir = await tempDir();
  await Deno.writeTextFile(
    join(dir.path, "whd.yaml"),
    `database: { url: "file:data/whd.db" }
handlers: { dir: handlers, watch: false }
log: { format: ${format}, level: debug }
providers:
  shop:
    type: hmac
    webhooks:
      default:
        path: /hooks/shop
        signing_secret_env: [SCRUB_TEST_SECRET]
        signature_header: X-Shop-Signature
        id_path: /id
        type_path: /type
        mode: sync
`,
  );
  await Deno.mkdir(join(dir.path, "handlers/shop"), { recursive: true });
  await Deno.writeTextFile(
    join(dir.path, "handlers/shop/module.ts"),
    `export default (event, ctx) => {
  const secret = ctx.env.SCRUB_TEST_SECRET;
  console.log("module handler sees", secret);
  console.error(JSON.stringify({ secret }));
  ctx.log.info("logged via ctx.log: " + secret, { secret });
};\n`,
  );
  const exec = join(dir.path, "handlers/shop/exec.sh");
  await Deno.writeTextFile(
    exec,
    '#!/bin/sh\necho "exec handler sees $SCRUB_TEST_SECRET"\necho "$SCRUB_TEST_SECRET" >&2\n',
  );
  await Deno.chmod(exec, 0o755);
  const env = { SCRUB_TEST_SECRET: secret };
  const server = await startWhd(["--config", "whd.yaml"], { cwd: dir.path, env });
  try {
    for (const [id, type] of [["o-1", "module"], ["o-2", "exec"]]) {
      const sent = await whd([
        "--config",
        "whd.yaml",
        "send",
        "--provider",
        "shop",
        "--data",
        JSON.stringify({ id, type }),
        "--url",
        `${server.url}/hooks/shop`,
      ], { cwd: dir.path, env });
      assert.equal(sent.code, 0, sent.stdout + sent.stderr);
      for (const r of renderings(secret)) {
        assert.ok(!sent.stdout.includes(r) && !sent.stderr.includes(r));
      }
    }
  } finally {
    await server.stop();
  }
  const logs = server.logs();
  assert.match(logs, /module handler sees/, "the module handler's output is logged");
  assert.match(logs, /exec handler sees/, "the executable's output is logged");
  return logs.split("\n").filter((line) => renderings(secret).some((r) => line.includes(r)));
}

const PLAIN = "scrub-test-secret-Zq81Lm42";
const ESCAPED = 'scrub-"quoted"\\back\\slash-secret-77';

for (const format of ["text", "json"] as const) {
  Deno.test(`log (${format}): a secret from the environment never appears in whd's log`, async () => {
    assert.deepEqual(await leakedLines(format, PLAIN), []);
  });

  Deno.test(
    `log (${format}): a secret with characters JSON escapes (" and \\) never appears either`,
    async () => {
      assert.deepEqual(await leakedLines(format, ESCAPED), []);
    },
  );
}
