/**
 * A Standard Webhooks body without a `type` is stored (the spec only recommends one) as type
 * `unknown`, and the provider's `_default` handler runs for it — end to end through `whd send`,
 * `whd serve` and a handler file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startWhd, whd } from "./helpers/whd_process.ts";
import { tempDir } from "./helpers/temp_dir.ts";

Deno.test("a standard delivery without type is stored as unknown and runs the _default handler", async () => {
  await using dir = await tempDir();
  const marker = join(dir.path, "seen.txt");
  await Deno.writeTextFile(
    join(dir.path, "whd.yaml"),
    `database: { url: "file:data/whd.db" }
handlers: { dir: handlers, watch: false }
providers:
  standard:
    webhooks:
      default:
        path: /webhooks/standard
        signing_secret_env: [SW_NEW, SW_OLD]
        mode: sync
`,
  );
  await Deno.mkdir(join(dir.path, "handlers/standard"), { recursive: true });
  await Deno.writeTextFile(
    join(dir.path, "handlers/standard/_default.ts"),
    `export default (event) => {
  Deno.writeTextFileSync(${JSON.stringify(marker)}, event.type + " " + event.id);
};\n`,
  );
  // Unpadded base64 (needs "=="), as the reference libraries accept it.
  const env = { SW_NEW: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwBr", SW_OLD: "whsec_b2xkLW9uZQ" };
  const server = await startWhd(["--config", "whd.yaml"], { cwd: dir.path, env });
  try {
    const sent = await whd([
      "--config",
      "whd.yaml",
      "send",
      "--provider",
      "standard",
      "--id",
      "msg_no_type_1",
      "--data",
      '{"data":{"order":"o-1"}}',
      "--url",
      `${server.url}/webhooks/standard`,
    ], { cwd: dir.path, env });
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /→ 200 \{"received":true\}/);
    assert.equal(await Deno.readTextFile(marker), "unknown msg_no_type_1");
    const listed = await whd(["--config", "whd.yaml", "events", "list", "--json"], {
      cwd: dir.path,
    });
    const [event] = JSON.parse(listed.stdout);
    assert.deepEqual([event.type, event.status], ["unknown", "done"]);
  } finally {
    await server.stop();
  }
});
