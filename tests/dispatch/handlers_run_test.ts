/**
 * `whd handlers run` as a user runs it (real main.ts): the handler that would run, run once
 * on a sample or a file, its output and outcome printed, nothing stored.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { daemonProject } from "./_daemon.ts";

Deno.test("whd handlers run: runs the resolved handler once on a sample or --data, prints output and outcome, stores nothing", async () => {
  const project = await daemonProject({});
  await project.handler(
    "order.created.ts",
    `export default (event, ctx) => {
      console.log("handling " + event.type + " " + JSON.stringify(event.payload.data ?? null));
      ctx.log.info("noted", { attempt: ctx.attempt });
    };`,
  );
  await project.handler(
    "order.failed.ts",
    `export default (event, ctx) => { throw new Error("cannot reach db with " + ctx.env.SHOP_SECRET); };`,
  );
  await project.handler(
    "order.answered.ts",
    `export default () => new Response("thanks", { status: 202 });`,
  );
  try {
    const ok = await project.cli(["handlers", "run", "shop", "order.created"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ {2}handling order\.created /m);
    assert.match(ok.stdout, /^ {2}\[info\] noted attempt=1$/m);
    assert.match(
      ok.stdout,
      /^ran handlers\/shop\/order\.created\.ts for shop order\.created \(id /m,
    );
    assert.match(ok.stdout, /^outcome: ok in \d+ ms$/m);

    const file = join(project.dir, "body.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ id: "ord_9", type: "order.created", data: { x: 42 } }),
    );
    const fromFile = await project.cli([
      "handlers",
      "run",
      "shop",
      "order.created",
      "--data",
      file,
    ]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match(fromFile.stdout, /handling order\.created \{"x":42\}/);
    assert.match(fromFile.stdout, /\(id ord_9\)/);

    const failed = await project.cli(["handlers", "run", "shop", "order.failed"]);
    assert.equal(failed.code, 1);
    assert.match(
      failed.stdout,
      /^outcome: error in \d+ ms: Error: cannot reach db with \[redacted\]/m,
    );
    assert.doesNotMatch(failed.stdout + failed.stderr, /shop-test-secret/);

    const answered = await project.cli(["handlers", "run", "shop", "order.answered"]);
    assert.equal(answered.code, 0, answered.stderr);
    assert.match(answered.stdout, /^reply: 202 thanks$/m);

    const none = await project.cli(["handlers", "run", "shop", "order.unknown"]);
    assert.equal(none.code, 1);
    assert.match(
      none.stderr,
      /no handler for shop order\.unknown in handlers: add handlers\/shop\/order\.unknown\.ts/,
    );
    assert.equal(none.stderr.trim().split("\n").length, 1, "one line, no stack");

    const dataDir = await Deno.stat(join(project.dir, "data")).then(() => true, () => false);
    assert.equal(dataDir, false, "no database was created: nothing stored");
  } finally {
    await project.remove();
  }
});
