/**
 * Output and flag helpers shared by the subcommands: aligned tables, `--json` text, durations,
 * integers.
 *
 * @example
 * ```ts
 * import { table, parseDuration } from "./format.ts";
 * table([{ id: "evt_1", status: "done" }]); // "ID     STATUS\nevt_1  done\n"
 * parseDuration("30d", "--older-than"); // 2_592_000_000
 * ```
 * @module
 */
import { UserError } from "../errors.ts";

/** Renders rows as an aligned plain-text table with upper-case headers (empty → `(none)`). */
export function table(rows: Record<string, unknown>[], columns?: string[]): string {
  if (rows.length === 0) return "(none)\n";
  const keys = columns ?? Object.keys(rows[0]);
  const cells = rows.map((row) =>
    keys.map((k) => row[k] === undefined || row[k] === null ? "" : String(row[k]))
  );
  const widths = keys.map((k, i) => Math.max(k.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) =>
    values.map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(keys.map((k) => k.toUpperCase())), ...cells.map(line)].join("\n") + "\n";
}

const UNITS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses `90s`, `15m`, `12h`, `30d`, `2w` into milliseconds; `flag` names it in the error. */
export function parseDuration(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  if (!match) {
    throw new UserError(
      `${flag} "${text}" is not a duration: use a number and a unit, e.g. 30d, 12h, 15m`,
      {
        exitCode: 2,
      },
    );
  }
  return Number(match[1]) * UNITS[match[2]];
}

/** Parses a whole number within bounds; `flag` names it in the error. */
export function parseInteger(
  text: string,
  flag: string,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const value = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || value < min || value > max) {
    throw new UserError(`${flag} "${text}" must be a whole number from ${min} to ${max}`, {
      exitCode: 2,
    });
  }
  return value;
}

/** A value as the CLI prints it for `--json`: indented by two spaces, ending in a newline. */
export function jsonText(value: unknown): string {
  return JSON.stringify(value, null, 2) + "\n";
}

/** Formats epoch milliseconds as ISO 8601, or empty for null. */
export function isoTime(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? "" : new Date(ms).toISOString();
}

/** `http://host:port`, with an IPv6 host in brackets. */
export function httpOrigin(host: string, port: number): string {
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}
