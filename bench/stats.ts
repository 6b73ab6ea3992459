// Small helpers for benchmark figures.
export function summarize(values: number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  const median =
    sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { min: sorted[0] ?? 0, median, max: sorted.at(-1) ?? 0 };
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export function row(label: string, s: { min: number; median: number; max: number }, unit: string): string {
  const f = (n: number) => n.toFixed(1).padStart(8);
  return `${label.padEnd(34)} median ${f(s.median)} ${unit}   min ${f(s.min)}   max ${f(s.max)}`;
}
