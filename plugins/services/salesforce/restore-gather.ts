// Which records a restore writes: the chosen ones, their children down to the chosen depth (from
// the objects' child relationships, read in the other objects' snapshots at the same point in
// time) and the parents their required lookups need that do not live at the target. Reads the
// backup and asks the target which ids live there; writes nothing.
import { gatherFileLinks, LINK } from './restore-links.ts';
import { isRequiredLookup, type ObjectInfo, type SourceRecord } from './restore-plan.ts';

/** A lookup field of a child object and the parent ids it must name. */
export interface ChildLink {
  field: string;
  parents: ReadonlySet<string>;
}

/**
 * The backup at the restore's point in time. Neither call holds a whole snapshot: children are
 * found in one pass over the child object's snapshot keeping only the matching records, and
 * records are read by id.
 */
export interface BackupSource {
  /** The records of an object's snapshot whose field of one of `links` names one of its parents. */
  children(object: string, links: readonly ChildLink[]): Promise<Map<string, Record<string, unknown>>>;
  /** These records of an object's snapshot (those it has), id → fields. */
  records(object: string, ids: readonly string[]): Promise<Map<string, Record<string, unknown>>>;
  /** Every record of an object's snapshot, streamed (a replicate's parents). */
  all(object: string): AsyncIterable<[string, Record<string, unknown>]>;
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
    // Every child object of this level's parents, with the fields that name them: one pass each.
    const links = new Map<string, Map<string, Set<string>>>();
    for (const [object, parents] of groupBy(frontier, (r) => r.object)) {
      const info = await target.info(object);
      for (const child of info?.children ?? []) {
        if (NOT_CHILDREN.test(child.object) || SYSTEM_LOOKUPS.has(child.field)) continue;
        const childInfo = await target.info(child.object);
        if (!childInfo?.createable) continue;
        const fields = links.get(child.object) ?? new Map<string, Set<string>>();
        links.set(child.object, fields);
        const ids = fields.get(child.field) ?? new Set<string>();
        fields.set(child.field, ids);
        for (const p of parents) ids.add(p.id);
      }
    }
    for (const [object, fields] of links) {
      const found = await source.children(
        object,
        [...fields].map(([field, parents]) => ({ field, parents })),
      );
      for (const [id, values] of found) {
        if (set.has(id)) continue;
        const record = { object, id, values, depth: level };
        set.set(id, record);
        next.push(record);
      }
    }
    frontier = next;
  }

  // Files keep every share: a restored file's links, a restored link's lost file.
  await gatherFileLinks(set, source, target, signal);

  // Parents required lookups need: restored too when the target has them no more. A file's link
  // brings no parents: a link to a record not restored is left out instead (restore-links.ts).
  const live = new Set<string>();
  let todo = [...set.values()].filter((r) => r.object !== LINK);
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
      const rows = await source.records(
        object,
        [...ids].filter((id) => !found.has(id) && !set.has(id)),
      );
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
