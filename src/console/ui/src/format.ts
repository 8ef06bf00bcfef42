/**
 * Text for the page: times, durations, ages and payloads. Pure functions; the current time is
 * passed in.
 * @module
 */

const _pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * A local date and time, `2026-11-27 09:41:05`; "—" for null.
 *
 * @example
 * ```ts ignore
 * formatTime(null); // "—"
 * ```
 */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  const d = new Date(ms);
  return `${d.getFullYear()}-${_pad(d.getMonth() + 1)}-${_pad(d.getDate())} ` +
    `${_pad(d.getHours())}:${_pad(d.getMinutes())}:${_pad(d.getSeconds())}`;
}

/**
 * How long ago `ms` was, relative to `now`: `4s ago`, `12m ago`, `3h ago`, `2d ago`
 * (`in 30s` for a time ahead).
 *
 * @example
 * ```ts ignore
 * formatAge(1_000, 61_000); // "1m ago"
 * ```
 */
export function formatAge(ms: number | null | undefined, now: number): string {
  if (ms === null || ms === undefined) return "—";
  const delta = Math.round((now - ms) / 1000);
  const abs = Math.abs(delta);
  const text = abs < 60
    ? `${abs}s`
    : abs < 3600
    ? `${Math.floor(abs / 60)}m`
    : abs < 86_400
    ? `${Math.floor(abs / 3600)}h`
    : `${Math.floor(abs / 86_400)}d`;
  return delta >= 0 ? `${text} ago` : `in ${text}`;
}

/**
 * A duration in ms as `850 ms` or `2.4 s`.
 *
 * @example
 * ```ts ignore
 * formatDuration(2400); // "2.4 s"
 * ```
 */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "—";
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * The payload as indented JSON when it parses, else as it came. Shown as text, never as HTML.
 *
 * @example
 * ```ts ignore
 * prettyJson('{"a":1}'); // '{\n  "a": 1\n}'
 * ```
 */
export function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

/**
 * `ms` as the value of an `<input type="datetime-local">` (local time, to the minute).
 *
 * @example
 * ```ts ignore
 * toLocalInput(undefined); // ""
 * ```
 */
export function toLocalInput(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${_pad(d.getMonth() + 1)}-${_pad(d.getDate())}T` +
    `${_pad(d.getHours())}:${_pad(d.getMinutes())}`;
}

/**
 * The ms of an `<input type="datetime-local">` value (local time); undefined when empty.
 *
 * @example
 * ```ts ignore
 * fromLocalInput(""); // undefined
 * ```
 */
export function fromLocalInput(value: string): number | undefined {
  if (value === "") return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
