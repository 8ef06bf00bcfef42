import assert from "node:assert/strict";
import { fromReply } from "../../src/dispatch/handler_reply.ts";
import { createHostPool } from "../../src/dispatch/module_runner.ts";
import { runExecutable } from "../../src/dispatch/exec_runner.ts";
import { loadRegistry } from "../../src/dispatch/registry.ts";
import { memoryLogger } from "../../src/ops/log.ts";
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
