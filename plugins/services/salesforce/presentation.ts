// How Recovery shows Salesforce items: an object's records (and a metadata type's components)
// listed flat — their path is only the object's name, so there are no folders — with the record
// Id as the key searched for, and a record's stored content (the JSON of its fields, in describe
// order) as its field names and values.
import type { ItemField, ItemPresentation } from '../../../core/plugins/service.ts';

/** A field's value as text: empty for null, JSON for compound values (addresses, locations). */
function shown(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

/** A record's fields from its stored JSON; undefined for files, components, or content that is not a JSON object. */
export function recordFields(item: { kind: string }, content: Uint8Array): ItemField[] | undefined {
  if (item.kind !== 'record') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(content).toString('utf8'));
  } catch {
    return undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined;
  return Object.entries(parsed as Record<string, unknown>).map(([label, value]) => ({ label, value: shown(value) }));
}

/** The system fields a compare leaves out (seed 6.1): they change with every edit of a record. */
export const COMPARE_IGNORED_FIELDS = [
  'CreatedById',
  'CreatedDate',
  'LastModifiedById',
  'LastModifiedDate',
  'LastViewedDate',
  'LastReferencedDate',
  'SystemModstamp',
] as const;

export const salesforcePresentation: ItemPresentation = {
  listing: 'list',
  keyLabel: 'Record ID',
  fields: recordFields,
  compareIgnoredFields: COMPARE_IGNORED_FIELDS,
};
