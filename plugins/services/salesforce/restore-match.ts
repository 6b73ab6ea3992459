// "We compare the records in the existing objects with the records being restored using the
// unique fields (except for the automatically generated id)" (seed 4.1.1.1): a record whose Id
// does not live at the target — another org, or a record deleted and made again — is matched to
// the target's live record holding the same value of one of its object's External ID or unique
// text fields. A matched record "exists at the target" for the restore mode (Overwrite updates
// the matched record, Bypass leaves it, Duplicate copies it), and lookups to it follow the
// matched id. One query per 200 values a field; objects without such fields cost nothing.
import type { ObjectInfo, SourceRecord } from './restore-plan.ts';

/** Text types whose values match exactly (quoted in SOQL); numbers and dates are not keys here. */
const KEY_TYPES = new Set(['string', 'email', 'phone', 'url']);

export interface MatchTarget {
  holding(object: string, field: string, values: readonly string[]): Promise<Map<string, string>>;
}

/** The fields an object's records are matched by, in describe order. */
export function matchFields(info: ObjectInfo): string[] {
  return info.fields.filter((f) => (f.externalId || f.unique) && KEY_TYPES.has(f.type)).map((f) => f.name);
}

/** Source id → the id of the live record at the target it matches (by a unique field). */
export async function matchRecords(
  records: readonly SourceRecord[],
  info: ReadonlyMap<string, ObjectInfo>,
  live: ReadonlySet<string>,
  target: MatchTarget,
  signal: AbortSignal,
): Promise<Map<string, string>> {
  const matched = new Map<string, string>();
  const taken = new Set<string>(live);
  for (const [object, objectInfo] of info) {
    let open = records.filter((r) => r.object === object && !live.has(r.id));
    for (const field of matchFields(objectInfo)) {
      signal.throwIfAborted();
      const keyValue = (r: SourceRecord) => {
        const v = r.values[field];
        return typeof v === 'string' && v !== '' ? v : undefined;
      };
      const values = [...new Set(open.map(keyValue).filter((v): v is string => v !== undefined))];
      if (!values.length) continue;
      const holders = await target.holding(object, field, values);
      for (const r of open) {
        const id = holders.get(keyValue(r)?.toLowerCase() ?? '');
        // One target record stands for one restored record; one restored record already there by Id wins.
        if (!id || taken.has(id)) continue;
        matched.set(r.id, id);
        taken.add(id);
      }
      open = open.filter((r) => !matched.has(r.id));
    }
  }
  return matched;
}
