/**
 * Ingest throughput: whd's whole request path (route, guards, body, Stripe signature, JSON,
 * libSQL group commit with a durable file) against a bare `Deno.serve` that reads the body and
 * answers 200, both loaded the same way in the same run by a separate process.
 *
 * @module
 */
import { parseConfig, resolveSecrets, secretsFor } from "../src/config/loader.ts";
import { systemClock } from "../src/clock.ts";
import { createRequestHandler } from "../src/http/server.ts";
import { openInbox } from "../src/inbox/libsql_inbox.ts";
import { createLogger } from "../src/ops/log.ts";
import { Metrics } from "../src/ops/metrics.ts";
import { PROVIDERS } from "../src/providers/mod.ts";
import type { LoadResult } from "./_load.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 5);
const CONNECTIONS = 64;
const SECRET = "whsec_bench_secret_0123456789";
const dir = await Deno.makeTempDir({ prefix: "whd_bench_" });

const config = parseConfig(
  `providers:
  stripe:
    webhooks:
      default:
        path: /webhooks/stripe
        signing_secret_env: SECRET
`,
  "bench",
);
config.database.url = `file:${dir}/bench.db`;
const webhook = config.providers[0].webhooks[0];

async function signedRequests(count: number) {
  const timestamp = Math.floor(Date.now() / 1000);
  return await Promise.all(Array.from({ length: count }, async (_, i) => {
    const body = JSON.stringify({
      id: `evt_bench_${i}`,
      object: "event",
      type: "payment_intent.succeeded",
      created: timestamp,
      data: {
        object: {
          id: `pi_${i}`,
          object: "payment_intent",
          amount: 1999,
          padding: "x".repeat(1200),
        },
      },
    });
    return {
      body,
      headers: await PROVIDERS.stripe.sign(webhook, body, { secret: SECRET, timestamp }),
    };
  }));
}

async function loadAgainst(url: string, requests: unknown[]): Promise<LoadResult> {
  const specFile = `${dir}/spec.json`;
  await Deno.writeTextFile(
    specFile,
    JSON.stringify({ url, requests, connections: CONNECTIONS, seconds: SECONDS }),
  );
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL("./_load_child.ts", import.meta.url).pathname, specFile],
    stderr: "inherit",
  }).output();
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

const requests = await signedRequests(60_000);

const bare = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
  await request.arrayBuffer();
  return new Response('{"received":true}', { headers: { "content-type": "application/json" } });
});
const baseline = await loadAgainst(`http://127.0.0.1:${bare.addr.port}/webhooks/stripe`, requests);
await bare.shutdown();

const resolved = resolveSecrets(config, () => SECRET);
const inbox = await openInbox({ url: config.database.url });
const whd = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen: () => {} },
  createRequestHandler({
    config,
    secretsFor: (w) => secretsFor(resolved, w),
    inbox,
    log: createLogger({ level: "warn" }),
    metrics: new Metrics(),
    clock: systemClock,
  }),
);
const measured = await loadAgainst(`http://127.0.0.1:${whd.addr.port}/webhooks/stripe`, requests);
await whd.shutdown();
const stored = (await inbox.counts()).pending;
inbox.close();
await Deno.remove(dir, { recursive: true });

const fmt = (r: LoadResult) => `${Math.round(r.perSecond)} req/s`;
console.log(`bare Deno.serve (baseline): ${fmt(baseline)} ${JSON.stringify(baseline.statuses)}`);
console.log(
  `whd ingest (verify + durable store): ${fmt(measured)} (${
    (measured.perSecond / baseline.perSecond).toFixed(2)
  }× baseline) ${JSON.stringify(measured.statuses)}, ${stored} rows stored`,
);
