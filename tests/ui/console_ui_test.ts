/// <reference lib="dom" />
/**
 * The console in a real browser (Debian's headless Chromium through puppeteer-core) against a
 * real `whd serve` child: signed deliveries show up in the open page without a reload, one
 * event's payload and attempts, Replay and Retry through their confirmation step with the new
 * attempt appearing, dead letters and their bulk retry, handlers with a load error, a payload
 * and an error full of HTML shown as text (no dialog, no element), no secret on any view; with
 * every live stream taken, polling instead; and — bound off loopback with a token — API and
 * assets refused without it until the login form lets the browser in.
 * Every page must load without a console error, a CSP violation or a request elsewhere.
 *
 * Run with `deno task test:ui` (its own task: it needs Chromium).
 */
import assert from "node:assert/strict";
import type { Browser, Page } from "puppeteer-core";
import { parseConfig } from "../../src/config/loader.ts";
import { PROVIDERS } from "../../src/providers/mod.ts";
import { startWhd, type WhdServer } from "../helpers/whd_process.ts";
import { CANARIES, leakIn, type Project, project } from "../reliability/_project.ts";
import { adminUrl } from "../reliability/_store.ts";
import {
  chromiumMissing,
  clickButton,
  launchBrowser,
  showing,
  texts,
  waitForCount,
  type WatchedPage,
} from "./_browser.ts";

const XSS = "<img src=x onerror=alert(1)>";
const SCRIPT_ERROR = "<script>alert(2)</script> inventory service down";
const TOKEN = "console_ui_token_5d8e2f7a9c1b3e46";

// Its own task, so a missing browser is a failure that says how to install it, not a skip.
const missing = await chromiumMissing();

/** An ok handler, and one that fails until `flag` exists (so a retry can succeed). */
async function handlers(p: Project, flag: string): Promise<void> {
  await p.handler(
    "order.created.ts",
    `export default (event) => { console.log("packed order", event.id); };\n`,
  );
  await p.handler(
    "order.flaky.sh",
    `#!/bin/sh\nif [ -f '${flag}' ]; then echo "recovered $WHD_EVENT_ID"; exit 0; fi\n` +
      `echo '${SCRIPT_ERROR}' >&2\nexit 1\n`,
  );
}

/** Signs `payload` for the project's shop webhook (the provider's own signing) and POSTs it. */
async function send(p: Project, server: WhdServer, payload: Record<string, unknown>) {
  const config = parseConfig(await Deno.readTextFile(p.path("config/whd.yaml")), "whd.yaml");
  const webhook = config.providers.find((c) => c.name === "shop")!.webhooks[0];
  const body = JSON.stringify(payload);
  const headers = await PROVIDERS.hmac.sign(webhook, body, { secret: CANARIES.SHOP_SECRET });
  const response = await fetch(`${server.url}/hooks/shop`, { method: "POST", headers, body });
  await response.body?.cancel();
  assert.equal(response.status, 200, `delivery of ${payload.id}`);
}

/** Nothing went wrong in the page, and nothing secret is on it. */
async function assertClean(watched: WatchedPage, where: string): Promise<void> {
  assert.deepEqual(watched.problems, [], `${where}: console errors or CSP violations`);
  assert.deepEqual(watched.dialogs, [], `${where}: a dialog opened (injected script ran)`);
  assert.deepEqual(watched.foreign, [], `${where}: requests to another origin`);
  const text = await watched.page.evaluate(() => document.body.innerText);
  assert.equal(leakIn(text), undefined, `${where}: a secret is on the page`);
}

const row = (id: string) => `tr[data-id="${id}"]`;

async function waitForStatus(page: Page, id: string, status: string): Promise<void> {
  await page.waitForSelector(`${row(id)}[data-status="${status}"]`, { timeout: 20_000 });
}

Deno.test({
  name: "console ui: live list, one event, replay, retry, dead letters, XSS as text",
  // puppeteer keeps a WebSocket and timers of its own between steps.
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  if (missing) throw new Error(missing);
  const p = await project({ log: { level: "info" } });
  const flag = p.path("flaky.ok");
  await handlers(p, flag);
  await p.handler("order.broken.ts", "export default (event => {\n");
  const server = await p.start();
  const browser = await launchBrowser(p.dir);
  try {
    const admin = adminUrl(server);
    const watched = await browser.open(admin);
    const { page } = watched;
    await showing(page, () => loopback(p, server, admin, watched, flag));
  } finally {
    await browser.close();
    await server.stop();
    await p.remove();
  }
});

async function loopback(
  p: Project,
  server: WhdServer,
  admin: string,
  watched: WatchedPage,
  flag: string,
): Promise<void> {
  const { page } = watched;
  const response = await page.goto(`${admin}/`, { waitUntil: "load" });
  assert.equal(response?.status(), 200);
  const csp = response?.headers()["content-security-policy"] ?? "";
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  await page.waitForSelector(".view-events .empty");
  await page.evaluate(() => Object.assign(globalThis, { __notReloaded: true }));

  // Deliveries appear in the open page, newest first, and move to done.
  await send(p, server, { id: "evt_ui_1", type: "order.created", data: { sku: "A-1" } });
  await send(p, server, { id: "evt_ui_xss", type: "order.created", data: { note: XSS } });
  await waitForStatus(page, "evt_ui_1", "done");
  await waitForStatus(page, "evt_ui_xss", "done");
  assert.deepEqual(
    await page.$$eval("tr[data-id]", (rows) => rows.map((r) => r.getAttribute("data-id"))),
    ["evt_ui_xss", "evt_ui_1"],
  );
  assert.equal(await page.evaluate(() => "__notReloaded" in globalThis), true, "page reloaded");
  assert.match((await texts(page, ".chip-done .chip-count"))[0], /^2$/);

  // Search by id and filter by type.
  await page.type('input[name="q"]', "evt_ui_x");
  await clickButton(page, "Apply");
  await waitForCount(page, "tr[data-id]", 1);
  await clickButton(page, "Clear");
  await waitForCount(page, "tr[data-id]", 2);

  // The XSS payload is text: its characters are shown and no <img> exists.
  await page.click(`${row("evt_ui_xss")} a`);
  await page.waitForSelector("pre.payload");
  const payload = (await texts(page, "pre.payload"))[0];
  assert.ok(payload.includes(`"note": "${XSS}"`), payload);
  assert.equal(await page.$$eval("main img", (n) => n.length), 0);
  assert.match((await texts(page, ".headers"))[0], /content-type/);
  assert.doesNotMatch((await texts(page, ".headers"))[0], /signature/i);

  // Replay a done event: confirmation first, then the second attempt shows up.
  await page.goto(`${admin}/#/event/shop/evt_ui_1`, { waitUntil: "load" });
  await waitForCount(page, "tr[data-attempt]", 1);
  assert.equal(await page.$(".action-retry"), null, "Retry offered on a done event");
  await clickButton(page, "Replay");
  await page.waitForSelector(".confirm");
  await clickButton(page, "Cancel");
  assert.equal(await page.$(".confirm"), null);
  await clickButton(page, "Replay");
  await clickButton(page, "Confirm replay");
  await page.waitForSelector(".notice");
  await waitForCount(page, 'tr[data-attempt][data-outcome="ok"]', 2);
  assert.match((await texts(page, ".attempts"))[0], /packed order evt_ui_1/);

  // A failing handler (max_attempts 1) makes a dead event; its error is text.
  await send(p, server, { id: "evt_ui_dead", type: "order.flaky", data: {} });
  await send(p, server, { id: "evt_ui_dead2", type: "order.flaky", data: {} });
  await page.click('a[href="#/events"]');
  await waitForStatus(page, "evt_ui_dead", "dead");
  await waitForStatus(page, "evt_ui_dead2", "dead");
  await page.click('a[href="#/dead"]');
  await page.waitForSelector('tr[data-type="order.flaky"]');
  const group = (await texts(page, 'tr[data-type="order.flaky"]'))[0];
  assert.ok(group.includes(SCRIPT_ERROR), group);
  assert.match(group, /\b2\b/);
  assert.equal(await page.$$eval("main script", (n) => n.length), 0);

  // Retry one dead event from its page: the retry succeeds now, as a second attempt.
  await Deno.writeTextFile(flag, "");
  await page.goto(`${admin}/#/event/shop/evt_ui_dead`, { waitUntil: "load" });
  await waitForCount(page, "tr[data-attempt]", 1);
  assert.equal(await page.$(".action-replay"), null, "Replay offered on a dead event");
  await clickButton(page, "Retry");
  await clickButton(page, "Confirm retry");
  await page.waitForSelector('tr[data-attempt][data-outcome="ok"]', { timeout: 20_000 });
  await waitForCount(page, "tr[data-attempt]", 2);
  await page.waitForSelector(".facts .badge-done");

  // Bulk retry from the dead letters: the last dead one goes, after a confirmation.
  await page.click('a[href="#/dead"]');
  await clickButton(page, "Retry all dead (1)");
  await clickButton(page, "Confirm retry");
  await page.waitForSelector(".notice");
  assert.match((await texts(page, ".notice"))[0], /Requeued 1 event\./);
  await page.waitForSelector(".view-dead .empty", { timeout: 20_000 });

  // Throughput draws with uPlot; handlers lists both files.
  await page.click('a[href="#/throughput"]');
  await page.waitForSelector(".chart .uplot canvas");
  await clickButton(page, "Last day");
  await page.waitForSelector(".chart .uplot canvas");
  await page.click('a[href="#/handlers"]');
  await page.waitForSelector("table.handlers");
  const files = (await texts(page, "table.handlers"))[0];
  assert.match(files, /order\.created\.ts/);
  assert.match(files, /order\.flaky\.sh/);
  const broken = (await texts(page, ".load-errors"))[0];
  assert.match(broken, /order\.broken\.ts/);

  await assertClean(watched, "loopback console");
}

Deno.test({
  name: "console ui: off loopback with a token, nothing without it; the login form lets in",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  if (missing) throw new Error(missing);
  const p = await project({ log: { level: "info" } });
  await Deno.writeTextFile(
    p.path("config/whd.yaml"),
    "admin:\n  token_env: WHD_ADMIN_TOKEN\n" + await Deno.readTextFile(p.path("config/whd.yaml")),
  );
  await handlers(p, p.path("flag"));
  const server = await startWhd([], {
    cwd: p.dir,
    env: { ...p.env, WHD_ADMIN_TOKEN: TOKEN, WHD_ADMIN_LISTEN: "0.0.0.0:0" },
  });
  const browser = await launchBrowser(p.dir);
  try {
    const admin = `http://127.0.0.1:${new URL(adminUrl(server)).port}`;
    await send(p, server, { id: "evt_tok_1", type: "order.created", data: {} });
    for (const path of ["/api/session", "/api/events", "/api/counts", "/assets/app.js"]) {
      const answer = await fetch(`${admin}${path}`);
      assert.equal(answer.status, 401, path);
      const body = await answer.text();
      assert.ok(!body.includes("evt_tok_1") && !body.includes("preact"), path);
    }
    const post = await fetch(`${admin}/api/events/shop/evt_tok_1/replay`, { method: "POST" });
    assert.ok([401, 403].includes(post.status), `replay without token: ${post.status}`);
    await post.body?.cancel();

    const watched = await browser.open(admin);
    await showing(watched.page, () => tokenLogin(server, admin, watched, browser.browser));
  } finally {
    await browser.close();
    await server.stop();
    await p.remove();
  }
});

async function tokenLogin(
  server: WhdServer,
  admin: string,
  watched: WatchedPage,
  browser: Browser,
): Promise<void> {
  const { page } = watched;
  await page.goto(`${admin}/`, { waitUntil: "load" });
  await page.waitForSelector('form input[name="token"]');
  assert.equal(await page.$(".view-events"), null, "the console showed before logging in");

  // A wrong token: the form again with a message (the browser logs the 401 itself).
  await page.type('input[name="token"]', "wrong_token_but_long_enough");
  await Promise.all([page.waitForNavigation(), page.click('form [type="submit"]')]);
  await page.waitForSelector('form input[name="token"]');
  assert.match(await page.evaluate(() => document.body.innerText), /token/i);

  await page.type('input[name="token"]', TOKEN);
  await Promise.all([page.waitForNavigation(), page.click('form [type="submit"]')]);
  await page.waitForSelector(`${row("evt_tok_1")}[data-status="done"]`, { timeout: 20_000 });
  assert.equal(await page.evaluate(() => document.cookie), "", "the session cookie is readable");
  const cookies = await browser.cookies();
  const session = cookies.find((c) => c.name === "whd_session");
  assert.ok(session?.httpOnly && session.sameSite === "Strict", JSON.stringify(session));

  // Actions work with the session (CSRF token from /api/session)...
  await page.click(`${row("evt_tok_1")} a`);
  await waitForCount(page, "tr[data-attempt]", 1);
  await clickButton(page, "Replay");
  await clickButton(page, "Confirm replay");
  await waitForCount(page, "tr[data-attempt]", 2);
  // ...and logging out ends it.
  await Promise.all([page.waitForNavigation(), clickButton(page, "Log out")]);
  await page.waitForSelector('form input[name="token"]');
  assert.ok(!server.logs().includes(TOKEN), "the token was logged");
  // The browser logs the 401 of the login page itself (wrong token, logged out); the page's
  // own requests must not fail.
  const loginPage = new RegExp(`status of 401 .*\\(${admin}/(login)?\\)$`);
  watched.problems = watched.problems.filter((m) => !loginPage.test(m));
  await assertClean(watched, "token console");
}

Deno.test({
  name: "console ui: with every live stream taken, the page polls every 2 s; paging with Load more",
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  if (missing) throw new Error(missing);
  const p = await project({ log: { level: "info" } });
  await handlers(p, p.path("flag"));
  const server = await p.start();
  const browser = await launchBrowser(p.dir);
  const streams: ReadableStreamDefaultReader<Uint8Array>[] = [];
  try {
    const admin = adminUrl(server);
    // Take every stream the listener allows (16), until it answers 429.
    while (true) {
      const response = await fetch(`${admin}/api/stream`);
      if (response.status === 429) {
        await response.body?.cancel();
        break;
      }
      assert.equal(response.status, 200);
      streams.push(response.body!.getReader());
      assert.ok(streams.length <= 64, "the stream cap never came");
    }
    const watched = await browser.open(admin);
    const { page } = watched;
    await showing(page, async () => {
      await page.goto(`${admin}/`, { waitUntil: "load" });
      await page.waitForSelector(".live-polling");
      await page.evaluate(() => Object.assign(globalThis, { __notReloaded: true }));
      await send(p, server, { id: "evt_poll_1", type: "order.created", data: {} });
      await waitForStatus(page, "evt_poll_1", "done");
      assert.equal(await page.evaluate(() => "__notReloaded" in globalThis), true);
      // Pages of 50: "Load more" brings the rest, and the next poll keeps them shown.
      for (let i = 0; i < 52; i++) {
        await send(p, server, { id: `evt_page_${String(i).padStart(2, "0")}`, type: "note" });
      }
      await page.waitForSelector(row("evt_page_51"));
      await waitForCount(page, "tr[data-id]", 50);
      await clickButton(page, "Load more");
      await waitForCount(page, "tr[data-id]", 53);
      assert.equal(await page.$(".more button"), null, "Load more after the last page");
      await send(p, server, { id: "evt_poll_2", type: "note" });
      await page.waitForSelector(row("evt_poll_2"));
      await waitForCount(page, "tr[data-id]", 54);
    });
    // The refused stream is logged by the browser itself; nothing else may be.
    const refused = /\/api\/stream\)$|EventSource's response has a MIME type/;
    watched.problems = watched.problems.filter((m) => !refused.test(m));
    await assertClean(watched, "polling console");
  } finally {
    for (const reader of streams) await reader.cancel().catch(() => {});
    await browser.close();
    await server.stop();
    await p.remove();
  }
});
