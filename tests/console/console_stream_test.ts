/**
 * Live updates (`GET /api/stream`) against a real `whd serve`: a `change` event with the counts
 * arrives when a delivery is stored and again when its handler finished, without polling; the
 * number of streams is capped (429 beyond); and `whd serve` still exits promptly on SIGTERM
 * with streams open, ending them.
 */
import assert from "node:assert/strict";
import { consoleProject } from "./_console.ts";

/** Reads server-sent events from a response body. */
function events(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  return {
    /** The next `change` event's data, or null when the stream ended. */
    async next(): Promise<Record<string, unknown> | null> {
      while (true) {
        const end = buffer.indexOf("\n\n");
        if (end >= 0) {
          const frame = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = /^data: (.*)$/m.exec(frame);
          if (/^event: change$/m.test(frame) && data) return JSON.parse(data[1]);
          continue;
        }
        const { done, value } = await reader.read();
        if (done) return null;
        buffer += value;
      }
    },
    cancel: () => reader.cancel(),
  };
}

Deno.test("console stream: change events follow the store; capped; whd exits promptly on SIGTERM with streams open", async () => {
  const project = await consoleProject();
  try {
    const c = await project.start();
    let stopped = false;
    try {
      const response = await fetch(`${c.admin}/api/stream`);
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
      assert.ok(response.headers.get("content-security-policy"));
      const stream = events(response);
      // The first change says where the store stands.
      const first = await stream.next();
      assert.deepEqual((first as { counts: Record<string, number> }).counts.total, 0);
      assert.deepEqual((first as { newest: unknown }).newest, {
        received_at: null,
        updated_at: (first as { newest: { updated_at: number } }).newest.updated_at,
      });

      // A delivery and its handler's outcome reach the open stream.
      assert.equal(await c.shop("ord_live", "order.created"), 200);
      let change;
      do {
        change = await stream.next() as {
          counts: Record<string, number>;
          newest: { received_at: number | null };
        };
        assert.ok(change, "the stream ended");
      } while (change.counts.done !== 1);
      assert.equal(change.counts.total, 1);
      const [stored] = (await c.get("/api/events")).body.events;
      assert.equal(change.newest.received_at, stored.received_at);

      // 16 streams at most; the 17th is refused with 429 and a message.
      const more: Response[] = [];
      for (let i = 0; i < 15; i++) {
        const r = await fetch(`${c.admin}/api/stream`);
        assert.equal(r.status, 200, `stream ${i + 2}`);
        more.push(r);
      }
      const refused = await fetch(`${c.admin}/api/stream`);
      assert.equal(refused.status, 429);
      assert.equal((await refused.json()).error, "too_many_streams");
      // A closed stream frees its place.
      await more.pop()!.body!.cancel();
      let reopened: Response | undefined;
      for (let i = 0; i < 50 && reopened === undefined; i++) {
        const r = await fetch(`${c.admin}/api/stream`);
        if (r.status === 200) reopened = r;
        else {
          await r.body?.cancel();
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
      assert.ok(reopened, "a cancelled stream's place was not freed");
      more.push(reopened);

      // SIGTERM with 16 streams open: whd ends them and exits 0 well within its grace.
      c.server.child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const exited = await Promise.race([
        c.server.child.status.then(() => true),
        new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), 10_000)),
      ]);
      clearTimeout(timer);
      assert.ok(exited, "whd serve did not exit within 10 s of SIGTERM with streams open");
      const status = await c.server.stop("SIGTERM");
      stopped = true;
      assert.equal(status.code, 0, c.server.logs());
      assert.equal(await stream.next(), null);
      for (const r of more) await r.body?.cancel().catch(() => {});
      assert.match(c.server.logs(), /"msg":"stopped"/);
    } finally {
      if (!stopped) await c.server.stop("SIGKILL");
    }
  } finally {
    await project.remove();
  }
});
