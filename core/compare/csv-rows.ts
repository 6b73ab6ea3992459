// A compare's differences as CSV rows (through the one CSV writer, core/plugins/csv.ts, by the
// caller): one row per record unique to a side, one per changed field of a changed record, one per
// changed component (its diff is a download of its own).
import type { CompareSideInfo, CompareSummary, DifferenceLine } from './result-store.ts';

export const COMPARE_CSV_HEADER = ['Object', 'Key', 'Name', 'Difference', 'Field', 'Left value', 'Right value'];

/** A side as the page and the CSV name it: "<task> at <time>", or "<task> (live, read at <time>)". */
export function sideLabel(side: CompareSideInfo): string {
  return side.live ? `${side.taskName} (live, read at ${side.time})` : `${side.taskName} at ${side.time}`;
}

export function differenceLabel(side: DifferenceLine['side'], summary: CompareSummary): string {
  if (side === 'left') return `Only in ${sideLabel(summary.left)}`;
  if (side === 'right') return `Only in ${sideLabel(summary.right)}`;
  return 'Changed';
}

export async function* compareCsvRows(
  summary: CompareSummary,
  lines: AsyncIterable<DifferenceLine>,
): AsyncGenerator<string[]> {
  for await (const line of lines) {
    const object = summary.objects[line.o]?.name ?? '';
    const difference = differenceLabel(line.side, summary);
    if (line.fields?.length) {
      for (const f of line.fields) yield [object, line.key, line.name, difference, f.field, f.left, f.right];
    } else {
      yield [object, line.key, line.name, difference, '', '', ''];
    }
  }
}
