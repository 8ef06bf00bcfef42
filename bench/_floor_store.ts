/**
 * The design floor's store worker (`_floor_server.ts`): owns the `libsql` connection (WAL,
 * `synchronous=FULL`, as whd's store worker) and writes each group it is sent with whd's grouped
 * INSERT (`insertSql`, one prepared statement per group size) in one transaction, then answers.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import Database from "libsql";
import { insertSql } from "../src/inbox/inbox_sql.ts";
import { DEFAULT_DEDUPE_RETENTION_MS } from "../src/inbox/libsql_inbox.ts";

let db: Database.Database | undefined;
const statements = new Map<number, Database.Statement>();

self.onmessage = (e: MessageEvent<{ open: string } | { rows: number; args: unknown[] }>) => {
  const message = e.data;
  if ("open" in message) {
    db = new Database(message.open, { timeout: 5000 });
    db.exec("PRAGMA journal_mode = WAL");
    db.exec("PRAGMA synchronous = FULL");
    self.postMessage("open");
    return;
  }
  let insert = statements.get(message.rows);
  if (insert === undefined) {
    insert = db!.prepare(insertSql(message.rows, DEFAULT_DEDUPE_RETENTION_MS)).raw(true);
    statements.set(message.rows, insert);
  }
  db!.exec("BEGIN IMMEDIATE");
  insert.all(message.args);
  db!.exec("COMMIT");
  self.postMessage("committed");
};
