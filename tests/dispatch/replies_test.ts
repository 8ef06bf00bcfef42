/**
 * Replies from sync handlers through the real daemon: a `mode: sync` handler's `Response`
 * reaches the HTTP client (status, headers, body); no Response keeps whd's usual answer; a
 * throw, or a body over the limit, answers 500; async webhooks ignore a returned Response.
 */
import assert from "node:assert/strict";
import { daemonProject } from "./_daemon.ts";
import { waitFor } from "./_helpers.ts";

Deno.test("a sync handler's Response is the delivery's reply, sent once the event is done", async () => {
  const project = await daemonProject({ backoff_base_ms: 600_000 });
  await project.handler(
    "slash.ts",
    `export default (event) => new Response(
      JSON.stringify({ response_type: "ephemeral", text: "got " + event.id }),
      { status: 201, headers: { "content-type": "application/json", "x-handled-by": "slash" } },
    );`,
  );
  await project.handler(
    "bytes.ts",
    `export default () => new Response(new Uint8Array([0, 1, 2, 255]), {
      status: 202, headers: { "content-type": "application/octet-stream" },
    });`,
  );
  await project.handler("quiet.ts", `export default () => {};`);
  await project.handler("boom.ts", `export default () => { throw new Error("no"); };`);
  await project.handler(
    "huge.ts",
    `export default () => new Response("x".repeat(70_000));`,
  );
  const server = await project.start();
  try {
    const slash = await project.deliver(server, "evt_slash", "slash", true);
    assert.equal(slash.status, 201);
    assert.equal(slash.headers.get("x-handled-by"), "slash");
    assert.equal(slash.headers.get("content-type"), "application/json");
    assert.deepEqual(slash.body, { response_type: "ephemeral", text: "got evt_slash" });
    const shown = JSON.parse((await project.cli(["events", "show", "evt_slash", "--json"])).stdout);
    assert.equal(shown.status, "done", "durable and done before the reply");

    const response = await fetchRaw(project, server, "evt_bytes", "bytes");
    assert.equal(response.status, 202);
    assert.deepEqual([...response.bytes], [0, 1, 2, 255]);

    const quiet = await project.deliver(server, "evt_quiet", "quiet", true);
    assert.equal(quiet.status, 200);
    assert.deepEqual(quiet.body, { received: true });

    const boom = await project.deliver(server, "evt_boom", "boom", true);
    assert.equal(boom.status, 500);
    assert.equal(boom.body.error, "handler_failed");

    const huge = await project.deliver(server, "evt_huge", "huge", true);
    assert.equal(huge.status, 500);
    const hugeShown = JSON.parse(
      (await project.cli(["events", "show", "evt_huge", "--json"])).stdout,
    );
    assert.match(hugeShown.last_error, /larger than 65536 bytes/);

    // The same handler behind an async webhook: the usual answer, the Response is ignored.
    const async = await project.deliver(server, "evt_async_slash", "slash", false);
    assert.equal(async.status, 200);
    assert.deepEqual(async.body, { received: true });
    await waitFor(
      async () =>
        (await project.events()).find((e) => e.id === "evt_async_slash")?.status === "done",
      30_000,
      "the async run",
    );
  } finally {
    await server.stop("SIGTERM");
    await project.remove();
  }
});

/** A signed sync delivery whose reply body is read as bytes. */
async function fetchRaw(
  project: Awaited<ReturnType<typeof daemonProject>>,
  server: { url: string },
  id: string,
  type: string,
): Promise<{ status: number; bytes: Uint8Array }> {
  const signed = await project.signed(id, type, true);
  const response = await fetch(`${server.url}${signed.path}`, {
    method: "POST",
    headers: signed.headers,
    body: signed.body,
  });
  return { status: response.status, bytes: new Uint8Array(await response.arrayBuffer()) };
}
