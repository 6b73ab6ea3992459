// The geometry of the drill-down charts (an object's records added / updated / deleted per day,
// a task's API calls per day): grouped bars, one per series and day, computed here so the
// template draws plain SVG with attributes (the CSP forbids inline styles).
import type { DrilldownDay } from '../tasks/usage-drilldown.ts';
import { CHART, niceMax, shortDay } from './task-chart.ts';

export interface Series {
  key: 'added' | 'updated' | 'deleted' | 'apiCalls';
  label: string;
  /** CSS class of its bars (and legend swatch). */
  className: string;
}

export function groupedChart(days: DrilldownDay[], series: Series[]) {
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const baseline = top + plotHeight;
  const max = niceMax(Math.max(0, ...days.flatMap((d) => series.map((s) => d[s.key]))));
  const band = plotWidth / Math.max(1, days.length);
  const barWidth = (band * 0.8) / series.length;
  const labelEvery = days.length <= 7 ? 1 : days.length <= 14 ? 2 : 5;
  const round = (n: number) => Math.round(n * 10) / 10;
  const bars = days.flatMap((d, i) =>
    series
      .filter((s) => d[s.key] > 0)
      .map((s) => {
        const j = series.indexOf(s);
        const h = Math.max(2, (d[s.key] / max) * plotHeight);
        return {
          x: round(left + i * band + band * 0.1 + j * barWidth),
          y: round(baseline - h),
          width: round(Math.max(1, barWidth - 1)),
          height: round(h),
          className: s.className,
          title: `${shortDay(d.day)}: ${d[s.key]} ${s.label.toLowerCase()}`,
        };
      }),
  );
  const labels = days
    .map((d, i) => ({
      x: round(left + i * band + band / 2),
      text: shortDay(d.day),
      show: (days.length - 1 - i) % labelEvery === 0,
    }))
    .filter((l) => l.show);
  return {
    width,
    height,
    plot: { left, right: width - right, top, bottom: baseline },
    ticks: [0, max / 2, max].map((v) => ({ y: round(baseline - (v / max) * plotHeight), label: String(v) })),
    bars,
    labels,
    totals: series.map((s) => ({ ...s, total: days.reduce((sum, d) => sum + d[s.key], 0) })),
  };
}
