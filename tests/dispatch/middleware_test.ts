/**
 * Middleware through the real daemon: `handlers/_middleware.ts` and
 * `handlers/<provider>/_middleware.ts` wrap every module handler, outermost first; `next()`
 * resolves to the inner return value; not calling it skips the handler (done); a throw fails
 * the run; middleware can shape a sync reply.
 */
import assert from "node:assert/strict";
import { daemonProject } from "./_daemon.ts";
import { appendLine, lines, waitFor, writeFile } from "./_helpers.ts";

Deno.test("middleware runs outermost first around the handler, and can skip or fail it", async () => {
  const project = await daemonProject({ backoff_base_ms: 600_000 });
  const trace = project.path("trace");
  const log = (what: string) => appendLine(trace, `event.id + " ${what}"`);
  await writeFile(
    project.dir,
    "handlers/_middleware.ts",
    `export default async (event, ctx, next) => {
      ${log("outer>")}
      if (event.type === "explode") throw new Error("outer middleware refused " + event.id);
      const result = await next();
      ${log("<outer")}
      return result;
    };`,
  );
  await project.handler(
    "_middleware.ts",
    `export default async (event, ctx, next) => {
      ${log("inner>")}
      if (event.type === "skipme") return;
      const result = await next();
      ${log("<inner")}
      if (result instanceof Response) {
        const text = await result.text();
        return new Response(text + " (wrapped)", { status: result.status, headers: { "x-mw": "inner" } });
      }
      return result;
    };`,
  );
  const handler = `export default async (event) => { ${log("handler")} };`;
  await project.handler("work.ts", handler);
  await project.handler("skipme.ts", handler);
  await project.handler("explode.ts", handler);
  await project.handler(
    "answer.ts",
    `export default async (event) => { ${
      log("handler")
    }; return new Response("hi " + event.id, { status: 202 }); };`,
  );
  const server = await project.start();
  try {
    for (const [id, type] of [["evt_w", "work"], ["evt_s", "skipme"], ["evt_x", "explode"]]) {
      assert.equal((await project.deliver(server, id, type)).status, 200);
    }
    const settled = await waitFor(
      async () => {
        const events = await project.events();
        const status = (id: string) => events.find((e) => e.id === id)?.status;
        return status("evt_w") === "done" && status("evt_s") === "done" &&
          status("evt_x") === "failed" && events;
      },
      30_000,
      "the three events to settle",
    );
    assert.match(
      settled.find((e) => e.id === "evt_x")!.last_error!,
      /outer middleware refused evt_x/,
    );

    const of = async (id: string) =>
      (await lines(trace)).filter((l) => l.startsWith(id + " ")).map((l) => l.slice(id.length + 1));
    assert.deepEqual(await of("evt_w"), ["outer>", "inner>", "handler", "<inner", "<outer"]);
    assert.deepEqual(await of("evt_s"), ["outer>", "inner>", "<outer"], "handler skipped");
    assert.deepEqual(await of("evt_x"), ["outer>"], "a throw stops the chain");

    // In a sync webhook, middleware sees the handler's Response and can replace it.
    const reply = await project.deliver(server, "evt_a", "answer", true);
    assert.equal(reply.status, 202);
    assert.equal(reply.text, "hi evt_a (wrapped)");
    assert.equal(reply.headers.get("x-mw"), "inner");
  } finally {
    await server.stop("SIGTERM");
    await project.remove();
  }
});
