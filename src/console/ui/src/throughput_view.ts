/// <reference lib="dom" />
/**
 * Throughput: deliveries received and handler outcomes (ok, error, timeout, crashed) per
 * bucket over the last hour (1-minute buckets) or day (15-minute buckets), drawn by uPlot, and
 * the backlog now: pending, running, failed (waiting for a retry), dead, the oldest waiting.
 * @module
 */
import { html } from "htm/preact";
import type { VNode } from "preact";
import { useEffect, useRef } from "preact/hooks";
import uPlot from "uplot";
import type { Api, Throughput } from "./api.ts";
import { ErrorLine, useJson, When } from "./parts.ts";

/** Props of {@linkcode ThroughputView}. */
export interface ThroughputViewProps {
  api: Api;
  now: () => number;
  tick: number;
  range: "hour" | "day";
  navigate(hash: string): void;
}

const _SERIES = [
  { key: "received", label: "received", stroke: "#2563eb", fill: "rgba(37,99,235,0.12)" },
  { key: "ok", label: "ok", stroke: "#16a34a" },
  { key: "error", label: "error", stroke: "#dc2626" },
  { key: "timeout", label: "timeout", stroke: "#d97706" },
  { key: "crashed", label: "crashed", stroke: "#7c3aed" },
] as const;
const _HEIGHT = 300;
const _bars = uPlot.paths.bars!({ size: [0.7, 40] });
const _steps = uPlot.paths.stepped!({ align: 1 });

function _aligned(data: Throughput): uPlot.AlignedData {
  return [
    data.buckets.map((b) => b.t / 1000),
    ..._SERIES.map((s) => data.buckets.map((b) => b[s.key])),
  ];
}

function _options(width: number, range: "hour" | "day"): uPlot.Options {
  return {
    width,
    height: _HEIGHT,
    scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(4, max)] } },
    axes: [{}, { label: range === "hour" ? "per minute" : "per 15 minutes" }],
    series: [
      { label: "time" },
      // Deliveries as bars, outcomes as steps: counts per bucket, nothing between them.
      ..._SERIES.map((s) => ({
        label: s.label,
        stroke: s.stroke,
        width: "fill" in s ? 1 : 2,
        ...("fill" in s ? { fill: s.fill, paths: _bars } : { paths: _steps }),
        points: { show: false },
      })),
    ],
  };
}

function Chart({ data, range }: { data: Throughput; range: "hour" | "day" }): VNode {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | undefined>(undefined);
  useEffect(() => {
    const element = box.current;
    if (!element) return;
    const width = () => Math.max(320, element.clientWidth);
    const chart = new uPlot(_options(width(), range), _aligned(data), element);
    plot.current = chart;
    const resize = () => chart.setSize({ width: width(), height: _HEIGHT });
    addEventListener("resize", resize);
    return () => {
      removeEventListener("resize", resize);
      chart.destroy();
      plot.current = undefined;
    };
  }, [range]);
  useEffect(() => plot.current?.setData(_aligned(data)), [data]);
  return html`<div class="chart" ref=${box} aria-label="Deliveries and outcomes chart"></div>`;
}

/**
 * The throughput page.
 *
 * @example
 * ```ts ignore
 * html`<${ThroughputView} api=${api} now=${Date.now} tick=${tick} range="hour" navigate=${go} />`;
 * ```
 */
export function ThroughputView(props: ThroughputViewProps): VNode {
  const loaded = useJson(
    () => props.api.get<Throughput>(`/api/throughput?range=${props.range}`),
    [props.range, props.tick],
  );
  const data = loaded.data;
  const now = props.now();
  const tile = (label: string, value: unknown, cls = "") =>
    html`<div class=${`tile ${cls}`}><span class="tile-value">${value}</span><span
        class="tile-label"
      >${label}</span></div>`;
  const totals = data
    ? data.buckets.reduce(
      (t, b) => ({
        received: t.received + b.received,
        ok: t.ok + b.ok,
        failed: t.failed + b.error + b.timeout + b.crashed,
      }),
      { received: 0, ok: 0, failed: 0 },
    )
    : undefined;
  return html`<section class="view view-throughput">
    <h1>Throughput</h1>
    <div class="tabs" role="tablist">
      ${
    (["hour", "day"] as const).map((r) =>
      html`
        <button role="tab" aria-selected=${props.range === r}
          class=${props.range === r ? "tab tab-on" : "tab"}
          onClick=${() => props.navigate(`#/throughput?range=${r}`)}>Last ${r}</button>
      `
    )
  }
    </div>
    <${ErrorLine} error=${loaded.error} />
    ${
    data === undefined ? html`<p class="muted">Loading…</p>` : html`
      <h2>Backlog now</h2>
      <div class="tiles">
        ${tile("pending", data.backlog.pending, "tile-pending")}
        ${tile("running", data.backlog.running, "tile-running")}
        ${tile("failed, waiting to retry", data.backlog.failed, "tile-failed")}
        ${tile("dead", data.backlog.dead, "tile-dead")}
        ${tile(
          "oldest waiting",
          data.backlog.oldest_waiting_at === null
            ? "none"
            : html`<${When} ms=${data.backlog.oldest_waiting_at} now=${now} />`,
        )}
      </div>
      <h2>Deliveries and handler outcomes</h2>
      <p class="lede">
        ${totals?.received} received, ${totals?.ok} handled, ${totals
          ?.failed} failed attempts in the
        last ${props.range}.
      </p>
      <${Chart} data=${data} range=${props.range} />
    `
  }
  </section>`;
}
