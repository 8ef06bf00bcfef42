/**
 * Helpers for the HTTP attacks on a real `whd serve` (tests/reliability/*limits*): a project
 * with short `server:` limits, whd started under a given `ulimit -n`, raw TCP clients, and a
 * `/healthz` probe that opens a fresh connection every 50 ms and records how long each answer
 * took, while checking that whd is still running.
 *
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { startWhd, type WhdServer } from "../helpers/whd_process.ts";
import { alive, type Project, project } from "./_project.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A reliability project whose `server:` section also has `limits` (short, for tests). */
export async function limitedProject(limits: Record<string, number>): Promise<Project> {
  const p = await project({ log: { level: "info" } });
  const file = join(p.dir, "config/whd.yaml");
  const text = await Deno.readTextFile(file);
  const keys = Object.entries(limits).map(([k, v]) => `  ${k}: ${v}\n`).join("");
  await Deno.writeTextFile(file, text.replace("server:\n", `server:\n${keys}`));
  return p;
}

/**
 * Starts `whd serve` for `p` under `ulimit -n N`: both the soft and the hard open-files limits
 * are N, so whd cannot raise them.
 */
export function startUnderUlimit(p: Project, nofile: number): Promise<WhdServer> {
  return startWhd([], { cwd: p.dir, env: p.env, nofile });
}

/** Opens a TCP connection to whd and writes `text` (if any). */
export async function connect(port: number, text = ""): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (text) await conn.write(encoder.encode(text));
  return conn;
}

/** Writes, ignoring a connection whd has closed. Returns false when the write failed. */
export async function tryWrite(conn: Deno.Conn, text: string | Uint8Array): Promise<boolean> {
  try {
    await conn.write(typeof text === "string" ? encoder.encode(text) : text);
    return true;
  } catch {
    return false;
  }
}

/** Reads until the peer closes (or resets) the connection; returns what arrived. */
export async function readToEnd(conn: Deno.Conn): Promise<string> {
  const buffer = new Uint8Array(16_384);
  let text = "";
  while (true) {
    let n: number | null;
    try {
      n = await conn.read(buffer);
    } catch {
      return text;
    }
    if (n === null) return text;
    text += decoder.decode(buffer.subarray(0, n));
  }
}

/** One `GET /healthz` on a new connection: the status (0 when none) and how long it took. */
export async function healthz(port: number): Promise<{ status: number; ms: number }> {
  const started = performance.now();
  let conn: Deno.TcpConn | undefined;
  try {
    conn = await connect(port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const text = await readToEnd(conn);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    return { status, ms: performance.now() - started };
  } catch {
    return { status: 0, ms: performance.now() - started };
  } finally {
    try {
      conn?.close();
    } catch { /* closed */ }
  }
}

/** A running `/healthz` probe. */
export interface Probe {
  /** Stops probing and returns every result. */
  stop(): Promise<{ status: number; ms: number }[]>;
}

/**
 * Probes `/healthz` every 50 ms on a fresh connection, checking on each tick that the whd
 * process is still running (`stop()` fails if it was not).
 */
export function probeHealth(server: WhdServer): Probe {
  const results: { status: number; ms: number }[] = [];
  let running = true;
  let exited = false;
  const loop = (async () => {
    while (running) {
      if (!alive(server.child.pid)) {
        exited = true;
        return;
      }
      results.push(await healthz(server.port));
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      assert.ok(!exited, `whd exited:\n${server.logs()}`);
      return results;
    },
  };
}

/**
 * The bound on a `/healthz` answer: 100 ms (the promise of README "Reliability") under
 * `deno task test:reliability`, which sets `WHD_HEALTH_MS=100` and runs these files one at a
 * time; 500 ms by default, when they run in parallel with the whole suite on a small machine
 * (measured there: single probes at 140–260 ms while another test file ran).
 */
export const HEALTH_MS = Number(Deno.env.get("WHD_HEALTH_MS") ?? 500);

/** Asserts every probe answered `statuses` within `ms` (default {@linkcode HEALTH_MS}). */
export function assertHealthy(
  results: { status: number; ms: number }[],
  { ms = HEALTH_MS, statuses = [200] }: { ms?: number; statuses?: number[] } = {},
): void {
  assert.ok(results.length > 0, "the probe never ran");
  const bad = results.filter((r) => !statuses.includes(r.status) || r.ms > ms);
  assert.deepEqual(bad, [], `/healthz answers outside ${ms} ms or ${statuses}`);
}

/**
 * Delivers `count` signed events (ids `prefix-i`) one after another, each answered 200 (after
 * at most `retries` retries of a 503 or a closed connection); returns the acknowledged ids.
 */
export async function deliverMany(
  p: Project,
  server: WhdServer,
  prefix: string,
  count: number,
  { retries = 0 }: { retries?: number } = {},
): Promise<string[]> {
  const acked: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = `${prefix}-${i}`;
    // With `retries`, a 503 or a refused connection is retried as a provider does.
    for (let attempt = 0;; attempt++) {
      const status = await p.deliver(server, id, "order.created").catch(() => 0);
      if (status === 200) break;
      assert.ok(attempt < retries && [0, 503].includes(status), `delivery ${id} got ${status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    acked.push(id);
  }
  return acked;
}

/** Asserts every acknowledged id is in the inbox (`whd events list`). */
export async function assertStored(p: Project, ids: string[]): Promise<void> {
  const run = await p.cli("events", "list", "--json", "--limit", "100000");
  assert.equal(run.code, 0, run.stderr);
  const stored = new Set((JSON.parse(run.stdout) as { id: string }[]).map((r) => r.id));
  assert.deepEqual(ids.filter((id) => !stored.has(id)), [], "acknowledged events lost");
}
