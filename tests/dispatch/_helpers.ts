/**
 * Shared set-up for the dispatch tests: temporary handler directories, configs, events.
 *
 * @module
 */
import { dirname, join } from "node:path";
import { type Config, ConfigSchema, type ProviderConfig } from "../../src/config/schema.ts";
import type { Event, IncomingEvent } from "../../src/event.ts";

/**
 * One temp dir per test module holding every dir {@linkcode scratchDir} makes; removed when the
 * module's tests are done (the `unload` event), so the suite leaves nothing in /tmp.
 */
const _ROOT = Deno.makeTempDirSync({ prefix: "whd_dispatch_tests_" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(_ROOT, { recursive: true });
  } catch { /* already gone */ }
});

/** A new empty directory, removed with the others when the test module ends. */
export function scratchDir(prefix = "whd_scratch_"): Promise<string> {
  return Deno.makeTempDir({ dir: _ROOT, prefix });
}

/** Writes `files` (relative path → text; a `mode` makes it executable) under a new temp dir. */
export async function handlersDir(
  files: Record<string, string | { text: string; mode: number }>,
): Promise<string> {
  const dir = await scratchDir("whd_handlers_");
  for (const [path, content] of Object.entries(files)) await writeFile(dir, path, content);
  return dir;
}

/** Writes one file under `dir`, creating folders. */
export async function writeFile(
  dir: string,
  path: string,
  content: string | { text: string; mode: number },
): Promise<string> {
  const full = join(dir, path);
  await Deno.mkdir(dirname(full), { recursive: true });
  const text = typeof content === "string" ? content : content.text;
  await Deno.writeTextFile(full, text);
  if (typeof content !== "string") await Deno.chmod(full, content.mode);
  return full;
}

/** A config with the given handler settings and providers stripe and github. */
export function testConfig(
  dir: string,
  handlers: Record<string, unknown> = {},
  providers: Partial<ProviderConfig>[] = [],
): Pick<Config, "handlers" | "providers"> {
  const parsed = ConfigSchema.shape.handlers.parse({ dir, watch: false, ...handlers });
  return {
    handlers: parsed,
    providers: [
      { name: "stripe", type: "stripe", webhooks: [] },
      { name: "github", type: "github", webhooks: [] },
      ...providers.map((p) => ({ name: "x", type: "hmac" as const, webhooks: [], ...p })),
    ],
  };
}

/** A stored-to-be event. */
export function incoming(
  id: string,
  type: string,
  provider = "stripe",
  payload: unknown = { id, type },
): IncomingEvent {
  return {
    id,
    provider,
    webhook: "main",
    type,
    payload: JSON.stringify(payload),
    receivedAt: 1_700_000_000_000,
    source: "delivery",
  };
}

/** An event as a handler receives it: a stripe `invoice.paid` unless `overrides` say otherwise. */
export function testEvent(overrides: Partial<Event> = {}): Event {
  return {
    id: "evt_1",
    provider: "stripe",
    webhook: "main",
    type: "invoice.paid",
    payload: { amount: 42 },
    received_at: new Date(0).toISOString(),
    source: "delivery",
    ...overrides,
  };
}

/** The github `push` event the executable handler tests feed to `push.sh`. */
export const PUSH_EVENT: Event = testEvent({
  id: "d-1",
  provider: "github",
  webhook: "repo",
  type: "push",
  payload: { ref: "refs/heads/main" },
});

/**
 * Handler source: a statement appending the JS expression `expr` and a newline to `file`,
 * so a test can read back ({@linkcode lines}) what ran and how often.
 */
export function appendLine(file: string, expr: string): string {
  return `await Deno.writeTextFile(${JSON.stringify(file)}, ${expr} + "\\n", { append: true });`;
}

/** The lines of a file written by a handler (empty while it does not exist). */
export async function lines(file: string): Promise<string[]> {
  try {
    return (await Deno.readTextFile(file)).split("\n").filter(Boolean);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
}

/** Polls `check` every 20 ms until it returns a truthy value or `ms` pass (then throws). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  ms = 10_000,
  what = "condition",
): Promise<NonNullable<Exclude<T, false | 0 | "">>> {
  const deadline = Date.now() + ms;
  while (true) {
    const value = await check();
    if (value) return value as NonNullable<Exclude<T, false | 0 | "">>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
