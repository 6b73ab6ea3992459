// Which records a restore writes: the chosen ones, their children down to the chosen depth (from
// the objects' child relationships, read in the other objects' snapshots at the same point in
// time) and the parents their required lookups need that do not live at the target. Reads the
// backup and asks the target which ids live there; writes nothing. Every record found goes to the
// restore's store on disk (restore-store) as it is read; the gathering itself holds a page of
// records at most.
import { gatherFileLinks, LINK } from './restore-links.ts';
import { isRequiredLookup, type ObjectInfo } from './restore-plan.ts';
import type { IdSet, RestoreStore } from './restore-store.ts';

/** A lookup field of a child object and the parent ids it must name. */
export interface ChildLink {
  field: string;
  parents: IdSet;
}

/**
 * The backup at the restore's point in time. Neither call holds a whole snapshot: children are
 * found in one pass over the child object's snapshot, handed on one at a time, and records are
 * read by id.
 */
export interface BackupSource {
  /** The records of an object's snapshot whose field of one of `links` names one of its parents. */
  children(object: string, links: readonly ChildLink[]): AsyncIterable<[string, Record<string, unknown>]>;
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

/**
 * Adds to the store (whose depth-0 records are the chosen ones) their children to `depth`, the
 * files' links and lost files, and the parents required lookups need; then marks in `store.live`
 * which restored ids, and which ids their lookups name, live at the target.
 */
export async function gatherRecords(
  store: RestoreStore,
  depth: number,
  source: BackupSource,
  target: RestoreTarget,
  signal: AbortSignal,
): Promise<void> {
  for (let level = 1; level <= depth; level++) {
    signal.throwIfAborted();
    const parentObjects = store.objects(level - 1);
    if (!parentObjects.length) break;
    // Every child object of this level's parents, with the fields that name them: one pass each.
    const links = new Map<string, Map<string, Set<string>>>();
    for (const object of parentObjects) {
      const info = await target.info(object);
      for (const child of info?.children ?? []) {
        if (NOT_CHILDREN.test(child.object) || SYSTEM_LOOKUPS.has(child.field)) continue;
        const childInfo = await target.info(child.object);
        if (!childInfo?.createable) continue;
        const fields = links.get(child.object) ?? new Map<string, Set<string>>();
        links.set(child.object, fields);
        const objects = fields.get(child.field) ?? new Set<string>();
        fields.set(child.field, objects);
        objects.add(object);
      }
    }
    for (const [object, fields] of links) {
      const childLinks = [...fields].map(([field, objects]) => ({
        field,
        // A parent: a record of this level's objects that have this child relationship.
        parents: {
          has: (id: string) => {
            const of = typeof id === 'string' && id ? store.objectAt(id, level - 1) : undefined;
            return of !== undefined && objects.has(of);
          },
        },
      }));
      for await (const [id, values] of source.children(object, childLinks)) {
        store.add({ object, id, values, depth: level });
      }
    }
  }

  // Files keep every share: a restored file's links, a restored link's lost file.
  await gatherFileLinks(store, source, target, signal);

  // Parents required lookups need: restored too when the target has them no more. A file's link
  // brings no parents: a link to a record not restored is left out instead (restore-links.ts).
  for (let round = 0; ; round++) {
    signal.throwIfAborted();
    const where = round === 0 ? 'object != ?' : 'object != ? and round = ?';
    for (const page of store.pages(where, LINK, ...(round === 0 ? [] : [round]))) {
      for (const r of page) {
        const info = await target.info(r.object);
        for (const f of info?.fields ?? []) {
          const v = r.values[f.name];
          if (!isRequiredLookup(f) || typeof v !== 'string' || !v || store.has(v)) continue;
          const object = target.objectOf(v, f.referenceTo);
          if (object) store.ask(object, v);
        }
      }
    }
    let added = 0;
    for (const [object, ids] of store.drainAsks()) {
      const found = await target.live(object, ids);
      for (const id of found) store.live.add(id);
      const rows = await source.records(
        object,
        ids.filter((id) => !found.has(id) && !store.has(id)),
      );
      for (const [id, values] of rows) {
        if (store.add({ object, id, values, depth: -1 }, round + 1)) added++;
      }
    }
    if (!added) break;
  }

  // Which restored records, and which records their lookups name, live at the target.
  for (const page of store.pages('1')) {
    for (const r of page) {
      store.ask(r.object, r.id);
      const info = await target.info(r.object);
      for (const f of info?.fields ?? []) {
        const v = r.values[f.name];
        if (f.type !== 'reference' || !f.createable || typeof v !== 'string' || !v || store.has(v)) continue;
        if (store.live.has(v)) continue;
        const object = target.objectOf(v, f.referenceTo);
        if (object) store.ask(object, v);
      }
    }
  }
  for (const [object, ids] of store.drainAsks()) {
    signal.throwIfAborted();
    for (const id of await target.live(object, ids)) store.live.add(id);
  }
}

/** The describes of the gathered records' objects; records of objects the target lacks are `unknown`. */
export async function objectInfos(
  store: RestoreStore,
  target: RestoreTarget,
): Promise<{ info: Map<string, ObjectInfo>; unknown: string[] }> {
  const info = new Map<string, ObjectInfo>();
  const unknown: string[] = [];
  for (const object of store.objects()) {
    const found = await target.info(object);
    if (found) info.set(object, found);
    else unknown.push(object);
  }
  return { info, unknown };
}
