/**
 * `whd events retry | replay | purge` as a user runs them, against a real libSQL file that
 * holds events in every state.
 */
import assert from "node:assert/strict";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import type { EventStatus, Inbox } from "../src/inbox/types.ts";
import { whd } from "./helpers/whd_process.ts";

const DAY = 86_400_000;

/** A project dir whose inbox holds one event per status named (ids are the statuses). */
async function seeded(statuses: EventStatus[], receivedAt = Date.now()) {
  const dir = await Deno.makeTempDir({ prefix: "whd_cli_events_" });
  await Deno.writeTextFile(
    `${dir}/whd.yaml`,
    `database:\n  url: file:${dir}/whd.db\nproviders:\n  github:\n    webhooks:\n      default: { path: /gh, signing_secret_env: G }\n`,
  );
  const inbox = await openInbox({ url: `file:${dir}/whd.db` });
  for (const status of statuses) {
    await inbox.accept({
      id: status,
      provider: "github",
      webhook: "default",
      type: "push",
      payload: "{}",
      receivedAt,
      source: "delivery",
    }, { status: status === "ignored" ? "ignored" : "pending" });
    if (status === "pending" || status === "ignored") continue;
    const [leased] = await inbox.claim({ owner: "t", limit: 1, leaseMs: 60_000, now: Date.now() });
    const key = { provider: "github", id: status };
    if (status === "done") await inbox.complete(key, "t", Date.now());
    if (status === "failed") await inbox.fail(key, "t", "boom", Date.now() + DAY, Date.now());
    if (status === "dead") await inbox.bury(key, "t", "boom", Date.now());
    if (status === "unhandled") await inbox.markUnhandled(key, "t", Date.now());
    assert.equal(leased.id, status);
  }
  return {
    dir,
    run: (...args: string[]) => whd([...args, "--config", `${dir}/whd.yaml`], { cwd: dir }),
    status: async (id: string) => {
      const reader: Inbox = await openInbox({ url: `file:${dir}/whd.db` });
      try {
        return (await reader.find(id, "github"))[0]?.status;
      } finally {
        reader.close();
      }
    },
    close: async () => {
      inbox.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("events retry --status dead re-queues every dead event and says which", async () => {
  const project = await seeded(["dead", "failed", "done"]);
  try {
    const result = await project.run("events", "retry", "--status", "dead");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /re-queued github dead\nre-queued 1 event\n/);
    assert.equal(await project.status("dead"), "pending");
    assert.equal(await project.status("failed"), "failed");
  } finally {
    await project.close();
  }
});

Deno.test("events retry ID re-queues a failed event; a done one is refused with a pointer to replay", async () => {
  const project = await seeded(["failed", "done"]);
  try {
    const retried = await project.run("events", "retry", "failed");
    assert.equal(retried.code, 0, retried.stderr);
    assert.equal(await project.status("failed"), "pending");

    const refused = await project.run("events", "retry", "done");
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /event done is done; only .* can be retried \(use `whd events replay`/,
    );
    assert.equal(await project.status("done"), "done");

    const neither = await project.run("events", "retry");
    assert.equal(neither.code, 2);
    assert.match(neither.stderr, /give an event id or --status/);
  } finally {
    await project.close();
  }
});

Deno.test("events replay runs a done event again; anything else is refused", async () => {
  const project = await seeded(["done", "dead"]);
  try {
    const replayed = await project.run("events", "replay", "done");
    assert.equal(replayed.code, 0, replayed.stderr);
    assert.match(replayed.stdout, /replaying done/);
    assert.equal(await project.status("done"), "pending");

    const refused = await project.run("events", "replay", "dead");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /only done events can be replayed/);
    assert.equal(await project.status("dead"), "dead");
  } finally {
    await project.close();
  }
});

Deno.test("events purge deletes old done and ignored events only", async () => {
  const project = await seeded(["done", "ignored", "failed"], Date.now() - 40 * DAY);
  try {
    const result = await project.run("events", "purge", "--older-than", "30d");
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /deleted 2 done or ignored events received before/);
    assert.equal(await project.status("done"), undefined);
    assert.equal(await project.status("ignored"), undefined);
    assert.equal(await project.status("failed"), "failed");

    const bad = await project.run("events", "purge", "--older-than", "soon");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /not a duration/);
  } finally {
    await project.close();
  }
});

Deno.test("an unknown event id names itself and how to look", async () => {
  const project = await seeded([]);
  try {
    const result = await project.run("events", "show", "evt_nope");
    assert.equal(result.code, 1);
    assert.match(result.stderr, /^whd: no event evt_nope: see `whd events list`\n$/);
  } finally {
    await project.close();
  }
});

Deno.test("a database auth token env var that is not set is a config error naming it, without listing anything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "whd_cli_events_" });
  try {
    await Deno.writeTextFile(
      `${dir}/whd.yaml`,
      `database:\n  url: libsql://user:pw@db.example.invalid/x\n  auth_token_env: WHD_TEST_DB_TOKEN\nproviders:\n  github:\n    webhooks:\n      default: { path: /gh, signing_secret_env: G }\n`,
    );
    const result = await whd(["events", "list", "--config", `${dir}/whd.yaml`], { cwd: dir });
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /database\.auth_token_env: environment variable WHD_TEST_DB_TOKEN is not set/,
    );
    assert.doesNotMatch(result.stderr, /pw@/);
    assert.equal(result.stdout, "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
