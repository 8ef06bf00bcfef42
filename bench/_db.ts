/**
 * The inbox file as the bench sees it from outside: row counts through the `sqlite3` CLI (a
 * separate reader, as an operator would query it; WAL lets it read while whd writes), the bytes
 * a file takes, and seeding a pending backlog through the inbox's own `accept`.
 *
 * @module
 */
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import { eventBody } from "./_requests.ts";

/** Runs one query with `sqlite3` and returns its output lines' first numbers. */
export async function sqliteNumbers(dbFile: string, sql: string): Promise<number[]> {
  const output = await new Deno.Command("sqlite3", {
    args: ["-cmd", ".timeout 5000", dbFile, sql],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`sqlite3 ${dbFile} "${sql}": ${new TextDecoder().decode(output.stderr)}`);
  }
  return new TextDecoder().decode(output.stdout).trim().split(/\s+/).filter((s) => s !== "")
    .map(Number);
}

/** Rows in the events table whose id starts with `idPrefix` (letters, digits and `_` only). */
export async function countRows(dbFile: string, idPrefix: string): Promise<number> {
  if (!/^\w+$/.test(idPrefix)) throw new Error(`id prefix ${idPrefix}: letters, digits, _ only`);
  // substr, not LIKE: `_` is a LIKE wildcard.
  return (await sqliteNumbers(
    dbFile,
    `SELECT count(*) FROM events WHERE substr(id, 1, ${idPrefix.length}) = '${idPrefix}'`,
  ))[0];
}

/** Rows whose handler ran to success. */
export async function countDone(dbFile: string): Promise<number> {
  return (await sqliteNumbers(dbFile, "SELECT count(*) FROM events WHERE status = 'done'"))[0];
}

/** Rows per status, e.g. `{ done: 1990, failed: 10 }`. */
export async function countByStatus(dbFile: string): Promise<Record<string, number>> {
  const output = await new Deno.Command("sqlite3", {
    args: ["-cmd", ".timeout 5000", dbFile, "SELECT status, count(*) FROM events GROUP BY status"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`sqlite3 ${dbFile}: ${new TextDecoder().decode(output.stderr)}`);
  }
  const counts: Record<string, number> = {};
  for (const line of new TextDecoder().decode(output.stdout).trim().split("\n")) {
    const [status, count] = line.split("|");
    if (status) counts[status] = Number(count);
  }
  return counts;
}

/** Bytes of the database file plus its WAL (0 for a missing file). */
export async function fileBytes(dbFile: string): Promise<number> {
  let bytes = 0;
  for (const file of [dbFile, `${dbFile}-wal`]) {
    bytes += await Deno.stat(file).then((s) => s.size, () => 0);
  }
  return bytes;
}

/**
 * Stores `count` pending Stripe `payment_intent.succeeded` events (about 1.7 KB each) in
 * `dbFile` through the inbox's `accept`, 5,000 at a time so group commit writes big batches.
 */
export async function seedBacklog(dbFile: string, count: number, now: number): Promise<void> {
  const inbox = await openInbox({ url: `file:${dbFile}` });
  try {
    for (let start = 0; start < count; start += 5_000) {
      const end = Math.min(count, start + 5_000);
      const accepts = [];
      for (let i = start; i < end; i++) {
        const id = `evt_seed_${String(i).padStart(8, "0")}`;
        accepts.push(inbox.accept({
          id,
          provider: "stripe",
          webhook: "default",
          type: "payment_intent.succeeded",
          payload: eventBody(id, Math.floor(now / 1000)),
          receivedAt: now,
          source: "delivery",
        }));
      }
      await Promise.all(accepts);
    }
  } finally {
    inbox.close();
  }
}
