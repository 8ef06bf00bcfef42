/**
 * `whd serve --workers N` as a user runs it: one port, several processes, one database, one
 * handler run per event, and nothing left running after it stops.
 */
import assert from "node:assert/strict";
import { alive, processTree } from "./helpers/processes.ts";
import { join } from "node:path";
import { parseConfig } from "../src/config/loader.ts";
import { PROVIDERS } from "../src/providers/mod.ts";
import { coalescedWaker, parseWorkerRole, runsHandlers } from "../src/cli/serve_workers.ts";
import { REPO, startWhd, whd, type WhdServer } from "./helpers/whd_process.ts";
import { whdCommand } from "../src/dispatch/host_command.ts";

const SECRET = "whsec_workers_test_secret";
const ENV = { STRIPE_WEBHOOK_SECRET: SECRET };

/** A project with a Stripe webhook and a handler that appends each event id to `runs.txt`. */
async function project(
  mode: "async" | "sync" = "async",
): Promise<{ dir: string; config: string; runs: string }> {
  const dir = await Deno.makeTempDir({ prefix: "whd_workers_" });
  const runs = join(dir, "runs.txt");
  await Deno.mkdir(join(dir, "handlers/stripe"), { recursive: true });
  await Deno.writeTextFile(
    join(dir, "handlers/stripe/payment_intent.succeeded.ts"),
    `export default async (event) => {
      await Deno.writeTextFile(${JSON.stringify(runs)}, event.id + "\\n", { append: true });
    };`,
  );
  const config = join(dir, "whd.yaml");
  await Deno.writeTextFile(
    config,
    `server:
  host: 127.0.0.1
database:
  url: file:${join(dir, "whd.db")}
handlers:
  dir: ${join(dir, "handlers")}
  shutdown_grace_ms: 2000
log:
  level: debug
  format: json
providers:
  stripe:
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
        mode: ${mode}
`,
  );
  return { dir, config, runs };
}

const WEBHOOK = parseConfig(
  "providers:\n  stripe:\n    webhooks:\n      default:\n        path: /webhooks/stripe\n" +
    "        signing_secret_env: STRIPE_WEBHOOK_SECRET\n",
  "inline",
).providers[0].webhooks[0];

/** POSTs a signed Stripe event on a connection of its own (so the kernel picks a worker). */
async function deliver(url: string, id: string): Promise<Record<string, unknown>> {
  const body = JSON.stringify({ id, object: "event", type: "payment_intent.succeeded" });
  const headers = await PROVIDERS.stripe.sign(WEBHOOK, body, { secret: SECRET });
  const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  try {
    const response = await fetch(`${url}/webhooks/stripe`, {
      method: "POST",
      body,
      headers,
      client,
    });
    assert.equal(response.status, 200);
    return await response.json();
  } finally {
    client.close();
  }
}

/** Those of `pids` that still run this repository's whd (a reused pid is something else). */
function stillRunning(pids: number[]): number[] {
  return pids.filter((pid) => {
    if (!alive(pid)) return false;
    try {
      return Deno.readTextFileSync(`/proc/${pid}/cmdline`).includes(`${REPO}main.ts`);
    } catch {
      return false;
    }
  });
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Parsed JSON log lines. */
function logLines(server: WhdServer): Record<string, unknown>[] {
  return server.logs().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** Starts `whd serve --workers 2` and waits until both workers listen. */
async function startWorkers(config: string, extra: string[] = []): Promise<WhdServer> {
  const server = await startWhd(["--config", config, "--workers", "2", ...extra], { env: ENV });
  await waitFor(
    "both workers to listen",
    () => logLines(server).filter((l) => l.msg === "listening").length === 2,
  );
  return server;
}

Deno.test("whd serve --workers 2: one port, both workers store, every event stored and run once", async () => {
  const { dir, config, runs } = await project();
  const server = await startWorkers(config);
  let tree: number[] = [];
  try {
    const listening = logLines(server).filter((l) => l.msg === "listening");
    assert.deepEqual(listening.map((l) => l.worker).sort(), [1, 2]);
    assert.ok(listening.every((l) => l.port === server.port), "both on the same port");

    const ids = Array.from({ length: 40 }, (_, i) => `evt_workers_${i}`);
    const first = await Promise.all(ids.map((id) => deliver(server.url, id)));
    assert.ok(first.every((b) => b.received === true && b.duplicate === undefined));
    // Sent again, to whichever worker: acknowledged as duplicates, never stored twice.
    const again = await Promise.all(ids.map((id) => deliver(server.url, id)));
    assert.ok(again.every((b) => b.received === true && b.duplicate === true));

    const stored = logLines(server).filter((l) => l.msg === "event stored");
    assert.equal(stored.length, 40);
    const byWorker = new Set(stored.map((l) => l.worker));
    assert.deepEqual([...byWorker].sort(), [1, 2], "the kernel spread connections over both");

    await waitFor("every handler run", async () => {
      const text = await Deno.readTextFile(runs).catch(() => "");
      return text.split("\n").filter(Boolean).length >= 40;
    });
    tree = processTree(server.child.pid);
    assert.ok(tree.length >= 3, `supervisor, 2 workers and a handler host: ${tree}`);
  } finally {
    const status = await server.stop("SIGTERM");
    assert.equal(status.code, 0, server.logs());
  }
  try {
    // The supervisor exits only after its workers; their handler hosts are gone too.
    assert.deepEqual(stillRunning(tree), [], "processes left behind");
    const logs = logLines(server);
    assert.deepEqual(
      logs.filter((l) => l.msg === "stopped").map((l) => l.worker ?? 0).sort(),
      [0, 1, 2],
    );
    const ran = (await Deno.readTextFile(runs)).split("\n").filter(Boolean);
    assert.equal(ran.length, 40, "each event ran exactly once");
    assert.equal(new Set(ran).size, 40);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("whd serve --workers 2 with a mode: sync webhook: both workers run handlers, each event once", async () => {
  const { dir, config, runs } = await project("sync");
  const server = await startWorkers(config);
  try {
    const ids = Array.from({ length: 30 }, (_, i) => `evt_sync_${i}`);
    // Answered after the handler ran, by whichever worker got the connection.
    await Promise.all(ids.map((id) => deliver(server.url, id)));
    const ran = (await Deno.readTextFile(runs)).split("\n").filter(Boolean);
    assert.deepEqual(ran.toSorted(), ids.toSorted(), "each ran once, before its answer");
    await Promise.all(ids.map((id) => deliver(server.url, id)));
    const again = (await Deno.readTextFile(runs)).split("\n").filter(Boolean);
    assert.equal(again.length, 30, "a done event is not run again for a duplicate");
    const storedBy = new Set(
      logLines(server).filter((l) => l.msg === "event stored").map((l) => l.worker),
    );
    assert.deepEqual([...storedBy].sort(), [1, 2]);
  } finally {
    assert.equal((await server.stop("SIGTERM")).code, 0, server.logs());
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("whd serve --workers 2: the events are in the database once each, listed by whd events", async () => {
  const { dir, config } = await project();
  const server = await startWorkers(config, ["--no-handlers"]);
  try {
    const ids = Array.from({ length: 20 }, (_, i) => `evt_listed_${i}`);
    await Promise.all(ids.map((id) => deliver(server.url, id)));
    await Promise.all(ids.map((id) => deliver(server.url, id)));
  } finally {
    assert.equal((await server.stop("SIGTERM")).code, 0, server.logs());
  }
  try {
    const listed = await whd(["events", "list", "--config", config, "--json"], { env: ENV });
    assert.equal(listed.code, 0, listed.stderr);
    const events: { id: string; status: string }[] = JSON.parse(listed.stdout);
    assert.equal(events.length, 20);
    assert.ok(events.every((e) => e.status === "pending"), "--no-handlers: none ran");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("whd serve --workers 2: when the supervisor is killed with SIGKILL, the workers stop", async () => {
  const { dir, config } = await project();
  const server = await startWorkers(config);
  const tree = processTree(server.child.pid);
  try {
    server.child.kill("SIGKILL");
    await waitFor("the workers to exit", () => stillRunning(tree).length === 0);
    assert.match(server.logs(), /the supervising whd process is gone; stopping/);
  } finally {
    await server.stop("SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("whd serve --workers 2: a worker that dies stops the other, and whd exits non-zero", async () => {
  const { dir, config } = await project();
  const server = await startWorkers(config);
  const tree = processTree(server.child.pid);
  try {
    const started = logLines(server).find((l) => l.msg === "started workers");
    const pids = started?.pids as number[];
    Deno.kill(pids[1], "SIGKILL");
    const status = await server.child.status;
    await server.stop();
    assert.notEqual(status.code, 0);
    assert.match(server.logs(), /"msg":"worker exited on its own; stopping the others"/);
    assert.match(server.logs(), /whd: a worker failed \(exit code \d+\); see its log lines above/);
    assert.deepEqual(stillRunning(tree), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("whd serve --workers: a bad count is a one-line usage error, exit 2", async () => {
  for (const value of ["0", "two", "65"]) {
    const result = await whd(["serve", "--workers", value, "--port", "0"], { env: ENV });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /--workers "\w+" must be a whole number from 1 to 64/);
    assert.doesNotMatch(result.stderr, /\n\s+at /);
  }
});

Deno.test("whd serve --workers 2 on a port in use fails once, naming the port, before any worker starts", async () => {
  const { dir, config } = await project();
  using blocker = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = blocker.addr;
  try {
    const result = await whd(
      ["serve", "--config", config, "--workers", "2", "--port", String(port)],
      { env: ENV },
    );
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: the port is in use`),
    );
    assert.doesNotMatch(result.stderr, /started workers/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("coalescedWaker: a burst of wakes is one write now and one after it, none lost", async () => {
  const writes: PromiseWithResolvers<void>[] = [];
  const wake = coalescedWaker(() => {
    writes.push(Promise.withResolvers<void>());
    return writes.at(-1)!.promise;
  });
  wake();
  wake();
  wake();
  assert.equal(writes.length, 1);
  writes[0].resolve();
  await writes[0].promise;
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(writes.length, 2, "the wakes during the first write are not lost");
  writes[1].reject(new Error("EPIPE")); // the reader is gone: ignored
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(writes.length, 2);
  wake();
  assert.equal(writes.length, 3, "a failed write does not block later wakes");
});

Deno.test("whdCommand: workers re-run whd the way handler hosts do, compiled or from source", () => {
  assert.deepEqual(
    whdCommand(["serve", "--worker", "1/2"], {
      standalone: true,
      execPath: "/usr/local/bin/whd",
    }),
    { command: "/usr/local/bin/whd", args: ["serve", "--worker", "1/2"] },
  );
  const fromSource = whdCommand(["serve"]);
  assert.equal(fromSource.command, Deno.execPath());
  assert.deepEqual(fromSource.args.slice(-2), [`${REPO}main.ts`, "serve"]);
});

Deno.test("--worker i/n: worker 1 runs handlers; the others too only when a webhook is sync", () => {
  assert.deepEqual(parseWorkerRole("2/3"), { index: 2, count: 3 });
  for (const bad of ["0/2", "3/2", "1", "a/b"]) assert.throws(() => parseWorkerRole(bad), /i\/n/);
  const yaml = (mode: string) =>
    parseConfig(
      "providers:\n  stripe:\n    webhooks:\n      default:\n        path: /s\n" +
        `        signing_secret_env: X\n        mode: ${mode}\n`,
      "inline",
    );
  assert.deepEqual([1, 2].map((i) => runsHandlers(i, yaml("async"))), [true, false]);
  assert.deepEqual([1, 2].map((i) => runsHandlers(i, yaml("sync"))), [true, true]);
});
