// Which records a restore writes: the chosen ones, their children down to the chosen depth (from
// the objects' child relationships, read in the other objects' snapshots at the same point in
// time) and the parents their required lookups need that do not live at the target. Reads the
// backup and asks the target which ids live there; writes nothing.
import { isRequiredLookup, type ObjectInfo, type SourceRecord } from './restore-plan.ts';

/** The backup at the restore's point in time. */
export interface BackupSource {
  /** Every record of an object's snapshot (id → fields), or undefined without one. */
  records(object: string): Promise<ReadonlyMap<string, Record<string, unknown>> | undefined>;
}

/** The org written to. */
export interface RestoreTarget {
  info(object: string): Promise<ObjectInfo | undefined>;
  /** The object an id belongs to, among `candidates`, by its key prefix. */
  objectOf(id: string, candidates: readonly string[]): string | undefined;
  /** Of these ids of one object, those that live at the target. */
  live(object: string, ids: readonly string[]): Promise<Set<string>>;
}

/** Objects whose rows are not restored as children: history, sharing, feeds, change events. */
const NOT_CHILDREN = /(History|Share|Feed|ChangeEvent)$/;

/** Lookups every record has that point at users, not at parents to restore. */
const SYSTEM_LOOKUPS = new Set(['CreatedById', 'LastModifiedById', 'OwnerId']);

export interface Gathered {
  records: SourceRecord[];
  /** Ids (restored or referenced) that live at the target now. */
  live: Set<string>;
}

export async function gatherRecords(
  chosen: readonly SourceRecord[],
  depth: number,
  source: BackupSource,
  target: RestoreTarget,
  signal: AbortSignal,
): Promise<Gathered> {
  const set = new Map<string, SourceRecord>();
  for (const r of chosen) set.set(r.id, r);
  let frontier = [...chosen];
  for (let level = 1; level <= depth && frontier.length; level++) {
    signal.throwIfAborted();
    const next: SourceRecord[] = [];
    const byObject = groupBy(frontier, (r) => r.object);
    for (const [object, parents] of byObject) {
      const ids = new Set(parents.map((p) => p.id));
      const info = await target.info(object);
      for (const child of info?.children ?? []) {
        if (NOT_CHILDREN.test(child.object) || SYSTEM_LOOKUPS.has(child.field)) continue;
        const childInfo = await target.info(child.object);
        if (!childInfo?.createable) continue;
        const rows = await source.records(child.object);
        for (const [id, values] of rows ?? []) {
          const parent = values[child.field];
          if (set.has(id) || typeof parent !== 'string' || !ids.has(parent)) continue;
          const record = { object: child.object, id, values, depth: level };
          set.set(id, record);
          next.push(record);
        }
      }
    }
    frontier = next;
  }

  // Parents required lookups need: restored too when the target has them no more.
  const live = new Set<string>();
  let todo = [...set.values()];
  while (todo.length) {
    signal.throwIfAborted();
    const wanted = new Map<string, Set<string>>();
    for (const r of todo) {
      const info = await target.info(r.object);
      for (const f of info?.fields ?? []) {
        const v = r.values[f.name];
        if (!isRequiredLookup(f) || typeof v !== 'string' || !v || set.has(v)) continue;
        const object = target.objectOf(v, f.referenceTo);
        if (object) add(wanted, object, v);
      }
    }
    todo = [];
    for (const [object, ids] of wanted) {
      const found = await target.live(object, [...ids]);
      for (const id of found) live.add(id);
      const rows = await source.records(object);
      for (const id of ids) {
        const values = rows?.get(id);
        if (found.has(id) || !values || set.has(id)) continue;
        const record = { object, id, values, depth: -1 };
        set.set(id, record);
        todo.push(record);
      }
    }
  }

  // Which restored records, and which records their lookups name, live at the target.
  const ask = new Map<string, Set<string>>();
  for (const r of set.values()) {
    add(ask, r.object, r.id);
    const info = await target.info(r.object);
    for (const f of info?.fields ?? []) {
      const v = r.values[f.name];
      if (f.type !== 'reference' || !f.createable || typeof v !== 'string' || !v || set.has(v) || live.has(v)) continue;
      const object = target.objectOf(v, f.referenceTo);
      if (object) add(ask, object, v);
    }
  }
  for (const [object, ids] of ask) for (const id of await target.live(object, [...ids])) live.add(id);
  return { records: [...set.values()], live };
}

function add(map: Map<string, Set<string>>, key: string, value: string): void {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  set.add(value);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list) list.push(item);
    else out.set(k, [item]);
  }
  return out;
}
