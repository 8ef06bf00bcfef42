/**
 * The README's response table (section "Responses") is what the server answers: each row is
 * parsed (status, body shape) and provoked against the real request handler with a real libSQL
 * inbox over loopback HTTP. A row without a scenario, or a scenario the table does not list,
 * fails — so the table and the server cannot drift apart silently.
 */
import assert from "node:assert/strict";
import { REPO } from "./helpers/whd_process.ts";
import { startTestServer, type TestServer } from "./helpers/test_server.ts";
import { PROVIDERS } from "../src/providers/mod.ts";
import type { Inbox } from "../src/inbox/types.ts";

interface Row {
  status: number;
  /** The documented body with `…` and `N` as wildcards. */
  body: string;
}

/** The rows of the table under "### Responses". */
async function readmeRows(): Promise<Row[]> {
  const text = await Deno.readTextFile(`${REPO}README.md`);
  const section = text.slice(text.indexOf("### Responses"));
  const lines = section.split("\n").slice(1);
  const end = lines.findIndex((l) => l.startsWith("#"));
  return lines.slice(0, end).filter((l) => /^\|\s*\d{3}\s*\|/.test(l)).map((l) => {
    const [, status, body] = l.split("|").map((c) => c.trim());
    return { status: Number(status), body: body.replace(/^`|`$/g, "") };
  });
}

/** Whether `actual` has exactly the documented keys and the documented literal values. */
function matchesShape(documented: string, actual: unknown): boolean {
  const pattern = JSON.parse(
    documented.replaceAll("…", '"__ANY__"').replace(/:N\b/g, ':"__NUM__"'),
  );
  if (typeof actual !== "object" || actual === null) return false;
  const a = actual as Record<string, unknown>;
  const keys = (o: object) => Object.keys(o).sort().join(",");
  if (keys(pattern) !== keys(a)) return false;
  return Object.entries(pattern).every(([k, v]) =>
    v === "__ANY__"
      ? typeof a[k] === "string" && (a[k] as string).length > 0
      : v === "__NUM__"
      ? typeof a[k] === "number"
      : a[k] === v
  );
}

const ENV = {
  RT_STRIPE: "whsec_readme_table_stripe",
  RT_GITHUB: "readme-table-github",
  RT_SLACK: "readme-table-slack",
  RT_SHOP: "readme-table-shop",
};

const YAML = `server:
  max_body_bytes: 4096
providers:
  stripe:
    webhooks:
      default:
        path: /stripe
        signing_secret_env: RT_STRIPE
        events: [invoice.paid]
      sync:
        path: /stripe-sync
        signing_secret_env: RT_STRIPE
        mode: sync
      live:
        path: /stripe-live
        signing_secret_env: RT_STRIPE
        livemode: true
  github:
    webhooks:
      default: { path: /github, signing_secret_env: RT_GITHUB }
  slack:
    webhooks:
      default: { path: /slack, signing_secret_env: RT_SLACK }
  shop:
    type: hmac
    webhooks:
      default:
        path: /shop
        signing_secret_env: RT_SHOP
        signature_header: X-Sig
        id_path: /id
        type_path: /type
      limited:
        path: /limited
        signing_secret_env: RT_SHOP
        signature_header: X-Sig
        id_path: /id
        type_path: /type
        rate_limit: { requests_per_minute: 1, burst_limit: 1 }
      denied:
        path: /denied
        signing_secret_env: RT_SHOP
        signature_header: X-Sig
        id_path: /id
        type_path: /type
        ip_allowlist: [203.0.113.7]
`;

type Answer = { status: number; body: unknown; headers: Headers };

async function post(
  server: TestServer,
  path: string,
  body: string,
  headers: Record<string, string>,
  method = "POST",
): Promise<Answer> {
  const response = await fetch(server.url + path, {
    method,
    headers,
    body: method === "POST" ? body : undefined,
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

function webhookOf(server: TestServer, provider: string, name = "default") {
  return server.config.providers.find((p) => p.name === provider)!.webhooks.find((w) =>
    w.name === name
  )!;
}

async function signed(
  server: TestServer,
  provider: string,
  body: string,
  options: { name?: string; secret?: string; type?: string; timestamp?: number } = {},
) {
  const webhook = webhookOf(server, provider, options.name);
  const secret = options.secret ?? ENV[`RT_${provider.toUpperCase()}` as keyof typeof ENV];
  return await PROVIDERS[webhook.type].sign(webhook, body, {
    secret,
    id: crypto.randomUUID(),
    type: options.type,
    timestamp: options.timestamp,
  });
}

const stripeEvent = (id: string, type = "invoice.paid") =>
  JSON.stringify({ id, object: "event", type, data: { object: {} } });

/** One way to provoke each documented answer, keyed by status and `error` (or the body). */
const SCENARIOS: Record<string, (s: TestServer) => Promise<Answer>> = {
  '200 {"received":true}': async (s) => {
    const body = stripeEvent("evt_rt_stored");
    return await post(s, "/stripe", body, await signed(s, "stripe", body));
  },
  '200 {"received":true,"duplicate":true}': async (s) => {
    const body = stripeEvent("evt_rt_dup");
    await post(s, "/stripe", body, await signed(s, "stripe", body));
    return await post(s, "/stripe", body, await signed(s, "stripe", body));
  },
  '200 {"received":true,"ignored":true}': async (s) => {
    const body = stripeEvent("evt_rt_ignored", "charge.refunded");
    return await post(s, "/stripe", body, await signed(s, "stripe", body));
  },
  '200 {"received":true,"ping":true}': async (s) => {
    const body = JSON.stringify({ zen: "Design for failure.", hook_id: 1 });
    return await post(s, "/github", body, await signed(s, "github", body, { type: "ping" }));
  },
  '200 {"challenge":…}': async (s) => {
    const body = JSON.stringify({ token: "t", challenge: "c-123", type: "url_verification" });
    return await post(s, "/slack", body, await signed(s, "slack", body));
  },
  "400 missing_signature": async (s) => {
    return await post(s, "/stripe", stripeEvent("evt_rt_nosig"), {});
  },
  "400 bad_signature": async (s) => {
    const body = stripeEvent("evt_rt_bad");
    return await post(s, "/stripe", body, await signed(s, "stripe", body, { secret: "whsec_x" }));
  },
  "400 stale_timestamp": async (s) => {
    const body = stripeEvent("evt_rt_stale");
    const old = Math.floor(Date.now() / 1000) - 3600;
    return await post(s, "/stripe", body, await signed(s, "stripe", body, { timestamp: old }));
  },
  "400 invalid_json": async (s) => {
    const body = "{not json";
    return await post(s, "/shop", body, await signed(s, "shop", body));
  },
  "400 missing_id": async (s) => {
    const body = JSON.stringify({ type: "order.created" });
    return await post(s, "/shop", body, await signed(s, "shop", body));
  },
  "400 missing_type": async (s) => {
    const body = JSON.stringify({ id: "ord_1" });
    return await post(s, "/shop", body, await signed(s, "shop", body));
  },
  "400 invalid_id": async (s) => {
    const body = '{"id":"ord_\\ud800","type":"order.created"}';
    return await post(s, "/shop", body, await signed(s, "shop", body));
  },
  "400 invalid_type": async (s) => {
    const body = JSON.stringify({ id: "ord_1", type: "order\u0000created" });
    return await post(s, "/shop", body, await signed(s, "shop", body));
  },
  "400 livemode_mismatch": async (s) => {
    const body = JSON.stringify({ id: "evt_rt_mode", type: "invoice.paid", livemode: false });
    return await post(s, "/stripe-live", body, await signed(s, "stripe", body, { name: "live" }));
  },
  "403 forbidden": async (s) => {
    const body = JSON.stringify({ id: "ord_2", type: "order.created" });
    return await post(s, "/denied", body, await signed(s, "shop", body, { name: "denied" }));
  },
  "404 not_found": async (s) => await post(s, "/nowhere", "{}", {}),
  "405 method_not_allowed": async (s) => await post(s, "/stripe", "", {}, "GET"),
  "413 body_too_large": async (s) => {
    const body = JSON.stringify({ id: "ord_3", type: "t", pad: "x".repeat(5000) });
    return await post(s, "/shop", body, await signed(s, "shop", body));
  },
  "429 rate_limited": async (s) => {
    const body = JSON.stringify({ id: "ord_4", type: "order.created" });
    const headers = await signed(s, "shop", body, { name: "limited" });
    await post(s, "/limited", body, headers);
    return await post(s, "/limited", body, headers);
  },
  "500 handler_failed": async (s) => {
    const body = stripeEvent("evt_rt_sync");
    return await post(s, "/stripe-sync", body, await signed(s, "stripe", body, { name: "sync" }));
  },
  "503 store_unavailable": async (s) => {
    const body = stripeEvent("evt_rt_store");
    return await post(s, "/stripe", body, await signed(s, "stripe", body));
  },
};

function keyOf(row: Row): string {
  const error = /"error":"([a-z_]+)"/.exec(row.body);
  return error ? `${row.status} ${error[1]}` : `${row.status} ${row.body}`;
}

Deno.test("every row of the README's response table has a scenario, and every scenario a row", async () => {
  const rows = await readmeRows();
  assert.ok(rows.length >= 15, `parsed ${rows.length} rows`);
  assert.deepEqual(rows.map(keyOf).sort(), Object.keys(SCENARIOS).sort());
});

Deno.test("the server answers each README row with its status and body shape", async () => {
  const rows = await readmeRows();
  const failing: Inbox = new Proxy({} as Inbox, {
    get: (_t, name) =>
      name === "accept"
        ? () => Promise.reject(new Error("disk full"))
        : () => Promise.resolve(undefined),
  });
  const server = await startTestServer(YAML, ENV, {
    extra: { runSync: () => Promise.resolve({ ok: false, error: "boom" }) },
  });
  const broken = await startTestServer(YAML, ENV, { extra: { inbox: failing } });
  const wrong: string[] = [];
  try {
    for (const row of rows) {
      const key = keyOf(row);
      const answer = await SCENARIOS[key](key.startsWith("503") ? broken : server);
      if (answer.status !== row.status || !matchesShape(row.body, answer.body)) {
        wrong.push(
          `README: ${row.status} ${row.body}; server: ${answer.status} ${
            JSON.stringify(answer.body)
          }`,
        );
      }
      if (row.status === 429) assert.match(answer.headers.get("retry-after") ?? "", /^\d+$/);
      if (row.status === 405) assert.equal(answer.headers.get("allow"), "POST");
      if (row.status === 503) assert.equal(answer.headers.get("retry-after"), "5");
    }
  } finally {
    await server.close();
    await broken.close();
  }
  assert.deepEqual(wrong, []);
});
