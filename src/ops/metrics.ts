/**
 * In-process counters and gauges, rendered in the Prometheus text format at `GET /metrics`.
 *
 * @example
 * ```ts
 * import { Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.inc("whd_requests_total", { status: "200" });
 * ```
 * @module
 */

/** Label names to values. */
export type Labels = Record<string, string>;

function key(name: string, labels: Labels): string {
  const parts = Object.keys(labels).sort().map((k) =>
    `${k}="${labels[k].replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : "\\" + c)}"`
  );
  return parts.length ? `${name}{${parts.join(",")}}` : name;
}

/** A counter series with its labels fixed, for hot paths: no label string is built per call. */
export interface Counter {
  /** Adds `by` (default 1). */
  inc(by?: number): void;
}

/** A registry of counters and gauges. */
export class Metrics {
  #values = new Map<string, number>();
  #help = new Map<string, string>();

  /** Adds `by` (default 1) to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    const k = key(name, labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }

  /**
   * The series `name{labels}` as a {@linkcode Counter}, resolved once: the same series
   * {@linkcode Metrics.inc} with these labels adds to.
   *
   * @example
   * ```ts
   * import { Metrics } from "./metrics.ts";
   * const metrics = new Metrics();
   * const stored = metrics.counter("whd_events_total", { result: "stored" });
   * stored.inc();
   * metrics.get("whd_events_total", { result: "stored" }); // 1
   * ```
   */
  counter(name: string, labels: Labels = {}): Counter {
    const k = key(name, labels);
    const values = this.#values;
    return { inc: (by = 1) => void values.set(k, (values.get(k) ?? 0) + by) };
  }

  /** Sets a gauge. */
  set(name: string, labels: Labels, value: number): void {
    this.#values.set(key(name, labels), value);
  }

  /** Current value of a series (0 when never touched). */
  get(name: string, labels: Labels = {}): number {
    return this.#values.get(key(name, labels)) ?? 0;
  }

  /** Documents a metric in the rendered output. */
  describe(name: string, help: string): void {
    this.#help.set(name, help);
  }

  /** The Prometheus text exposition of every series. */
  render(): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    for (const [series, value] of [...this.#values].sort(([a], [b]) => a.localeCompare(b))) {
      const name = series.replace(/\{.*$/, "");
      if (!seen.has(name)) {
        seen.add(name);
        const help = this.#help.get(name);
        if (help) lines.push(`# HELP ${name} ${help}`);
      }
      lines.push(`${series} ${value}`);
    }
    return lines.join("\n") + "\n";
  }
}
