/**
 * The one scrubber: replaces every configured secret in text headed for a log line, a stored
 * `last_error` or the CLI's output with `[redacted]`. It matches each secret raw and in the
 * forms a secret takes when it travels inside other text: JSON-escaped (up to three times, as
 * a log line's JSON escapes a value that was JSON already),
 * `\/`-escaped, URL-encoded (`%XX` and form `+`), base64 and base64url (at every byte
 * alignment, so a secret inside a longer encoded value such as an HTTP Basic credential is
 * found too) and hex of its UTF-8 bytes. All forms of all secrets are one regular expression,
 * so a line is scanned once.
 *
 * Secrets shorter than {@linkcode MIN_SECRET_LENGTH} are not scrubbed (scrubbing every "abc"
 * would garble the output and still reveal the secret by its holes): see
 * {@linkcode shortSecrets} to warn about them.
 *
 * @example
 * ```ts
 * import { createScrubber } from "./scrub.ts";
 * const scrubber = createScrubber(new Set(["sk_test_canary123"]));
 * scrubber.scrub('key "sk_test_canary123"'); // 'key "[redacted]"'
 * scrubber.scrub(btoa("sk_test_canary123:")); // "[redacted]…" (base64 form)
 * ```
 * @module
 */
import { secretEnvNames, splitSecrets } from "../config/secrets.ts";
import type { Config } from "../config/schema.ts";

/** What a secret is replaced with. */
export const REDACTED = "[redacted]";

/** Secrets shorter than this (in characters) are not scrubbed. */
export const MIN_SECRET_LENGTH = 8;

/** Replaces secrets in text. */
export interface Scrubber {
  /** `text` with every form of every secret replaced by {@linkcode REDACTED}. */
  scrub(text: string): string;
}

/** A secret value and the environment variable it was read from (for warnings). */
export interface NamedSecret {
  env: string;
  value: string;
}

const _encoder = new TextEncoder();

function _base64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function _hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The base64 text that encodes `bytes` wherever they sit in a longer encoded value: for each
 * alignment (0, 1 or 2 bytes before them) the characters that depend on these bytes only.
 */
function _base64Runs(bytes: Uint8Array): string[] {
  const runs = [_base64(bytes), _base64(bytes).replace(/=+$/, "")];
  for (let pad = 0; pad < 3; pad++) {
    const padded = new Uint8Array(pad + bytes.length);
    padded.set(bytes, pad);
    const text = _base64(padded).replace(/=+$/, "");
    const first = Math.ceil((8 * pad) / 6);
    const last = Math.floor((8 * (pad + bytes.length)) / 6);
    runs.push(text.slice(first, last));
  }
  return runs;
}

/**
 * Every form of `secret` the scrubber matches (deduplicated).
 *
 * @example
 * ```ts
 * import { secretForms } from "./scrub.ts";
 * secretForms('ab"cdefgh').includes('ab\\"cdefgh'); // true: the JSON-escaped form
 * ```
 */
export function secretForms(secret: string): string[] {
  const bytes = _encoder.encode(secret);
  const json = JSON.stringify(secret).slice(1, -1);
  const jsonTwice = JSON.stringify(json).slice(1, -1);
  const jsonThrice = JSON.stringify(jsonTwice).slice(1, -1);
  const url = encodeURIComponent(secret);
  const forms = [
    secret,
    json,
    jsonTwice,
    jsonThrice,
    json.replaceAll("/", "\\/"),
    url,
    url.replaceAll("%20", "+"),
    new URLSearchParams({ x: secret }).toString().slice(2),
    _hex(bytes),
  ];
  for (const run of _base64Runs(bytes)) {
    forms.push(run, run.replaceAll("+", "-").replaceAll("/", "_"));
  }
  // A run shorter than the secret's own minimum would match unrelated text.
  return [...new Set(forms)].filter((f) => f.length >= MIN_SECRET_LENGTH);
}

function _escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\\/-]/g, "\\$&");
}

function _compile(secrets: Iterable<string>): RegExp | null {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_SECRET_LENGTH) continue;
    for (const form of secretForms(secret)) forms.add(form);
    // A Standard Webhooks secret's key is the base64 after `whsec_`; libraries print it bare.
    const key = /^whsec_(.{8,})$/.exec(secret)?.[1];
    if (key) { for (const form of secretForms(key)) forms.add(form); }
  }
  if (forms.size === 0) return null;
  // Case-insensitive so %2f/%2F and hex in either case match; a false match needs a run of
  // at least MIN_SECRET_LENGTH characters equal to a secret's form but for case.
  return new RegExp(_trieSource([...forms].map(_asciiLower)), "gi");
}

function _asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

interface _Node {
  next: Map<string, _Node>;
  end: boolean;
}

/**
 * One regular expression for all `words` with their common prefixes merged (a trie): at each
 * position of the text the engine follows one branch instead of trying hundreds of
 * alternatives, so the cost per line barely grows with the number of secrets. Longer words
 * win (`?` is greedy).
 */
function _trieSource(words: string[]): string {
  const root: _Node = { next: new Map(), end: false };
  for (const word of words) {
    let node = root;
    for (const char of word) {
      let child = node.next.get(char);
      if (!child) node.next.set(char, child = { next: new Map(), end: false });
      node = child;
    }
    node.end = true;
  }
  const emit = (node: _Node): string => {
    const branches = [...node.next].map(([char, child]) => _escape(char) + emit(child));
    if (branches.length === 0) return "";
    const body = branches.length === 1 ? branches[0] : `(?:${branches.join("|")})`;
    return node.end ? `(?:${body})?` : body;
  };
  return emit(root);
}

/**
 * A scrubber for the values in `secrets`. The set may grow later (a command that resolves an
 * API key adds it): the expression is rebuilt on the next `scrub` after the set's size
 * changed, and otherwise built once.
 */
export function createScrubber(secrets: ReadonlySet<string>): Scrubber {
  let size = -1;
  let pattern: RegExp | null = null;
  return {
    scrub(text: string): string {
      if (secrets.size !== size) {
        size = secrets.size;
        pattern = _compile(secrets);
      }
      if (pattern === null || text.length < MIN_SECRET_LENGTH) return text;
      return text.replace(pattern, REDACTED);
    },
  };
}

/** A scrubber that changes nothing. */
export const NO_SCRUBBER: Scrubber = { scrub: (text) => text };

/**
 * Every secret the config names that is set in the environment: each value of every
 * webhook's `signing_secret_env` (the whole rotation list, or each variable of a YAML list),
 * each provider's `api_key_env`, the database's `auth_token_env` and `admin.token_env`. Unlike `resolveSecrets` it never throws: a variable
 * that is unset is simply not there (the command that needs it reports that).
 *
 * @example
 * ```ts ignore
 * const found = configuredSecrets(config, (name) => Deno.env.get(name));
 * const secrets = new Set(found.map((s) => s.value));
 * ```
 */
export function configuredSecrets(
  config: Pick<Config, "providers" | "database"> & { admin?: Config["admin"] },
  env: (name: string) => string | undefined,
): NamedSecret[] {
  const found: NamedSecret[] = [];
  const add = (name: string | undefined, split: boolean) => {
    if (name === undefined) return;
    const raw = env(name);
    if (raw === undefined) return;
    const values = split ? splitSecrets(raw) : [raw];
    // Trimmed too, as a client may send a key with the whitespace around it dropped.
    for (const value of new Set([...values, ...values.map((v) => v.trim())])) {
      if (value !== "") found.push({ env: name, value });
    }
  };
  for (const provider of config.providers) {
    add(provider.api_key_env, false);
    for (const webhook of provider.webhooks) {
      // One name: a comma-separated rotation list; a YAML list: one secret per variable.
      const listed = Array.isArray(webhook.signing_secret_env);
      for (const name of secretEnvNames(webhook)) add(name, !listed);
    }
  }
  add(config.database.auth_token_env, false);
  add(config.admin?.token_env, false);
  return found;
}

/**
 * The names of the variables holding a secret too short to scrub, each once, for a warning
 * such as "STRIPE_WEBHOOK_SECRET holds a secret shorter than 8 characters; it is not
 * scrubbed from output".
 */
export function shortSecrets(found: readonly NamedSecret[]): string[] {
  return [
    ...new Set(found.filter((s) => s.value.length < MIN_SECRET_LENGTH).map((s) => s.env)),
  ];
}

/**
 * `text` with the credentials of any URL in it removed: user info and `authToken=` values. Used
 * on messages of a driver or a CLI, which may quote the URL they failed on (a database URL, an
 * npm registry from `NPM_CONFIG_REGISTRY`).
 *
 * @example
 * ```ts
 * import { redactUrl } from "./scrub.ts";
 * redactUrl("Failed loading http://me:tok@registry.example/ms"); // "Failed loading http://registry.example/ms"
 * ```
 */
export function redactUrl(text: string): string {
  return text.replace(/\/\/[^/@]*@/g, "//").replace(/([?&]authToken=)[^&'"]*/gi, "$1…");
}
