/**
 * Turning config mistakes into one-line problems: `path.to.key (line N): what is wrong: how to
 * fix it`. Locates YAML paths in the parsed document and translates zod issues into plain words.
 *
 * @example
 * ```ts
 * import { LineCounter, parseDocument } from "yaml";
 * import { createLocator, formatProblem } from "./problems.ts";
 * const lineCounter = new LineCounter();
 * const doc = parseDocument("server:\n  port: abc\n", { lineCounter });
 * const locate = createLocator(doc, lineCounter);
 * formatProblem(["server", "port"], locate(["server", "port"]), "expected a number", "fix it");
 * // 'server.port (line 2): expected a number: fix it'
 * ```
 * @module
 */
import { type Document, isMap, isPair, isScalar, isSeq, type LineCounter } from "yaml";
import type { z } from "zod";

/** A path into the YAML document: mapping keys and sequence indexes. */
export type YamlPath = readonly (string | number)[];

/** Finds the 1-based line of the deepest node along a path (a key's line for mapping keys). */
export type Locator = (path: YamlPath) => number | undefined;

/** Builds a {@linkcode Locator} for one parsed document. */
export function createLocator(doc: Document, lineCounter: LineCounter): Locator {
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;
  return (path) => {
    let node: unknown = doc.contents;
    let line = lineAt(_rangeStart(node));
    for (const segment of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) =>
          isPair(p) && String(isScalar(p.key) ? p.key.value : p.key) === String(segment)
        );
        if (!pair) break;
        line = lineAt(_rangeStart(pair.key)) ?? line;
        node = pair.value;
      } else if (isSeq(node) && typeof segment === "number") {
        node = node.items[segment];
        if (node === undefined) break;
        line = lineAt(_rangeStart(node)) ?? line;
      } else {
        break;
      }
    }
    return line;
  };
}

function _rangeStart(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0];
}

/** Renders a path as the user would write it: `providers.stripe.webhooks.default.events[0]`. */
export function formatPath(path: YamlPath): string {
  if (path.length === 0) return "(top level)";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(segment)) out += (out ? "." : "") + segment;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** One problem line: `path (line N): what: fix`. */
export function formatProblem(
  path: YamlPath,
  line: number | undefined,
  what: string,
  fix: string,
): string {
  return `${formatPath(path)}${line === undefined ? "" : ` (line ${line})`}: ${what}: ${fix}`;
}

/** Orders problem lines by their `(line N)`, keeping the order of equal lines; unlined last. */
export function sortByLine(problems: readonly string[]): string[] {
  const lineOf = (p: string) =>
    Number(/ \(line (\d+)(?:, column \d+)?\): /.exec(p)?.[1] ?? Infinity);
  return problems.map((p, i) => ({ p, i, line: lineOf(p) }))
    .sort((a, b) => a.line - b.line || a.i - b.i)
    .map(({ p }) => p);
}

/** Levenshtein distance between two short strings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(
        previous[j] + 1,
        current[j - 1] + 1,
        previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = current;
  }
  return previous[b.length];
}

/** The allowed key closest to `key`, when it is close enough to be a likely typo. */
export function suggestKey(key: string, allowed: readonly string[]): string | undefined {
  const limit = Math.max(2, Math.floor(key.length / 3));
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const d = editDistance(key.toLowerCase(), candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return bestDistance <= limit ? best : undefined;
}

/** Describes a YAML value for "got …" in a message. */
export function describeValue(value: unknown): string {
  if (value === null) return "an empty value";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping (key: value lines)";
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value);
  }
  return String(value);
}

const _TYPE_WORDS: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  string: "a text value",
  boolean: "true or false",
  object: "a mapping (key: value lines)",
  record: "a mapping (key: value lines)",
  map: "a mapping (key: value lines)",
  array: "a list",
};

/** Keys whose values are env var names: their values are never echoed (they might be secrets). */
const _ENV_KEY = /_env$/;

// The parts of zod's schema internals we walk to list a mapping's allowed keys.
interface _SchemaNode {
  _zod: {
    def: {
      type: string;
      shape?: Record<string, _SchemaNode>;
      innerType?: _SchemaNode;
      valueType?: _SchemaNode;
      element?: _SchemaNode;
      in?: _SchemaNode;
    };
  };
}

function _unwrap(node: _SchemaNode | undefined): _SchemaNode | undefined {
  while (node) {
    const def = node._zod.def;
    if (def.innerType) node = def.innerType;
    else if (def.type === "pipe" && def.in) node = def.in;
    else break;
  }
  return node;
}

/** The allowed keys of the strict object at `path` in `schema` (empty when not an object). */
export function allowedKeysAt(schema: z.ZodType, path: YamlPath): string[] {
  let node = _unwrap(schema as unknown as _SchemaNode);
  for (const segment of path) {
    const def = node?._zod.def;
    if (!def) return [];
    if (def.type === "object") node = _unwrap(def.shape?.[String(segment)]);
    else if (def.type === "record") node = _unwrap(def.valueType);
    else if (def.type === "array") node = _unwrap(def.element);
    else return [];
  }
  const shape = node?._zod.def.type === "object" ? node._zod.def.shape : undefined;
  return shape ? Object.keys(shape) : [];
}

/** A problem found by zod, reduced to the fields we read. */
export interface SchemaIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  input?: unknown;
  expected?: string;
  keys?: string[];
  values?: unknown[];
  origin?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  inclusive?: boolean;
  format?: string;
  issues?: SchemaIssue[];
}

/** A hint that is not a zod issue: where a misplaced key belongs instead. */
export type Misplaced = (key: string, path: YamlPath) => string | undefined;

/**
 * Translates one zod issue (parsed with `reportInput: true`) into problem lines.
 * `hasInput` tells a missing key (no input) from an explicit empty value.
 */
export function describeIssue(
  issue: SchemaIssue,
  schema: z.ZodType,
  locate: Locator,
  misplaced: Misplaced = () => undefined,
): string[] {
  const path = issue.path.filter((s): s is string | number => typeof s !== "symbol");
  const key = String(path.at(-1) ?? "");
  const secretive = _ENV_KEY.test(key);
  const got = secretive ? "" : `, got ${describeValue(issue.input)}`;
  const at = (what: string, fix: string, where: YamlPath = path) =>
    formatProblem(where, locate(where), what, fix);
  switch (issue.code) {
    case "unrecognized_keys": {
      const allowed = allowedKeysAt(schema, path);
      return (issue.keys ?? []).map((unknownKey) => {
        const where = [...path, unknownKey];
        const elsewhere = misplaced(unknownKey, path);
        if (elsewhere) return at(`key "${unknownKey}" does not belong here`, elsewhere, where);
        const suggestion = suggestKey(unknownKey, allowed);
        return suggestion
          ? at(`unknown key "${unknownKey}" — did you mean "${suggestion}"?`, "rename it", where)
          : at(
            `unknown key "${unknownKey}"`,
            `remove it; allowed here: ${allowed.join(", ")}`,
            where,
          );
      });
    }
    case "invalid_type": {
      const expected = _TYPE_WORDS[issue.expected ?? ""] ?? issue.expected ?? "another value";
      if (issue.input === undefined) {
        return [at(`missing "${key}"`, `add "${key}:" with ${expected}`, path.slice(0, -1))];
      }
      return [at(`expected ${expected}${got}`, "change the value")];
    }
    case "invalid_value": {
      const values = (issue.values ?? []).map(String);
      return [at(`must be one of ${values.join(", ")}${got}`, "use one of the listed values")];
    }
    case "too_small":
    case "too_big": {
      const small = issue.code === "too_small";
      const bound = String(small ? issue.minimum : issue.maximum);
      if (issue.origin === "string") {
        return [
          small && bound === "1"
            ? at("must not be empty", "give it a value or remove the key")
            : at(`must be ${small ? "at least" : "at most"} ${bound} characters`, "change it"),
        ];
      }
      if (issue.origin === "array") {
        return [at(
          `must list ${small ? "at least" : "at most"} ${bound} entr${bound === "1" ? "y" : "ies"}`,
          small ? "add entries or remove the key" : "remove entries",
        )];
      }
      const relation = small
        ? (issue.inclusive ? "at least" : "greater than")
        : (issue.inclusive ? "at most" : "less than");
      return [at(`must be ${relation} ${bound}${got}`, "change the number")];
    }
    case "invalid_format": {
      if (secretive) {
        return [at(
          "must be the name of an environment variable (letters, digits and _)",
          "put the secret itself in an environment variable and name that variable here",
        )];
      }
      const what = issue.format === "url"
        ? "must be a URL such as https://hooks.example.com"
        : issue.message;
      return [at(`${what}${got}`, "change the value")];
    }
    case "invalid_key": {
      const reasons = (issue.issues ?? []).map((i) => i.message).join("; ") || issue.message;
      return [at(`name ${describeValue(key)} is not allowed`, `rename it (${reasons})`)];
    }
    case "not_multiple_of":
      return [at(issue.message, "change the number")];
    case "custom":
      return [at(issue.message, "see the example config/whd.yaml")];
    default:
      return [at(issue.message, "fix the value")];
  }
}
