import assert from "node:assert/strict";
import { fromReply } from "../../src/dispatch/handler_reply.ts";
import { createHostPool } from "../../src/dispatch/module_runner.ts";
import { runExecutable } from "../../src/dispatch/exec_runner.ts";
import { loadRegistry } from "../../src/dispatch/registry.ts";
import { memoryLogger } from "../../src/ops/log.ts";
import { startFakeStripe, thinNotification } from "../fakes/stripe_api.ts";
import { PUSH_EVENT, testEvent } from "./_helpers.ts";

const HANDLERS = new URL("../../handlers", import.meta.url).pathname;

Deno.test("examples: every shipped handler loads and logs what it received", async () => {
  const registry = await loadRegistry(HANDLERS);
  assert.deepEqual(registry.errors, []);
  const types = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "checkout.session.completed",
    "customer.subscription.updated",
    "invoice.paid",
    "invoice.payment_failed",
  ];
  const pool = createHostPool();
  for (const type of types) {
    const handler = registry.resolve("stripe", type);
    assert.ok(handler?.code, `a handler for ${type}`);
    const log = memoryLogger();
    const event = testEvent({
      id: `evt_${type}`,
      type,
      payload: { id: `evt_${type}`, type, data: { object: { id: "obj_1", customer: "cus_1" } } },
    });
    const result = await pool.run({
      code: handler.code,
      event,
      attempt: 1,
      env: {},
      timeoutMs: 5000,
      log,
    });
    assert.deepEqual(result, { ok: true }, type);
    const line = JSON.parse(log.lines[0]);
    assert.equal(line.event_id, `evt_${type}`);
    assert.equal(line.type, type);
  }

  // handlers/stripe/_middleware.ts skips test-mode events when asked to.
  const paid = registry.resolve("stripe", "invoice.paid")!;
  const skipped = memoryLogger();
  const skip = await pool.run({
    code: paid.code!,
    event: testEvent({ id: "evt_test", type: "invoice.paid", payload: { livemode: false } }),
    attempt: 1,
    env: { WHD_SKIP_STRIPE_TEST_EVENTS: "1" },
    timeoutMs: 5000,
    log: skipped,
  });
  assert.deepEqual(skip, { ok: true });
  assert.deepEqual(skipped.lines.map((l) => JSON.parse(l).msg), [
    "test-mode event skipped",
    "handler finished",
  ]);

  // handlers/stripe/customer.subscription.trial_will_end.ts formats with npm:ms@2.1.3, which
  // whd does not depend on (under deno test it loads from Deno's npm cache).
  const trial = registry.resolve("stripe", "customer.subscription.trial_will_end");
  assert.equal(trial?.name, "customer.subscription.trial_will_end.ts");
  const trialLog = memoryLogger();
  const trialRun = await pool.run({
    code: trial!.code!,
    event: testEvent({
      id: "evt_trial",
      type: "customer.subscription.trial_will_end",
      payload: {
        id: "evt_trial",
        created: 1_790_000_000,
        data: { object: { id: "sub_1", customer: "cus_1", trial_end: 1_790_000_000 + 3 * 86_400 } },
      },
    }),
    attempt: 1,
    env: {},
    timeoutMs: 5000,
    log: trialLog,
  });
  assert.deepEqual(trialRun, { ok: true });
  const trialLine = JSON.parse(trialLog.lines[0]);
  assert.equal(trialLine.msg, "trial ends soon");
  assert.equal(trialLine.ends_in, "3 days");
  assert.equal(trialLine.customer, "cus_1");

  // handlers/stripe/v1.billing.meter.error_report_triggered.ts fetches the thin event's full
  // event and meter through ctx.stripe (a fake Stripe API here).
  const fake = await startFakeStripe({ keys: ["sk_test_examples"] });
  try {
    fake.addObject("/v1/billing/meters/mtr_1", {
      id: "mtr_1",
      object: "billing.meter",
      display_name: "API calls",
    });
    const thin = fake.addV2Event({
      type: "v1.billing.meter.error_report_triggered",
      created: "2026-11-27T08:00:00.000Z",
      related_object: { id: "mtr_1", type: "billing.meter", url: "/v1/billing/meters/mtr_1" },
      data: {
        developer_message_summary: "2 meter events had no customer",
        reason: { error_count: 2, error_types: [] },
        validation_start: "2026-11-27T07:00:00.000Z",
        validation_end: "2026-11-27T08:00:00.000Z",
      },
    });
    const meterHandler = registry.resolve("stripe", thin.type);
    assert.equal(meterHandler?.name, `${thin.type}.ts`);
    const event = testEvent({ id: thin.id, type: thin.type, payload: thinNotification(thin) });
    const meterLog = memoryLogger();
    const meterRun = await pool.run({
      code: meterHandler!.code!,
      event,
      attempt: 1,
      env: {},
      timeoutMs: 5000,
      log: meterLog,
      stripe: { apiKey: "sk_test_examples", apiBase: fake.url },
    });
    assert.deepEqual(meterRun, { ok: true });
    const meterLine = JSON.parse(meterLog.lines[0]);
    assert.equal(meterLine.msg, "meter error report");
    assert.equal(meterLine.meter_name, "API calls");
    assert.equal(meterLine.errors, 2);
    assert.equal(meterLine.summary, "2 meter events had no customer");

    // Without api_key_env there is no ctx.stripe: the run fails saying what to add.
    const without = await pool.run({
      code: meterHandler!.code!,
      event,
      attempt: 1,
      env: {},
      timeoutMs: 5000,
      log: memoryLogger(),
    });
    assert.equal(without.ok, false);
    assert.match(String((without as { error?: string }).error), /add api_key_env/);
  } finally {
    await fake.close();
  }

  const slash = registry.resolve("slack", "slash_command");
  assert.ok(slash?.code, "a handler for slack slash_command");
  const reply = await pool.run({
    code: slash.code,
    event: testEvent({
      id: "trig_1",
      provider: "slack",
      type: "slash_command",
      payload: { command: "/whd", text: "status", user_name: "ada" },
    }),
    attempt: 1,
    env: {},
    timeoutMs: 5000,
    log: memoryLogger(),
  });
  assert.equal(reply.ok, true);
  const response = fromReply(reply.reply!);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), {
    response_type: "ephemeral",
    text: "/whd status received, ada.",
  });
  await pool.close();

  const push = registry.resolve("github", "push");
  assert.equal(push?.kind, "exec");
  const result = await runExecutable({
    path: push!.path,
    event: PUSH_EVENT,
    attempt: 1,
    timeoutMs: 5000,
    log: memoryLogger(),
  });
  assert.equal(result.ok, true);
  assert.match(
    result.stdout,
    /^push d-1 to refs\/heads\/main \(attempt 1, webhook repo, \d+ bytes\)/,
  );
});
