// "We compare the records in the existing objects with the records being restored using the
// unique fields (except for the automatically generated id)" (seed 4.1.1.1): a record whose Id
// does not live at the target — another org, or a record deleted and made again — is matched to
// the target's live record holding the same value of one of its object's External ID or unique
// fields: text (without case, as Salesforce compares), numbers (by value: 42 and 42.0 are one) and
// dates or date-times (by instant). A matched record "exists at the target" for the restore mode
// (Overwrite updates the matched record, Bypass leaves it, Duplicate copies it), and lookups to it
// follow the matched id. One query per 200 values a field; objects without such fields cost nothing.
import type { ObjectInfo, SourceRecord } from './restore-plan.ts';

const TEXT_TYPES = new Set(['string', 'email', 'phone', 'url']);
const NUMBER_TYPES = new Set(['double', 'int', 'long', 'currency', 'percent']);
const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** A key field of an object: its name and describe type. */
export interface KeyField {
  name: string;
  type: string;
}

export interface MatchTarget {
  /** Of these values of a field, the id of the live record at the target holding each, by `matchKey`. */
  holding(object: string, field: KeyField, values: readonly unknown[]): Promise<Map<string, string>>;
}

/** Instant of a Salesforce date-time ("2026-12-07T03:00:00.000+0000" or ISO 8601), or NaN. */
function instant(value: string): number {
  return Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

/**
 * The value two records must share to match, the same for the backed-up value and the target's
 * answer: text in lower case, a number's shortest form, a date as YYYY-MM-DD, a date-time as its
 * UTC instant. Undefined: empty, or not a value of that type (never matches).
 */
export function matchKey(type: string, value: unknown): string | undefined {
  if (TEXT_TYPES.has(type)) return typeof value === 'string' && value !== '' ? value.toLowerCase() : undefined;
  if (NUMBER_TYPES.has(type)) {
    const n =
      typeof value === 'number' ? value : typeof value === 'string' && value.trim() ? Number(value) : Number.NaN;
    return Number.isFinite(n) ? String(n) : undefined;
  }
  if (type === 'date') return typeof value === 'string' && DATE.test(value) ? value : undefined;
  if (type === 'datetime' && typeof value === 'string') {
    const t = instant(value);
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  }
  return undefined;
}

/** A value (one `matchKey` accepts) as a SOQL literal of its field's type. */
export function soqlLiteral(type: string, value: unknown): string {
  const key = matchKey(type, value);
  if (key === undefined) throw new Error(`not a ${type} value: ${JSON.stringify(value)}`);
  if (TEXT_TYPES.has(type)) return `'${String(value).replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  // Numbers plain (no exponent: SOQL has none), dates bare, date-times in UTC to the second.
  if (NUMBER_TYPES.has(type))
    return Number(key).toLocaleString('en-US', { useGrouping: false, maximumFractionDigits: 20 });
  if (type === 'datetime') return key.replace(/\.\d{3}Z$/, 'Z');
  return key;
}

/** The fields an object's records are matched by, in describe order. */
export function matchFields(info: ObjectInfo): KeyField[] {
  return info.fields
    .filter(
      (f) =>
        (f.externalId || f.unique) &&
        (TEXT_TYPES.has(f.type) || NUMBER_TYPES.has(f.type) || f.type === 'date' || f.type === 'datetime'),
    )
    .map((f) => ({ name: f.name, type: f.type }));
}

/** Source id → the id of the live record at the target it matches (by a unique field). */
export async function matchRecords(
  records: readonly SourceRecord[],
  info: ReadonlyMap<string, ObjectInfo>,
  live: { has(id: string): boolean },
  target: MatchTarget,
  signal: AbortSignal,
  /** Target ids already standing for a restored record (a restore matching page by page passes its own). */
  taken: { has(id: string): boolean; add(id: string): void } = new Set<string>(),
): Promise<Map<string, string>> {
  const matched = new Map<string, string>();
  for (const [object, objectInfo] of info) {
    let open = records.filter((r) => r.object === object && !live.has(r.id));
    for (const field of matchFields(objectInfo)) {
      signal.throwIfAborted();
      const keyOf = (r: SourceRecord) => matchKey(field.type, r.values[field.name]);
      // One value asked per key (the first record's spelling of it).
      const values = new Map<string, unknown>();
      for (const r of open) {
        const key = keyOf(r);
        if (key !== undefined && !values.has(key)) values.set(key, r.values[field.name]);
      }
      if (!values.size) continue;
      const holders = await target.holding(object, field, [...values.values()]);
      for (const r of open) {
        const key = keyOf(r);
        const id = key === undefined ? undefined : holders.get(key);
        // One target record stands for one restored record; one restored record already there by Id wins.
        if (!id || live.has(id) || taken.has(id)) continue;
        matched.set(r.id, id);
        taken.add(id);
      }
      open = open.filter((r) => !matched.has(r.id));
    }
  }
  return matched;
}
