/**
 * Attempt history through the real daemon and the real CLI: every handler run is recorded with
 * its number, start, duration, outcome, scrubbed error and the tail of its output.
 */
import assert from "node:assert/strict";
import { daemonProject } from "./_daemon.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("an event failing twice then succeeding shows three attempts in `whd events show`", async () => {
  const project = await daemonProject({ backoff_base_ms: 50, backoff_max_ms: 100 });
  const counter = project.path("runs");
  await project.handler(
    "flaky.ts",
    `export default async (event, ctx) => {
      let n = 0;
      try { n = Number(await Deno.readTextFile(${JSON.stringify(counter)})); } catch {}
      await Deno.writeTextFile(${JSON.stringify(counter)}, String(n + 1));
      console.log("run " + (n + 1) + " of " + event.id);
      ctx.log.info("looked at it", { attempt: ctx.attempt });
      if (n < 2) throw new Error("upstream said no (key " + ctx.env.SHOP_SECRET + ")");
    };`,
  );
  const server = await project.start();
  try {
    const delivery = await project.deliver(server, "evt_flaky", "flaky");
    assert.equal(delivery.status, 200);
    await waitFor(
      async () => (await project.events()).find((e) => e.id === "evt_flaky")?.status === "done",
      30_000,
      "evt_flaky to be done",
    );

    const json = await project.cli(["events", "show", "evt_flaky", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const shown = JSON.parse(json.stdout);
    assert.equal(shown.status, "done");
    assert.ok(Array.isArray(shown.attempts), "show --json has attempts as an array");
    assert.deepEqual(
      shown.attempts.map((a: Record<string, unknown>) => [a.attempt, a.outcome]),
      [[1, "error"], [2, "error"], [3, "ok"]],
    );
    for (const [i, a] of shown.attempts.entries()) {
      assert.equal(typeof a.duration_ms, "number");
      assert.ok(!Number.isNaN(Date.parse(a.started_at)), `started_at ${a.started_at}`);
      assert.match(a.output, new RegExp(`run ${i + 1} of evt_flaky`));
      assert.match(a.output, /looked at it/);
      if (i < 2) {
        assert.match(a.error, /upstream said no/);
        assert.doesNotMatch(a.error, /shop-test-secret/, "the error is scrubbed");
        assert.match(a.error, /\[redacted\]/);
      } else {
        assert.equal(a.error, null);
      }
    }
    assert.ok(
      Date.parse(shown.attempts[0].started_at) <= Date.parse(shown.attempts[1].started_at) &&
        Date.parse(shown.attempts[1].started_at) <= Date.parse(shown.attempts[2].started_at),
      "oldest first",
    );

    const list = (await project.events()).find((e) => e.id === "evt_flaky")!;
    assert.equal(list.attempts, 3, "events list --json keeps attempts as the count");

    const text = await project.cli(["events", "show", "evt_flaky"]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout, /#1 {2}\S+ {2}\d+ ms {2}error\n {4}error: Error: upstream said no/);
    assert.match(text.stdout, /#3 .* ms {2}ok\n/);
    assert.equal((text.stdout.match(/^ {2}#\d/gm) ?? []).length, 3);
    assert.doesNotMatch(text.stdout, /shop-test-secret/);
  } finally {
    await server.stop("SIGTERM");
    await project.remove();
  }
});

Deno.test("attempt outcomes tell a crash and a timeout from an error", async () => {
  const project = await daemonProject({
    timeout_ms: 1500,
    backoff_base_ms: 50,
    backoff_max_ms: 100,
  });
  const counter = project.path("runs");
  await project.handler(
    "rough.ts",
    `export default async (event, ctx) => {
      let n = 0;
      try { n = Number(await Deno.readTextFile(${JSON.stringify(counter)})); } catch {}
      await Deno.writeTextFile(${JSON.stringify(counter)}, String(n + 1));
      if (n === 0) Deno.exit(3);
      if (n === 1) await new Promise((r) => setTimeout(r, 60_000));
    };`,
  );
  const server = await project.start();
  try {
    assert.equal((await project.deliver(server, "evt_rough", "rough")).status, 200);
    await waitFor(
      async () => (await project.events()).find((e) => e.id === "evt_rough")?.status === "done",
      30_000,
      "evt_rough to be done",
    );
    const json = await project.cli(["events", "show", "evt_rough", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const attempts = JSON.parse(json.stdout).attempts;
    assert.deepEqual(
      attempts.map((a: Record<string, unknown>) => a.outcome),
      ["crashed", "timeout", "ok"],
    );
    assert.match(attempts[0].error, /exited with code 3/);
    assert.match(attempts[1].error, /timed out after 1500 ms/);
    assert.ok(attempts[1].duration_ms >= 1500, `timeout run took ${attempts[1].duration_ms} ms`);
  } finally {
    await server.stop("SIGTERM");
    await project.remove();
  }
});
