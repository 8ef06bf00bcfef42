/**
 * Canary secrets through every output path of a real whd: the daemon's log (text and JSON),
 * executable and module handler output, the failure text stored as `last_error`, and the CLI
 * (`events list`, `events show`, their `--json` forms, `check`, `handlers`).
 */
import assert from "node:assert/strict";
import { createClient } from "@libsql/client";
import { CANARY_VALUES, leakIn, project } from "./_project.ts";

const EXEC_LEAK = `#!/bin/sh
echo "key $STRIPE_SECRET_KEY"
printf '{"shop":"%s"}\\n' "$SHOP_SECRET"
printf '%s:' "$STRIPE_SECRET_KEY" | base64
printf '%s' "$LIBSQL_AUTH_TOKEN" | od -An -tx1 | tr -d ' \\n'; echo
echo "webhook secrets $STRIPE_WEBHOOK_SECRET" >&2
echo "failed: $STRIPE_SECRET_KEY $SHOP_SECRET" >&2
exit 1
`;

const MODULE_LEAK = `export default (event, ctx) => {
  const key = ctx.env.STRIPE_SECRET_KEY;
  const shop = ctx.env.SHOP_SECRET;
  console.log("key", key, JSON.stringify({ shop }));
  console.error(encodeURIComponent(shop));
  ctx.log.info("leaking", { key, basic: btoa("user:" + key), token: ctx.env.LIBSQL_AUTH_TOKEN });
  throw new Error("refused with " + key + " and " + JSON.stringify({ shop }));
};
`;

for (const format of ["json", "text"]) {
  Deno.test(`secrets (${format} log): no canary in logs, handler output, last_error or CLI output`, async () => {
    const p = await project({ log: { format } });
    try {
      await p.handler("leak.exec.sh", EXEC_LEAK);
      await p.handler("leak.module.ts", MODULE_LEAK);
      const server = await p.start();
      let stopped = false;
      try {
        assert.equal(await p.deliver(server, "evt_exec", "leak.exec"), 200);
        assert.equal(await p.deliver(server, "evt_module", "leak.module"), 200);
        const rows = await p.waitFor(["evt_exec", "evt_module"], ["dead"]);
        for (const row of rows) assert.match(row.last_error ?? "", /\[redacted\]/, row.id);
        const status = await server.stop();
        stopped = true;
        assert.equal(status.code, 0);
      } finally {
        if (!stopped) await server.stop();
      }
      const logs = server.logs();
      // The handlers did print their secrets: the scrubber, not silence, kept them out.
      assert.ok((logs.match(/\[redacted\]/g) ?? []).length >= 8, logs);
      assert.equal(leakIn(logs), undefined, `daemon log leaks: ${leakIn(logs)}`);

      const outputs: string[] = [];
      for (
        const args of [
          ["events", "list"],
          ["events", "list", "--json"],
          ["events", "show", "evt_exec"],
          ["events", "show", "evt_exec", "--json"],
          ["events", "show", "evt_module"],
          ["events", "show", "evt_module", "--json"],
          ["check"],
          ["handlers"],
        ]
      ) {
        const run = await p.cli(...args);
        assert.equal(run.code, 0, `${args.join(" ")}: ${run.stderr}`);
        const leak = leakIn(run.stdout + run.stderr);
        assert.equal(leak, undefined, `whd ${args.join(" ")} leaks ${leak}:\n${run.stdout}`);
        outputs.push(run.stdout);
      }
      assert.match(outputs[2], /last_error\s+exit code 1: failed: \[redacted\] \[redacted\]/);

      // What the dispatcher stored for the executable handler is clean already.
      const db = createClient({ url: `file:${p.path("data/whd.db")}` });
      const stored = await db.execute("SELECT id, last_error FROM events WHERE id = 'evt_exec'");
      db.close();
      const lastError = String(stored.rows[0].last_error);
      assert.equal(leakIn(lastError), undefined, lastError);
      assert.ok(CANARY_VALUES.length >= 5);
    } finally {
      await p.remove();
    }
  });
}

Deno.test("secrets: a secret too short to scrub is named in a warning, never shown", async () => {
  const p = await project();
  try {
    p.env.SHOP_SECRET = "tiny7ch";
    const run = await p.cli("check");
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /SHOP_SECRET holds a secret shorter than 8 characters/);
    assert.ok(!(run.stdout + run.stderr).includes("tiny7ch"));
  } finally {
    await p.remove();
  }
});
