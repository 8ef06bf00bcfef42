/**
 * Shared fixtures of the inbox tests: events, a fresh database file, child processes.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { IncomingEvent } from "../../src/event.ts";
import {
  type LibsqlInbox,
  openInbox,
  type OpenInboxOptions,
} from "../../src/inbox/libsql_inbox.ts";

/** A fixed start time. */
export const T0 = 1_700_000_000_000;
/** The project's deno.json, for child processes. */
export const CONFIG = new URL("../../deno.json", import.meta.url).pathname;
/** The inbox module, for child processes to import. */
export const INBOX_MODULE = new URL("../../src/inbox/libsql_inbox.ts", import.meta.url).href;

/** A Stripe-like event with id `id`. */
export function ev(id: string, over: Partial<IncomingEvent> = {}): IncomingEvent {
  return {
    id,
    provider: "stripe",
    webhook: "payments",
    type: "charge.succeeded",
    payload: JSON.stringify({ id, object: "event" }),
    receivedAt: T0,
    source: "delivery",
    ...over,
  };
}

/** Makes a temp dir, runs `fn` with a database URL in it, removes the dir. */
export async function withDir(fn: (ctx: { dir: string; url: string }) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "whd_inbox_" });
  try {
    await fn({ dir, url: `file:${dir}/whd.db` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Opens an inbox on a fresh file, runs `fn`, closes it and removes everything. */
export function withInbox(
  fn: (inbox: LibsqlInbox, ctx: { dir: string; url: string }) => Promise<void>,
  options: Partial<OpenInboxOptions> = {},
): Promise<void> {
  return withDir(async (ctx) => {
    const inbox = await openInbox({ url: ctx.url, ...options });
    try {
      await fn(inbox, ctx);
    } finally {
      inbox.close();
      await inbox.whenClosed();
    }
  });
}

/** Writes `code` to a file in `dir` and starts it as a Deno child process with piped output. */
export async function spawnChild(dir: string, code: string): Promise<Deno.ChildProcess> {
  const file = `${dir}/child_${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(file, code);
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--config", CONFIG, file],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Runs `code` as a child process; asserts it exits 0 and returns its stdout. */
export async function runChild(dir: string, code: string): Promise<string> {
  const out = await (await spawnChild(dir, code)).output();
  assert.equal(out.code, 0, `child failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}
