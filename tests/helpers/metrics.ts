/** Reading counters the way a scraper does: from the rendered `/metrics` text. */
import type { Metrics } from "../../src/ops/metrics.ts";

/** The value of the series of `name` whose labels include all of `labels`, from `/metrics`. */
export function seriesValue(metrics: Metrics, name: string, labels: Record<string, string>) {
  for (const line of metrics.render().split("\n")) {
    if (!line.startsWith(name + "{")) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) {
      return Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return 0;
}
