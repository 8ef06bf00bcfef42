/**
 * The design floor for `deno task bench`: the least work whd's design does for a delivery, and
 * nothing else. `Deno.serve`; the body read once; Stripe's HMAC-SHA256 with the key's inner and
 * outer states prepared once (as whd's `HmacKey` does) and a constant-time compare; `JSON.parse`;
 * then the event written by whd's own grouped INSERT in a store worker (WAL, `synchronous=FULL`,
 * `_floor_store.ts`), and the 200 only once its group committed.
 *
 * What it leaves out is what whd adds on top: connection limits and timeouts (whd's listener),
 * header size checks, metrics, per-call deadlines and store availability, duplicate answers,
 * kept headers, the dispatcher. The gap between this and `whd serve` is what those layers cost.
 *
 * `deno run --allow-all bench/_floor_server.ts <port> <db file> <signing secret>`
 *
 * @module
 */
import { createHash } from "node:crypto";
import { setImmediate } from "node:timers";
import { openClientEngine } from "../src/inbox/sql_engine.ts";

const [portArg, dbFile, secret] = Deno.args;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// HMAC (RFC 2104) with the padded key hashed once; each delivery copies the two states.
const block = new Uint8Array(64);
block.set(encoder.encode(secret));
const inner = createHash("sha256").update(block.map((b) => b ^ 0x36));
const outer = createHash("sha256").update(block.map((b) => b ^ 0x5c));

function signatureMatches(header: string, body: Uint8Array): boolean {
  const comma = header.indexOf(",");
  const v1 = header.indexOf("v1=");
  if (!header.startsWith("t=") || comma < 0 || v1 < 0) return false;
  const expected = header.slice(v1 + 3, v1 + 67);
  const digest = inner.copy().update(`${header.slice(2, comma)}.`).update(body).digest();
  const actual = outer.copy().update(digest).digest("hex");
  let difference = expected.length ^ actual.length;
  for (let i = 0; i < actual.length; i++) {
    difference |= actual.charCodeAt(i) ^ expected.charCodeAt(i);
  }
  return difference === 0;
}

// Create and migrate the file (whd's schema and migrations), then hand it to the store worker;
// the client's connection is gone by then (the process holds one descriptor of the file).
await (await openClientEngine({ url: `file:${dbFile}` })).close();
const worker = new Worker(new URL("./_floor_store.ts", import.meta.url), { type: "module" });
await new Promise((opened) => {
  worker.onmessage = opened;
  worker.postMessage({ open: dbFile });
});

/** A delivery waiting for its group's commit: its INSERT arguments and its caller. */
interface Waiting {
  args: unknown[];
  stored(): void;
}
const queue: Waiting[] = [];
let writing = false;
let committed: () => void = () => {};
worker.onmessage = () => committed();

/** Sends up to 256 queued deliveries as one transaction; resolves once they are answered. */
function writeGroup(): Promise<void> | undefined {
  if (queue.length === 0) return undefined;
  const group = queue.splice(0, 256);
  const done = new Promise<void>((resolve) => committed = resolve);
  worker.postMessage({ rows: group.length, args: group.flatMap((w) => w.args) });
  return done.then(() => group.forEach((w) => w.stored()));
}

/** Queues a delivery; groups form from what arrives within one macrotask, as in whd. */
function store(args: unknown[]): Promise<void> {
  return new Promise((stored) => {
    queue.push({ args, stored });
    if (writing) return;
    writing = true;
    setImmediate(async () => {
      for (let group = writeGroup(); group; group = writeGroup()) await group;
      writing = false;
    });
  });
}

Deno.serve({ hostname: "127.0.0.1", port: Number(portArg), onListen: () => {} }, async (req) => {
  const body = await req.bytes();
  if (!signatureMatches(req.headers.get("stripe-signature") ?? "", body)) {
    return new Response('{"error":"bad_signature"}', { status: 400 });
  }
  const payload = decoder.decode(body);
  const event = JSON.parse(payload);
  // whd's INSERT arguments: no order key, no kept headers.
  await store([
    "stripe",
    event.id,
    "main",
    event.type,
    payload,
    Date.now(),
    "delivery",
    "pending",
    null,
    null,
    null,
  ]);
  return new Response('{"received":true}', { headers: { "content-type": "application/json" } });
});
