import assert from "node:assert/strict";
import { startAdminAwayFrom } from "../src/cli/serve.ts";
import type { AdminListener } from "../src/ops/admin.ts";

/** Admin listeners that report the given ports in turn, and record which were shut down. */
function listeners(ports: number[]) {
  const closed: number[] = [];
  let next = 0;
  const start = (): AdminListener => {
    const port = ports[next++];
    return { hostname: "127.0.0.1", port, shutdown: () => Promise.resolve(void closed.push(port)) };
  };
  return { start, closed, started: () => next };
}

Deno.test("admin port: a listener handed the webhook port is replaced by another, then closed", async () => {
  const l = listeners([8123, 41000]);
  const admin = await startAdminAwayFrom(8123, l.start);
  assert.equal(admin.port, 41000);
  assert.deepEqual(l.closed, [8123]);
});

Deno.test("admin port: when the second listener cannot start, the first is closed and the error is the caller's", async () => {
  const closed: number[] = [];
  let calls = 0;
  const start = (): AdminListener => {
    if (++calls === 2) throw new Error("cannot listen (admin)");
    return {
      hostname: "127.0.0.1",
      port: 8123,
      shutdown: () => Promise.resolve(void closed.push(8123)),
    };
  };
  await assert.rejects(startAdminAwayFrom(8123, start), /cannot listen \(admin\)/);
  assert.deepEqual(closed, [8123]);
});

Deno.test("admin port: any other port is kept as it is", async () => {
  const l = listeners([41000]);
  assert.equal((await startAdminAwayFrom(8123, l.start)).port, 41000);
  assert.equal(l.started(), 1);
  assert.deepEqual(l.closed, []);
});

Deno.test("admin port: a real listener on :0 never keeps the port the webhooks are about to use", async () => {
  // The race itself: a port just probed free (as the --workers supervisor does), then an admin
  // listener on :0. Whatever the system hands out, the admin listener must end elsewhere.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const servers: Deno.HttpServer[] = [];
  const start = (): AdminListener => {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("ok"),
    );
    servers.push(server);
    return { hostname: "127.0.0.1", port: server.addr.port, shutdown: () => server.shutdown() };
  };
  const admin = await startAdminAwayFrom(port, start);
  try {
    assert.notEqual(admin.port, port);
    const webhooks = Deno.listen({ hostname: "127.0.0.1", port });
    webhooks.close();
  } finally {
    await admin.shutdown();
  }
});
