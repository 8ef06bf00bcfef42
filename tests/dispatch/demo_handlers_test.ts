/**
 * `deno task start` as a user runs it on a fresh machine: the example config and the shipped
 * handlers (one of them imports `npm:ms@2.1.3`, which whd does not depend on) served from a
 * copy with an empty Deno cache and no node_modules anywhere above them. Every handler loads
 * (the npm package is fetched into Deno's cache), and the npm example runs on a delivery.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { REPO, startWhd, whd } from "../helpers/whd_process.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("deno task start on a fresh machine serves every example handler, the npm one included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_demo_" });
  const denoDir = await Deno.makeTempDir({ prefix: "whd_demo_deno_dir_" });
  const copy = await new Deno.Command("cp", {
    args: ["-r", `${REPO}config`, `${REPO}handlers`, dir],
  }).output();
  assert.equal(copy.code, 0);
  const options = { cwd: dir, envFile: join(dir, "config/demo.env"), env: { DENO_DIR: denoDir } };
  const server = await startWhd(["--config", "config/whd.yaml"], options);
  try {
    const listed = await whd(["handlers", "--config", "config/whd.yaml"], options);
    assert.equal(listed.code, 0, listed.stdout + listed.stderr);
    assert.match(listed.stdout, /customer\.subscription\.trial_will_end\.ts/);

    const created = 1_790_000_000;
    const body = {
      id: "evt_demo_trial",
      object: "event",
      type: "customer.subscription.trial_will_end",
      created,
      livemode: false,
      data: {
        object: {
          id: "sub_demo",
          object: "subscription",
          customer: "cus_demo",
          trial_end: created + 3 * 86_400,
        },
      },
    };
    const sent = await whd([
      "send",
      "--config",
      "config/whd.yaml",
      "--provider",
      "stripe",
      "--data",
      JSON.stringify(body),
      "--url",
      `${server.url}/webhooks/stripe`,
    ], options);
    assert.equal(sent.code, 0, sent.stdout + sent.stderr);
    assert.match(sent.stdout, /→ 200/);

    const line = await waitFor(
      () =>
        Promise.resolve(
          server.logs().split("\n").find((l) => l.includes("trial ends soon")),
        ),
      60_000,
      "the npm example handler's log line",
    );
    assert.match(line, /ends_in[=":]+3 days/);
    assert.doesNotMatch(server.logs(), /failed to load/);
  } finally {
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.logs());
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
});
