/// <reference lib="dom" />
/**
 * `deno task console:screenshot`: takes `docs/console.png` (the events list) and
 * `docs/console_throughput.png` of a real `whd serve` filled with demo data: Stripe and GitHub
 * samples (`whd send`'s embedded fixtures, signed by the providers' own signing code), handlers
 * that succeed, one that fails (dead letters), then the events' times spread over the last hour
 * (sqlite3 on the store) so the throughput chart has a shape over the hour. Cleans up after itself.
 *
 * @module
 */
import { join } from "node:path";
import { parseConfig } from "../../src/config/loader.ts";
import { findFixture, renderFixture } from "../../src/providers/fixtures/mod.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";
import { writeFile } from "../dispatch/_helpers.ts";
import { REPO, startWhd } from "../helpers/whd_process.ts";
import { adminUrl } from "../reliability/_store.ts";
import { launchBrowser } from "./_browser.ts";

const SECRETS = {
  STRIPE_WEBHOOK_SECRET: "whsec_demo_screenshot_0123456789",
  GITHUB_WEBHOOK_SECRET: "github_demo_screenshot_secret",
};
const CONFIG = `server:
  host: 127.0.0.1
database:
  url: file:data/whd.db
handlers:
  dir: handlers
  max_attempts: 1
  timeout_ms: 3000
  watch: false
log:
  level: info
  format: json
providers:
  stripe:
    webhooks:
      default:
        path: /hooks/stripe
        signing_secret_env: STRIPE_WEBHOOK_SECRET
  github:
    webhooks:
      default:
        path: /hooks/github
        signing_secret_env: GITHUB_WEBHOOK_SECRET
`;
const OK = `export default (event, ctx) => { ctx.log.info("handled", { id: event.id }); };\n`;
const FAILING = `#!/bin/sh
echo "syncing subscription $WHD_EVENT_ID to billing-db"
echo "Error: connect ECONNREFUSED 10.0.0.7:5432 (billing-db)" >&2
exit 1
`;
/** What to send: provider, type, how many. */
const MIX: [string, string, number][] = [
  ["stripe", "invoice.paid", 90],
  ["stripe", "payment_intent.succeeded", 70],
  ["stripe", "checkout.session.completed", 36],
  ["stripe", "customer.subscription.updated", 6],
  ["github", "push", 44],
  ["github", "pull_request.opened", 6],
];

async function sqlite(db: string, sql: string): Promise<void> {
  const out = await new Deno.Command("sqlite3", {
    args: ["-cmd", ".timeout 5000", db, sql],
    stderr: "piped",
  }).output();
  if (out.code !== 0) throw new Error(new TextDecoder().decode(out.stderr));
}

const dir = await Deno.makeTempDir({ prefix: "whd_console_shot_" });
try {
  await writeFile(dir, "config/whd.yaml", CONFIG);
  for (const type of ["invoice.paid", "payment_intent.succeeded", "checkout.session.completed"]) {
    await writeFile(dir, `handlers/stripe/${type}.ts`, OK);
  }
  await writeFile(dir, "handlers/stripe/customer.subscription.updated.sh", {
    text: FAILING,
    mode: 0o755,
  });
  await writeFile(dir, "handlers/github/push.ts", OK);
  const config = parseConfig(CONFIG, "whd.yaml");
  const server = await startWhd([], { cwd: dir, env: SECRETS });
  const browser = await launchBrowser(dir);
  try {
    const now = Date.now();
    const deliveries: { provider: string; type: string }[] = [];
    for (const [provider, type, n] of MIX) {
      for (let i = 0; i < n; i++) deliveries.push({ provider, type });
    }
    // A fixed shuffle (a small LCG), so every run looks the same.
    let seed = 42;
    for (let i = deliveries.length - 1; i > 0; i--) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const j = seed % (i + 1);
      [deliveries[i], deliveries[j]] = [deliveries[j], deliveries[i]];
    }
    for (const { provider, type } of deliveries) {
      const webhook = config.providers.find((p) => p.name === provider)!.webhooks[0];
      const fixture = findFixture(webhook.type, type)!;
      const rendered = renderFixture(fixture, { now });
      const secret = provider === "stripe"
        ? SECRETS.STRIPE_WEBHOOK_SECRET
        : SECRETS.GITHUB_WEBHOOK_SECRET;
      const headers = await PROVIDERS[webhook.type].sign(webhook, rendered.body, {
        secret,
        id: rendered.id,
        type: rendered.type,
        timestamp: Math.floor(now / 1000),
      });
      const response = await fetch(`${server.url}${webhook.path}`, {
        method: "POST",
        headers,
        body: rendered.body,
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`${provider} ${type}: ${response.status}`);
    }
    const admin = adminUrl(server);
    const watched = await browser.open(admin);
    const { page } = watched;
    // Wait until nothing is pending or running any more.
    for (let i = 0; i < 120; i++) {
      const counts = await (await fetch(`${admin}/api/counts`)).json();
      if (counts.pending === 0 && counts.running === 0) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    // Spread the events over the last hour: the chart gets a shape.
    const db = join(dir, "data", "whd.db");
    const shift = `((rowid * 7919) % 3500) * 1000 + rowid * 97 % 1000`;
    await sqlite(
      db,
      `CREATE TEMP TABLE shift AS SELECT provider, id, ${shift} AS ms FROM events;
       UPDATE events SET received_at = received_at - (SELECT ms FROM shift s WHERE s.provider = events.provider AND s.id = events.id),
         updated_at = updated_at - (SELECT ms FROM shift s WHERE s.provider = events.provider AND s.id = events.id),
         completed_at = completed_at - (SELECT ms FROM shift s WHERE s.provider = events.provider AND s.id = events.id);
       UPDATE attempts SET started_at = started_at - (SELECT ms FROM shift s WHERE s.provider = attempts.provider AND s.id = attempts.id);`,
    );
    await page.goto(`${admin}/#/events`, { waitUntil: "load" });
    await page.waitForSelector("tr[data-id]");
    await new Promise((r) => setTimeout(r, 1500));
    await page.screenshot({ path: join(REPO, "docs", "console.png") });
    await page.goto(`${admin}/#/throughput`, { waitUntil: "load" });
    await page.waitForSelector(".chart .uplot canvas");
    await new Promise((r) => setTimeout(r, 1000));
    await page.screenshot({ path: join(REPO, "docs", "console_throughput.png") });
    if (watched.problems.length > 0) throw new Error(watched.problems.join("\n"));
    console.log("wrote docs/console.png and docs/console_throughput.png");
  } finally {
    await browser.close();
    await server.stop();
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}
