// The geometry of the task page's bar chart (items backed up per day), computed here so the
// template only draws SVG elements with attributes: no client-side chart library, and no inline
// styles (the CSP forbids them). Each day is a link that drills down to that day's runs.
import { weekdayOf } from '../scheduler/schedule.ts';
import type { ChartDay } from '../tasks/task-overview.ts';

export const CHART = { width: 720, height: 240, left: 60, right: 12, top: 16, bottom: 34 } as const;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "Nov 3" for 2026-11-03. */
export function shortDay(day: string): string {
  const [, m, d] = day.split('-');
  return `${MONTHS[Number(m) - 1]} ${Number(d)}`;
}

/** "Monday 3 Nov 2026" for 2026-11-03: a day of runs, named. */
export function longDay(day: string): string {
  const [y, m, d] = day.split('-');
  return `${weekdayOf(new Date(`${day}T00:00:00Z`))} ${Number(d)} ${MONTHS[Number(m) - 1]} ${y}`;
}

/** "Mon 3 Nov" for 2026-11-03, for the chart's table. */
export function tableDay(day: string): string {
  const [, m, d] = day.split('-');
  return `${weekdayOf(new Date(`${day}T00:00:00Z`)).slice(0, 3)} ${Number(d)} ${MONTHS[Number(m) - 1]}`;
}

/** The smallest 1, 2 or 5 × 10ⁿ at or above `max` (at least 4, so small counts get whole ticks). */
export function niceMax(max: number): number {
  if (max <= 4) return 4;
  const power = 10 ** Math.floor(Math.log10(max));
  for (const step of [1, 2, 5, 10]) if (step * power >= max) return step * power;
  return 10 * power;
}

export interface ChartBar {
  day: string;
  label: string;
  items: number;
  runs: number;
  failedRuns: number;
  x: number;
  y: number;
  width: number;
  height: number;
  /** The full-height area that takes the click (easier to hit than a short bar). */
  hitX: number;
  hitWidth: number;
  labelX: number;
  showLabel: boolean;
  selected: boolean;
  title: string;
  href: string;
}

export interface ChartModel {
  width: number;
  height: number;
  plot: { left: number; right: number; top: number; bottom: number };
  ticks: { y: number; label: string }[];
  bars: ChartBar[];
  total: number;
  summary: string;
}

export function chartModel(
  days: ChartDay[],
  options: { selected?: string; href: (day: string) => string },
): ChartModel {
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const max = niceMax(Math.max(0, ...days.map((d) => d.items)));
  const band = plotWidth / Math.max(1, days.length);
  const labelEvery = days.length <= 7 ? 1 : days.length <= 14 ? 2 : 5;
  const baseline = top + plotHeight;
  const bars = days.map((d, i) => {
    const h = d.items > 0 ? Math.max(2, (d.items / max) * plotHeight) : 0;
    const x = left + i * band;
    const kinds = d.byKind.length > 1 ? ` (${d.byKind.map((k) => `${k.label}: ${k.items}`).join(', ')})` : '';
    const runs = `${d.runs} run${d.runs === 1 ? '' : 's'}${d.failedRuns ? `, ${d.failedRuns} failed` : ''}`;
    return {
      day: d.day,
      label: shortDay(d.day),
      items: d.items,
      runs: d.runs,
      failedRuns: d.failedRuns,
      x: round(x + band * 0.15),
      y: round(baseline - h),
      width: round(band * 0.7),
      height: round(h),
      hitX: round(x),
      hitWidth: round(band),
      labelX: round(x + band / 2),
      // Every n-th day, counted back from the last (today), so today is always labelled.
      showLabel: (days.length - 1 - i) % labelEvery === 0,
      selected: d.day === options.selected,
      title: `${shortDay(d.day)}: ${d.items} item${d.items === 1 ? '' : 's'} backed up${kinds}; ${runs}`,
      href: options.href(d.day),
    };
  });
  const total = days.reduce((sum, d) => sum + d.items, 0);
  const first = days[0]?.day;
  const last = days[days.length - 1]?.day;
  return {
    width,
    height,
    plot: { left, right: width - right, top, bottom: baseline },
    ticks: [0, max / 2, max].map((v) => ({ y: round(baseline - (v / max) * plotHeight), label: formatCount(v) })),
    bars,
    total,
    summary: first && last ? `${total} items backed up from ${shortDay(first)} to ${shortDay(last)} (UTC).` : '',
  };
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}

function formatCount(n: number): string {
  if (n >= 1_000_000) return `${n / 1_000_000}M`;
  if (n >= 10_000) return `${n / 1000}k`;
  return String(n);
}
