// Charts as Vega-Lite specs, rendered to SVG strings in Node (renderer "none": no canvas, no DOM,
// no network), so the report embeds them inline and opens from disk.

import type { TopLevelSpec } from "vega-lite";
import { type AggPoint, aggregate, type Curve } from "../analysis/curves.ts";

export type Spec = TopLevelSpec;

/** One SVG string for a Vega-Lite spec. */
export async function renderSvg(spec: Spec): Promise<string> {
  // Loaded on first use: vega takes ~0.5 s to import, which every other command would pay.
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export const REWARD_COLORS: Record<string, string> = {
  "self-certainty": "#1f77b4",
  "token-entropy": "#ff7f0e",
  "trajectory-entropy": "#2ca02c",
  correctness: "#d62728",
};

export interface Series {
  label: string;
  /** One curve per seed. */
  curves: Curve[];
}

interface Row extends AggPoint {
  label: string;
}

function rows(series: Series[]): Row[] {
  return series.flatMap((s) => aggregate(s.curves).map((p) => ({ label: s.label, ...p })));
}

function colorScale(labels: string[]) {
  return {
    domain: labels,
    range: labels.map(
      (l, i) => REWARD_COLORS[l] ?? ["#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#17becf"][i % 5],
    ),
  };
}

/** Mean over seeds as a line with points, min–max over seeds as a band. */
export function curveChart(
  series: Series[],
  o: { title: string; y: string; width?: number; height?: number },
): Spec {
  const labels = series.map((s) => s.label);
  const color = {
    field: "label",
    type: "nominal" as const,
    title: null,
    scale: colorScale(labels),
    // Opaque symbols: the legend would otherwise take the band's transparency.
    legend: { labelLimit: 300, symbolOpacity: 1 },
  };
  const x = { field: "step", type: "quantitative" as const, title: "step" };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: o.title,
    width: o.width ?? 300,
    height: o.height ?? 200,
    data: { values: rows(series) as unknown as Record<string, unknown>[] },
    layer: [
      {
        mark: { type: "area", opacity: 0.18 },
        encoding: {
          x,
          y: { field: "min", type: "quantitative" },
          y2: { field: "max" },
          color,
        },
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          x,
          y: { field: "mean", type: "quantitative", title: o.y, scale: { zero: false } },
          color,
        },
      },
    ],
  };
}

export interface XYPoint {
  x: number;
  mean: number;
  min: number;
  max: number;
}

/** A metric against a parameter (e.g. α), mean with a min–max error bar. */
export function xyChart(points: XYPoint[], o: { title: string; x: string; y: string; width?: number }): Spec {
  const x = { field: "x", type: "quantitative" as const, title: o.x };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: o.title,
    width: o.width ?? 170,
    height: 150,
    data: { values: points as unknown as Record<string, unknown>[] },
    layer: [
      {
        mark: { type: "rule" },
        encoding: { x, y: { field: "min", type: "quantitative" }, y2: { field: "max" } },
      },
      {
        mark: { type: "line", point: true },
        encoding: { x, y: { field: "mean", type: "quantitative", title: o.y, scale: { zero: false } } },
      },
    ],
  };
}
