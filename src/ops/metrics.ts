/**
 * In-process counters, gauges and histograms, rendered in the Prometheus text exposition
 * format (0.0.4) with `# HELP` and `# TYPE` on every family.
 *
 * Hot paths resolve a series once ({@linkcode Metrics.counter}, {@linkcode Metrics.histogram})
 * and then only add to a number: no label string is built per call. Every family whd exports is
 * documented in {@linkcode METRIC_HELP}, the one list the README's metrics table follows.
 *
 * @example
 * ```ts
 * import { DELIVERY_BUCKETS, Metrics } from "./metrics.ts";
 * const metrics = new Metrics();
 * metrics.counter("whd_events_total", { result: "stored" }).inc();
 * metrics.histogram("whd_delivery_seconds", { code: "200" }, DELIVERY_BUCKETS).observe(0.002);
 * metrics.render(); // "# HELP whd_delivery_seconds …\n# TYPE whd_delivery_seconds histogram\n…"
 * ```
 * @module
 */
import { TypeLabels } from "./type_labels.ts";

/** The `Content-Type` of {@linkcode Metrics.render}'s text (Prometheus text format 0.0.4). */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** Label names to values. */
export type Labels = Record<string, string>;

/** A Prometheus metric type. */
export type MetricKind = "counter" | "gauge" | "histogram";

/** Help text and type of every family whd exports. */
export const METRIC_HELP: Readonly<Record<string, { kind: MetricKind; help: string }>> = {
  whd_deliveries_total: {
    kind: "counter",
    help: "Requests to webhook routes by provider, webhook and HTTP status code answered.",
  },
  whd_delivery_seconds: {
    kind: "histogram",
    help: "Time from a delivery's request in to its reply out, by provider and webhook.",
  },
  whd_events_total: {
    kind: "counter",
    help: "Verified deliveries by result: stored, duplicate, ignored.",
  },
  whd_rejected_total: {
    kind: "counter",
    help:
      "Deliveries refused, by reason: a signature check code, ip_not_allowed, rate_limited, body_too_large.",
  },
  whd_store_errors_total: {
    kind: "counter",
    help: "Deliveries answered 503 because the inbox failed.",
  },
  whd_api_version_mismatch_total: {
    kind: "counter",
    help: "Stripe events whose api_version differs from the configured api_version, by version.",
  },
  whd_handler_runs_total: {
    kind: "counter",
    help:
      "Handler outcomes by provider and result (done, failed = retry scheduled, dead, unhandled, load_error, released).",
  },
  whd_handler_seconds: {
    kind: "histogram",
    help: "Handler run duration by provider, event type and outcome (done, failed, dead).",
  },
  whd_handlers_running: { kind: "gauge", help: "Handler runs in progress." },
  whd_handler_slots: {
    kind: "gauge",
    help:
      "Handler runs allowed at once: handlers.concurrency, or 1 while ingest first limits them.",
  },
  whd_retries_total: {
    kind: "counter",
    help: "Handler runs that failed with attempts left (a retry is scheduled), by provider.",
  },
  whd_dead_letters_total: {
    kind: "counter",
    help: "Events that became dead (no attempts left), by provider.",
  },
  whd_inbox_events: {
    kind: "gauge",
    help: "Events in the inbox by status (refreshed at most every few seconds).",
  },
  whd_oldest_pending_age_seconds: {
    kind: "gauge",
    help: "Age of the oldest event waiting to run (pending or failed), 0 when none.",
  },
  whd_reconcile_runs_total: {
    kind: "counter",
    help: "Scheduled reconciliation runs by provider and outcome (ok, incomplete, error, skipped).",
  },
  whd_backfilled_events_total: {
    kind: "counter",
    help: "Events stored by backfill (scheduled reconciliation) that had not been delivered.",
  },
};

// deno-fmt-ignore: a table of numbers, one line
/** Buckets of `whd_delivery_seconds`: 0.5 ms to 5 s. */
export const DELIVERY_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
];

// deno-fmt-ignore: a table of numbers, one line
/** Buckets of `whd_handler_seconds`: 5 ms to 5 min. */
export const HANDLER_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** Escapes a label value for the exposition format. */
function _escape(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : "\\" + c);
}

/** `a="x",b="y"`, names sorted, so that the same labels in any order are one series. */
function _labelText(labels: Labels): string {
  return Object.keys(labels).sort().map((k) => `${k}="${_escape(labels[k])}"`).join(",");
}

/**
 * A lookup key for `name` and `labels` as given: names and values in their own order, each
 * prefixed by its length so no two label sets share a key. The same labels in another order get
 * another raw key, which leads to the same series.
 */
function _rawKey(name: string, labels: Labels): string {
  let key = name;
  for (const k in labels) {
    const v = labels[k];
    key += `|${k.length}:${k}${v.length}:${v}`;
  }
  return key;
}

function _key(name: string, labelText: string): string {
  return labelText ? `${name}{${labelText}}` : name;
}

/** A number rendered as Prometheus reads it. */
function _num(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** A counter series with its labels fixed, for hot paths: no label string is built per call. */
export interface Counter {
  /** Adds `by` (default 1). */
  inc(by?: number): void;
}

/** A histogram series with its labels fixed. */
export interface Histogram {
  /** Records one observation (seconds for the `_seconds` families). */
  observe(value: number): void;
}

interface _Series {
  family: string;
  labels: string;
  value: number;
}

interface _HistogramSeries {
  family: string;
  labels: string;
  bounds: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

/** A registry of counters, gauges and histograms. */
export class Metrics {
  #series = new Map<string, _Series>();
  #histograms = new Map<string, _HistogramSeries>();
  /** The same series by `_rawKey`: a repeated call finds its series without sorting or escaping. */
  #seriesByRaw = new Map<string, _Series>();
  #histogramsByRaw = new Map<string, _HistogramSeries>();
  #help = new Map<string, string>();
  #kinds = new Map<string, MetricKind>();
  #beforeRender: (() => void)[] = [];
  #types: TypeLabels;

  /** `types` bounds event-type label values (default: the first 32 types per provider). */
  constructor(options: { types?: TypeLabels } = {}) {
    this.#types = options.types ?? new TypeLabels([]);
  }

  /** The bounded label value for an event type (see {@linkcode TypeLabels}). */
  typeLabel(provider: string, type: string): string {
    return this.#types.label(provider, type);
  }

  /**
   * The series `name{labels}` of one kind: found by its raw key (labels as given) when it was
   * asked for before, else by its canonical key, else made by `create`; the raw key is kept.
   */
  #resolve<S>(
    byRaw: Map<string, S>,
    byKey: Map<string, S>,
    name: string,
    labels: Labels,
    create: (labelText: string) => S,
  ): S {
    const raw = _rawKey(name, labels);
    let series = byRaw.get(raw);
    if (series) return series;
    const labelText = _labelText(labels);
    const k = _key(name, labelText);
    series = byKey.get(k);
    if (!series) byKey.set(k, series = create(labelText));
    byRaw.set(raw, series);
    return series;
  }

  #seriesFor(name: string, labels: Labels): _Series {
    return this.#resolve(
      this.#seriesByRaw,
      this.#series,
      name,
      labels,
      (labelText) => ({ family: name, labels: labelText, value: 0 }),
    );
  }

  /** Adds `by` (default 1) to a counter. */
  inc(name: string, labels: Labels = {}, by = 1): void {
    this.#seriesFor(name, labels).value += by;
  }

  /**
   * The series `name{labels}` as a {@linkcode Counter}, resolved once: the same series
   * {@linkcode Metrics.inc} with these labels adds to. It renders (as 0) from now on.
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
    const series = this.#seriesFor(name, labels);
    return { inc: (by = 1) => void (series.value += by) };
  }

  /**
   * The histogram series `name{labels}` with upper bounds `buckets` (ascending; `+Inf` is
   * implied), resolved once. Observing finds the bucket in the precomputed bound array.
   *
   * @example
   * ```ts
   * import { HANDLER_BUCKETS, Metrics } from "./metrics.ts";
   * const metrics = new Metrics();
   * metrics.histogram("whd_handler_seconds", { outcome: "done" }, HANDLER_BUCKETS).observe(0.3);
   * metrics.get("whd_handler_seconds", { outcome: "done" }); // 1 (the observation count)
   * ```
   */
  histogram(name: string, labels: Labels, buckets: readonly number[]): Histogram {
    const s = this.#resolve(
      this.#histogramsByRaw,
      this.#histograms,
      name,
      labels,
      (labelText) => ({
        family: name,
        labels: labelText,
        bounds: buckets,
        counts: new Float64Array(buckets.length + 1),
        sum: 0,
        count: 0,
      }),
    );
    const bounds = s.bounds;
    return {
      observe(value: number) {
        let i = 0;
        while (i < bounds.length && value > bounds[i]) i++;
        s.counts[i]++;
        s.sum += value;
        s.count++;
      },
    };
  }

  /** Sets a gauge. */
  set(name: string, labels: Labels, value: number): void {
    this.#seriesFor(name, labels).value = value;
  }

  /** Current value of a series (0 when never touched); for a histogram, its observation count. */
  get(name: string, labels: Labels = {}): number {
    const k = _key(name, _labelText(labels));
    return this.#series.get(k)?.value ?? this.#histograms.get(k)?.count ?? 0;
  }

  /** Documents a family in the rendered output (overrides {@linkcode METRIC_HELP}). */
  describe(name: string, help: string, kind?: MetricKind): void {
    this.#help.set(name, help);
    if (kind) this.#kinds.set(name, kind);
  }

  /**
   * Registers `fn` to run at the start of every {@linkcode Metrics.render} (synchronously):
   * it may set gauges from cached values, or start refreshing them for a later scrape.
   */
  beforeRender(fn: () => void): void {
    this.#beforeRender.push(fn);
  }

  /** The Prometheus text exposition of every series, families sorted by name. */
  render(): string {
    for (const fn of this.#beforeRender) fn();
    const families = new Map<string, string[]>();
    const add = (family: string, line: string) => {
      let lines = families.get(family);
      if (!lines) families.set(family, lines = []);
      lines.push(line);
    };
    const series = [...this.#series.values()].sort((a, b) => a.labels.localeCompare(b.labels));
    for (const s of series) add(s.family, `${_key(s.family, s.labels)} ${_num(s.value)}`);
    const histograms = [...this.#histograms.values()].sort((a, b) =>
      a.labels.localeCompare(b.labels)
    );
    for (const h of histograms) {
      const sep = h.labels ? `${h.labels},` : "";
      let cumulative = 0;
      for (let i = 0; i < h.bounds.length; i++) {
        cumulative += h.counts[i];
        add(h.family, `${h.family}_bucket{${sep}le="${_num(h.bounds[i])}"} ${cumulative}`);
      }
      add(h.family, `${h.family}_bucket{${sep}le="+Inf"} ${h.count}`);
      add(h.family, `${_key(`${h.family}_sum`, h.labels)} ${_num(h.sum)}`);
      add(h.family, `${_key(`${h.family}_count`, h.labels)} ${h.count}`);
    }
    const out: string[] = [];
    for (const name of [...families.keys()].sort()) {
      const known = METRIC_HELP[name];
      const kind = this.#kinds.get(name) ?? known?.kind ??
        (this.#histograms.size > 0 && histograms.some((h) => h.family === name)
          ? "histogram"
          : name.endsWith("_total")
          ? "counter"
          : "gauge");
      const help = this.#help.get(name) ?? known?.help ?? name.replaceAll("_", " ");
      out.push(`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`);
      out.push(`# TYPE ${name} ${kind}`);
      out.push(...families.get(name)!);
    }
    return out.length ? out.join("\n") + "\n" : "";
  }
}

/**
 * Records one handler outcome: `whd_handler_seconds` for runs that ended (done, failed, dead),
 * `whd_retries_total` for a retry scheduled and `whd_dead_letters_total` for a dead event.
 * `action` is the dispatcher's decision; other actions (unhandled, release) record nothing here.
 *
 * @example
 * ```ts
 * import { Metrics, observeRun } from "./metrics.ts";
 * const metrics = new Metrics();
 * observeRun(metrics, "stripe", "invoice.paid", "fail", 120);
 * metrics.get("whd_retries_total", { provider: "stripe" }); // 1
 * ```
 */
export function observeRun(
  metrics: Metrics,
  provider: string,
  type: string,
  action: string,
  ms: number,
): void {
  const outcome = action === "complete"
    ? "done"
    : action === "fail"
    ? "failed"
    : action === "bury"
    ? "dead"
    : undefined;
  if (!outcome) return;
  const labels = { provider, type: metrics.typeLabel(provider, type), outcome };
  metrics.histogram("whd_handler_seconds", labels, HANDLER_BUCKETS).observe(ms / 1000);
  if (outcome === "failed") metrics.inc("whd_retries_total", { provider });
  if (outcome === "dead") metrics.inc("whd_dead_letters_total", { provider });
}
