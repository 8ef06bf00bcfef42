/// <reference lib="dom" />
/**
 * Debian's headless Chromium driven by `puppeteer-core` (which never downloads a browser), with
 * everything a console test asserts on collected as it happens: console errors, uncaught page
 * errors, Content-Security-Policy violations, dialogs (an `alert` from an injected payload) and
 * every request that left for another origin. Name resolution is switched off for every host
 * but loopback, so nothing the page (or the browser) does can leave the machine.
 *
 * @module
 */
import { join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";

/** Where Debian's `chromium` package puts the browser. */
export const CHROMIUM = "/usr/bin/chromium";

/** A page and what it reported. */
export interface WatchedPage {
  page: Page;
  /** Console messages of type error, page errors, CSP violations, with what they said. */
  problems: string[];
  /** Messages of dialogs that opened (each is dismissed). */
  dialogs: string[];
  /** Requests to anything but `origin` (and data: URLs). */
  foreign: string[];
}

/** A running browser; `close()` ends it and removes its profile. */
export interface TestBrowser {
  browser: Browser;
  open(origin: string): Promise<WatchedPage>;
  close(): Promise<void>;
}

/** Whether the browser can run here (the test says why it cannot, instead of failing obscurely). */
export async function chromiumMissing(): Promise<string | undefined> {
  try {
    await Deno.stat(CHROMIUM);
    return undefined;
  } catch {
    return `${CHROMIUM} is missing: apt-get install -y chromium`;
  }
}

/** Launches headless Chromium with a throw-away profile under `dir`. */
export async function launchBrowser(dir: string): Promise<TestBrowser> {
  const profile = join(dir, "chromium-profile");
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    userDataDir: profile,
    // Chromium's crash reporter and caches write under XDG dirs: keep them in the temp dir.
    env: { ...Deno.env.toObject(), XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
    args: [
      // Tests run as root in CI containers, where Chromium's sandbox cannot start.
      "--no-sandbox",
      "--disable-dev-shm-usage",
      "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
      "--disable-features=Translate,OptimizationHints,MediaRouter",
    ],
  });
  return {
    browser,
    async open(origin: string): Promise<WatchedPage> {
      const page = await browser.newPage();
      await page.setViewport({ width: 1400, height: 900 });
      const watched: WatchedPage = { page, problems: [], dialogs: [], foreign: [] };
      page.on("console", (message) => {
        if (message.type() !== "error") return;
        const at = message.location().url;
        watched.problems.push(`console: ${message.text()}${at ? ` (${at})` : ""}`);
      });
      page.on("pageerror", (error) => watched.problems.push(`page error: ${error}`));
      page.on("dialog", async (dialog) => {
        watched.dialogs.push(dialog.message());
        await dialog.dismiss();
      });
      page.on("request", (request) => {
        const url = request.url();
        if (!url.startsWith(origin) && !url.startsWith("data:")) watched.foreign.push(url);
      });
      // Runs before the page's own scripts, outside its CSP (DevTools protocol).
      await page.evaluateOnNewDocument(() => {
        document.addEventListener("securitypolicyviolation", (e) => {
          console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
        });
      });
      return watched;
    },
    async close() {
      await browser.close();
      await Deno.remove(profile, { recursive: true }).catch(() => {});
    },
  };
}

/** The text of every element matching `selector`. */
export async function texts(page: Page, selector: string): Promise<string[]> {
  return await page.$$eval(selector, (nodes) => nodes.map((n) => n.textContent ?? ""));
}

/** Waits until `selector` matches exactly `count` elements. */
export async function waitForCount(
  page: Page,
  selector: string,
  count: number,
  timeout = 20_000,
): Promise<void> {
  try {
    await page.waitForFunction(
      (s: string, n: number) => document.querySelectorAll(s).length === n,
      { timeout },
      selector,
      count,
    );
  } catch (error) {
    const seen = await page.$$eval(selector, (n) => n.length).catch(() => "?");
    throw new Error(`${selector}: ${seen} elements, not ${count} (${error})`);
  }
}

/** Clicks the first button whose text is `label` (exactly, spaces trimmed). */
export async function clickButton(page: Page, label: string): Promise<void> {
  const handle = await page.waitForSelector(`::-p-xpath(//button[normalize-space(.)="${label}"])`, {
    timeout: 10_000,
  });
  if (!handle) throw new Error(`no button "${label}"`);
  await handle.click();
}

/**
 * Runs `body`; when it throws, the error also carries the page's URL and visible text, so a
 * failure says what the browser showed.
 */
export async function showing<T>(page: Page, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    const text = await page.evaluate(() => document.body?.innerText ?? "").catch(() => "?");
    throw new Error(`${error}\n--- the page at ${page.url()} showed:\n${text.slice(0, 3000)}`);
  }
}
