import assert from "node:assert/strict";
import { join } from "node:path";
import { openInbox } from "../../src/inbox/libsql_inbox.ts";
import { handlersDir, incoming, waitFor } from "./_helpers.ts";

const CHILD = new URL("./_crash_child.ts", import.meta.url).pathname;

async function lines(file: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(file)).trim().split("\n").filter(Boolean);
  } catch {
    return [];
  }
}

Deno.test("crash: kill -9 mid-handler, restart, the event completes exactly once more", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "whd_crash_" });
  const out = join(tmp, "runs.txt");
  const url = `file:${tmp}/whd.db`;
  // The first attempt hangs (the process is killed there); later attempts finish.
  const dir = await handlersDir({
    "stripe/invoice.paid.ts": `export default async (event, ctx) => {
      await Deno.writeTextFile(${
      JSON.stringify(out)
    }, "start " + ctx.attempt + "\\n", { append: true });
      if (ctx.attempt === 1) await new Promise(() => {});
      await Deno.writeTextFile(${
      JSON.stringify(out)
    }, "done " + ctx.attempt + "\\n", { append: true });
    };`,
  });
  const inbox = await openInbox({ url });
  await inbox.accept(incoming("evt_k", "invoice.paid"));

  const spawn = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD, url, dir],
      stdout: "null",
      stderr: "null",
    }).spawn();

  const first = spawn();
  await waitFor(async () => (await lines(out)).includes("start 1"), 30_000, "first attempt");
  first.kill("SIGKILL");
  const status = await first.status;
  assert.equal(status.signal, "SIGKILL");
  assert.equal((await inbox.find("evt_k", "stripe"))[0].status, "running", "left leased");

  const second = spawn();
  try {
    await waitFor(
      async () => (await inbox.find("evt_k", "stripe"))[0].status === "done",
      30_000,
      "done after restart",
    );
  } finally {
    second.kill("SIGKILL");
    await second.status;
  }
  const row = (await inbox.find("evt_k", "stripe"))[0];
  inbox.close();
  assert.equal(row.attempts, 2);
  assert.deepEqual(await lines(out), ["start 1", "start 2", "done 2"]);
});
