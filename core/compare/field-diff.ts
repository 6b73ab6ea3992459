// Field-level differences of one item's two versions, from the service's own reading of an item's
// content as labelled fields (`presentation.fields`), leaving out the fields the service declares
// as bookkeeping (`presentation.compareIgnoredFields`: who and when touched a record).
import type { ItemField } from '../plugins/service.ts';

export interface FieldChange {
  field: string;
  left: string;
  right: string;
}

/** The fields whose values differ (a field missing on one side counts as empty there), in left order then right's new ones. */
export function fieldChanges(
  left: readonly ItemField[],
  right: readonly ItemField[],
  ignored: ReadonlySet<string>,
): FieldChange[] {
  const rightValues = new Map(right.map((f) => [f.label, f.value]));
  const leftLabels = new Set(left.map((f) => f.label));
  const changes: FieldChange[] = [];
  for (const field of left) {
    if (ignored.has(field.label)) continue;
    const other = rightValues.get(field.label) ?? '';
    if (other !== field.value) changes.push({ field: field.label, left: field.value, right: other });
  }
  for (const field of right) {
    if (ignored.has(field.label) || leftLabels.has(field.label) || field.value === '') continue;
    changes.push({ field: field.label, left: '', right: field.value });
  }
  return changes;
}
