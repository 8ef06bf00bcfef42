/**
 * Ordering by object through the real daemon: with `order_key`, events about one object never
 * run at the same time and run in the order they were received; other objects run in parallel.
 */
import assert from "node:assert/strict";
import { daemonProject } from "./_daemon.ts";
import { appendLine, lines, waitFor } from "./_helpers.ts";

Deno.test("50 events on 5 keys with random handler delays never overlap within a key and keep order", async () => {
  const project = await daemonProject({ concurrency: 4 }, { order_key: "/data/obj" });
  const trace = project.path("trace");
  await project.handler(
    "touch.ts",
    `export default async (event) => {
      const { obj, seq } = event.payload.data;
      ${appendLine(trace, "`start ${obj} ${seq}`")}
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 40)));
      ${appendLine(trace, "`end ${obj} ${seq}`")}
    };`,
  );
  const server = await project.start();
  try {
    const keys = ["a", "b", "c", "d", "e"];
    // Received in seq order; keys interleaved at random.
    const random = (() => {
      let x = 12345;
      return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    })();
    const sent: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
    for (let seq = 0; seq < 50; seq++) {
      const obj = keys[Math.floor(random() * keys.length)];
      sent[obj].push(seq);
      const delivery = await project.deliver(server, `evt_${seq}`, "touch", false, { obj, seq });
      assert.equal(delivery.status, 200);
    }
    await waitFor(
      async () => (await lines(trace)).filter((l) => l.startsWith("end ")).length === 50,
      60_000,
      "all 50 runs",
    );
    const trail = await lines(trace);
    let running = 0;
    let most = 0;
    const busy = new Map<string, number>();
    const ran: Record<string, number[]> = Object.fromEntries(keys.map((k) => [k, []]));
    for (const line of trail) {
      const [what, obj, seqText] = line.split(" ");
      const seq = Number(seqText);
      if (what === "start") {
        assert.equal(busy.get(obj), undefined, `${obj} ${seq} started while ${busy.get(obj)} ran`);
        busy.set(obj, seq);
        ran[obj].push(seq);
        most = Math.max(most, ++running);
      } else {
        assert.equal(busy.get(obj), seq);
        busy.delete(obj);
        running--;
      }
    }
    assert.deepEqual(ran, sent, "each key's events ran once each, in the order received");
    assert.ok(most > 1, `different keys ran in parallel (at most ${most} at once)`);
    console.log(
      `keys ${keys.map((k) => `${k}:${sent[k].length}`).join(" ")}; most at once ${most}`,
    );
  } finally {
    await server.stop("SIGTERM");
    await project.remove();
  }
});

Deno.test("a mode: sync delivery is not held by order_key, but once stored it counts for its key", async () => {
  const project = await daemonProject({ concurrency: 4 }, { order_key: "/data/obj" }, {
    order_key: "/data/obj",
  });
  const trace = project.path("trace");
  const gate = project.path("gate");
  await project.handler(
    "step.ts",
    `export default async (event) => {
      ${appendLine(trace, "`start ${event.id}`")}
      if (event.id === "evt_a") {
        while (true) {
          try { await Deno.stat(${JSON.stringify(gate)}); break; } catch { /* not yet */ }
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      ${appendLine(trace, "`end ${event.id}`")}
    };`,
  );
  const server = await project.start();
  try {
    const k1 = { obj: "k1" };
    assert.equal((await project.deliver(server, "evt_a", "step", false, k1)).status, 200);
    await waitFor(async () => (await lines(trace)).includes("start evt_a"), 30_000, "a to start");

    // The sync delivery of the same object runs at once, while evt_a is still running.
    const sync = await project.deliver(server, "evt_b", "step", true, k1);
    assert.equal(sync.status, 200, sync.text);
    assert.deepEqual(await lines(trace), ["start evt_a", "start evt_b", "end evt_b"]);

    // A later async event of the object waits for evt_a (ahead of it and running); one of
    // another object, received after it, runs: claims take the oldest due events first, so
    // evt_c was passed over, not merely not reached yet.
    assert.equal((await project.deliver(server, "evt_c", "step", false, k1)).status, 200);
    assert.equal(
      (await project.deliver(server, "evt_d", "step", false, { obj: "k2" })).status,
      200,
    );
    await waitFor(async () => (await lines(trace)).includes("end evt_d"), 30_000, "d to run");
    assert.ok(!(await lines(trace)).includes("start evt_c"), "evt_c waits for evt_a");
    await Deno.writeTextFile(gate, "");
    await waitFor(async () => (await lines(trace)).includes("end evt_c"), 30_000, "c to run");
    assert.deepEqual((await lines(trace)).slice(-3), ["end evt_a", "start evt_c", "end evt_c"]);
  } finally {
    await server.stop("SIGTERM");
    await project.remove();
  }
});
