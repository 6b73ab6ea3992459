// What the Recovery pages ask of the catalog for one backed-up entity: its snapshots in a date
// range, the folder tree as it was at one snapshot, and an item search (words, parts of the text
// columns, dates) with, per hit, the snapshot to recover it from. The catalog stores a version only when an
// item changed, so "the state at snapshot S" is each item's newest version in the entity's
// snapshots up to S, unless that version is a deletion.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { runSql, selectMatching } from '../db/catalog-sql.ts';
import { containsPattern } from '../db/text-search.ts';
import { CatalogSnapshot, type ICatalogSnapshot } from './entities.ts';
import { damageOf, type SnapshotDamage } from './snapshot-damage.ts';

/** A backed-up entity in the catalog: its task id and its external id at the service. */
export interface EntityScope {
  task: string;
  entity: string;
}

export interface SnapshotSummary {
  id: string;
  repository: string;
  time: Date;
  items: number;
  bytes: number;
  /** What the last verification found lost in it (core/catalog/snapshot-damage.ts); null: nothing. */
  damage?: SnapshotDamage | null;
}

async function summaries(em: EntityManager, rows: ICatalogSnapshot[]): Promise<SnapshotSummary[]> {
  const damage = await damageOf(
    em,
    rows.map((s) => s.id),
  );
  return rows.map((s) => ({
    id: s.id,
    repository: s.repository.id,
    time: s.time,
    items: s.items,
    bytes: Number(s.bytes),
    damage: damage.get(s.id) ?? null,
  }));
}

/** The entity's snapshots taken between `from` and `to` (inclusive), newest first. */
export async function entitySnapshots(
  em: EntityManager,
  scope: EntityScope,
  range: { from?: Date | undefined; to?: Date | undefined; limit?: number } = {},
): Promise<SnapshotSummary[]> {
  const where: FilterQuery<ICatalogSnapshot> = { task: scope.task, entity: scope.entity };
  if (range.from || range.to) {
    where.time = {
      ...(range.from ? { $gte: range.from } : {}),
      ...(range.to ? { $lte: range.to } : {}),
    };
  }
  const rows = await em.find(CatalogSnapshot, where, {
    orderBy: { time: 'desc', id: 'asc' },
    limit: Math.min(Math.max(range.limit ?? 200, 1), 1000),
  });
  return summaries(em, rows);
}

/** One snapshot of the entity, or undefined when the id names another entity's snapshot. */
export async function entitySnapshot(
  em: EntityManager,
  scope: EntityScope,
  id: string,
): Promise<SnapshotSummary | undefined> {
  const row = await em.findOne(CatalogSnapshot, { id, task: scope.task, entity: scope.entity });
  return row ? (await summaries(em, [row]))[0] : undefined;
}

/** First and last snapshot times of each entity of a task (for the Recovery entity list). */
export async function snapshotSpans(
  em: EntityManager,
  task: string,
): Promise<Map<string, { first: Date; last: Date; count: number }>> {
  const rows = await runSql<{ entity: string; first: number | string; last: number | string; count: number }[]>(
    em,
    'select entity, min(time) as first, max(time) as last, count(*) as count from catalog_snapshots where task = ? group by entity',
    [task],
  );
  return new Map(rows.map((r) => [r.entity, { first: toDate(r.first), last: toDate(r.last), count: Number(r.count) }]));
}

function toDate(value: number | string | Date): Date {
  return value instanceof Date
    ? value
    : new Date(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);
}

export interface BrowseEntry {
  /** The folder or file name shown (one path segment). */
  name: string;
  folder: boolean;
  /** Path of the entry from the entity's root, without a leading slash ("Finance/2026"). */
  path: string;
  /** The item's key, for files (and folders stored as items). */
  key: string | null;
  kind: string | null;
  /** For a folder: the bytes of everything below it. */
  size: number;
  /** For a folder: the items below it. */
  items: number;
  modified: Date | null;
  author: string | null;
}

/**
 * The items present at `snapshot` (newest version up to it, not deleted), as a CTE named `state`
 * with columns key, kind, name, path (no leading slash), size, modified, author, editor.
 * Parameters: repository, task, entity, snapshot id.
 */
export const STATE_AT_SNAPSHOT = `
with snaps as (
  select id, time from catalog_snapshots
  where repository_id = ? and task = ? and entity = ?
    and time <= (select time from catalog_snapshots where id = ?)
),
ranked as (
  select v.item_id, v.size, v.modified, v.author, v.editor, v.deleted,
         row_number() over (partition by v.item_id order by s.time desc, v.id desc) as rn
  from catalog_versions v join snaps s on s.id = v.snapshot_id
),
state as (
  select i.key, i.kind, i.name, ltrim(i.path, '/') as path, r.size, r.modified,
         coalesce(r.author, i.author) as author, r.editor
  from ranked r join catalog_items i on i.id = r.item_id
  where r.rn = 1 and r.deleted = false
)`;

/** Normalises a folder path typed or linked ("/Finance/", "Finance") to "Finance/" ("" is the root). */
export function folderPrefix(folder: string): string {
  const trimmed = folder.replace(/^\/+|\/+$/g, '');
  return trimmed ? `${trimmed}/` : '';
}

/** The folders and files directly in `folder` at the snapshot: folders first, then by name. */
export async function browseSnapshot(
  em: EntityManager,
  snapshot: SnapshotSummary & EntityScope,
  folder: string,
  page: { limit: number; offset: number },
): Promise<{ entries: BrowseEntry[]; total: number }> {
  const prefix = folderPrefix(folder);
  const sql = `${STATE_AT_SNAPSHOT},
children as (
  select substr(path, length(?) + 1) as rest, key, kind, size, modified, author
  from state where substr(path, 1, length(?)) = ? and length(path) > length(?)
),
grouped as (
  select case when instr(rest, '/') > 0 then substr(rest, 1, instr(rest, '/') - 1) else rest end as seg,
         max(case when instr(rest, '/') > 0 or kind = 'folder' then 1 else 0 end) as folder,
         sum(case when instr(rest, '/') > 0 or kind <> 'folder' then 1 else 0 end) as items,
         sum(size) as size, max(modified) as modified,
         max(case when instr(rest, '/') = 0 then key end) as key,
         max(case when instr(rest, '/') = 0 then kind end) as kind,
         max(case when instr(rest, '/') = 0 then author end) as author
  from children group by seg
)`;
  const scopeParams = [
    snapshot.repository,
    snapshot.task,
    snapshot.entity,
    snapshot.id,
    prefix,
    prefix,
    prefix,
    prefix,
  ];
  const [countRow] = await runSql<{ total: number }[]>(em, `${sql} select count(*) as total from grouped`, scopeParams);
  const rows = await runSql<
    {
      seg: string;
      folder: number;
      items: number;
      size: number;
      modified: number | string | null;
      key: string | null;
      kind: string | null;
      author: string | null;
    }[]
  >(em, `${sql} select * from grouped order by folder desc, lower(seg), seg limit ? offset ?`, [
    ...scopeParams,
    page.limit,
    page.offset,
  ]);
  return {
    total: Number(countRow?.total ?? 0),
    entries: rows.map((r) => {
      const folder = Number(r.folder) === 1;
      return {
        name: r.seg,
        folder,
        path: `${prefix}${r.seg}`,
        key: r.key,
        kind: r.kind,
        size: Number(r.size ?? 0),
        items: Number(r.items ?? 0),
        modified: r.modified === null ? null : toDate(r.modified),
        author: r.author,
      };
    }),
  };
}

/** Children listed at once when resolving a path's case (a folder's entries, not the snapshot's). */
const RESOLVE_CHILDREN = 100_000;

/**
 * The path as the snapshot spells it: `folder` itself when an item has that path or lies below
 * it; with `caseInsensitive` (the service's rule) the path whose segments equal it ignoring
 * case, the exact spelling preferred at each level; undefined when nothing matches.
 */
export async function resolvePath(
  em: EntityManager,
  snapshot: SnapshotSummary & EntityScope,
  folder: string,
  caseInsensitive: boolean | undefined,
): Promise<string | undefined> {
  const path = folder.replace(/^\/+|\/+$/g, '');
  if (path === '') return '';
  const [hit] = await runSql<{ found: number }[]>(
    em,
    `${STATE_AT_SNAPSHOT} select 1 as found from state where path = ? or substr(path, 1, length(?)) = ? limit 1`,
    [snapshot.repository, snapshot.task, snapshot.entity, snapshot.id, path, `${path}/`, `${path}/`],
  );
  if (hit) return path;
  if (!caseInsensitive) return undefined;
  let resolved = '';
  for (const segment of path.split('/').filter(Boolean)) {
    const { entries } = await browseSnapshot(em, snapshot, resolved, { limit: RESOLVE_CHILDREN, offset: 0 });
    const lower = segment.toLowerCase();
    const match = entries.find((e) => e.name === segment) ?? entries.find((e) => e.name.toLowerCase() === lower);
    if (!match) return undefined;
    resolved = match.path;
  }
  return resolved;
}

/** Whether any of `keys` is an item present at the snapshot. */
export async function anyKeyPresent(
  em: EntityManager,
  snapshot: SnapshotSummary & EntityScope,
  keys: readonly string[],
): Promise<boolean> {
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const [hit] = await runSql<{ found: number }[]>(
      em,
      `${STATE_AT_SNAPSHOT} select 1 as found from state where key in (${chunk.map(() => '?').join(', ')}) limit 1`,
      [snapshot.repository, snapshot.task, snapshot.entity, snapshot.id, ...chunk],
    );
    if (hit) return true;
  }
  return false;
}

/** Keys of every item at the snapshot below the given folders (what "restore this folder" means). */
export async function keysBelow(
  em: EntityManager,
  snapshot: SnapshotSummary & EntityScope,
  folders: readonly string[],
): Promise<string[]> {
  if (folders.length === 0) return [];
  const prefixes = folders.map(folderPrefix);
  const conditions = prefixes.map(() => '(substr(path, 1, length(?)) = ? or path = ?)').join(' or ');
  const rows = await runSql<{ key: string }[]>(
    em,
    `${STATE_AT_SNAPSHOT} select key from state where ${conditions} order by key`,
    [
      snapshot.repository,
      snapshot.task,
      snapshot.entity,
      snapshot.id,
      ...prefixes.flatMap((p) => [p, p, p.slice(0, -1)]),
    ],
  );
  return rows.map((r) => r.key);
}

/** The catalog's text columns a search can ask to contain a value. */
export type TextColumn = 'name' | 'path' | 'author' | 'editor';

/** Each text column's stored folded key (core/db/fold.ts) on the item (i) and its newest version (v). */
const TEXT_COLUMNS: Record<TextColumn, string> = {
  name: 'i.name_key',
  path: 'i.path_key',
  author: "coalesce(v.author_key, i.author_key, '')",
  editor: "coalesce(v.editor_key, '')",
};

/** Keys asked for at once by a search by keys. */
export const MAX_SEARCH_KEYS = 100;

/** Whether a search finds items deleted at the source ('include', the default), leaves them out, or finds only them. */
export type DeletedItems = 'include' | 'exclude' | 'only';

export interface ItemQuery {
  /** Words (all must match; the last as a prefix), over name, path and author. */
  text?: string | undefined;
  /** Parts of text columns (ignoring case), e.g. `{ author: 'ana' }`. */
  contains?: Partial<Record<TextColumn, string | undefined>>;
  /** Modified at or after / before (the item's newest version). */
  modifiedFrom?: Date | undefined;
  modifiedTo?: Date | undefined;
  /** Exact item keys (at most MAX_SEARCH_KEYS; more are ignored). */
  keys?: readonly string[] | undefined;
  /** Items deleted at the source by the newest snapshot: 'include' (default), 'exclude' or 'only'. */
  deleted?: DeletedItems | undefined;
  limit?: number;
}

export interface ItemHit {
  key: string;
  kind: string;
  name: string;
  path: string;
  author: string | null;
  /** Who last changed it (the service's editor field), or null. */
  editor: string | null;
  size: number;
  modified: Date | null;
  /** Deleted at the source by the entity's newest snapshot. */
  deleted: boolean;
  /** The newest snapshot that holds the item (for a deleted item, the last one before its deletion). */
  snapshot: { id: string; time: Date } | null;
}

interface HitRow {
  key: string;
  kind: string;
  name: string;
  path: string;
  author: string | null;
  editor: string | null;
  size: number;
  modified: number | string | null;
  deleted: number;
  snapshot: string;
  repository: string;
}

/** Items of one entity matching the query, newest first (at most `limit`, default 100). */
export async function searchEntityItems(em: EntityManager, scope: EntityScope, query: ItemQuery): Promise<ItemHit[]> {
  const limit = Math.min(Math.max(query.limit ?? 100, 1), 500);
  const where: string[] = ['s.task = ?', 's.entity = ?'];
  const params: unknown[] = [scope.task, scope.entity];
  for (const [column, value] of Object.entries(query.contains ?? {})) {
    if (!value || !Object.hasOwn(TEXT_COLUMNS, column)) continue;
    where.push(`${TEXT_COLUMNS[column as TextColumn]} like ? escape '\\'`);
    params.push(containsPattern(value));
  }
  const keys = (query.keys ?? []).filter(Boolean).slice(0, MAX_SEARCH_KEYS);
  if (keys.length) {
    where.push(`i.key in (${keys.map(() => '?').join(', ')})`);
    params.push(...keys);
  }
  if (query.deleted === 'exclude') where.push('v.deleted = false');
  if (query.deleted === 'only') where.push('v.deleted = true');
  // The newest version of each item decides its size, date and whether it is deleted.
  const latest =
    'join catalog_versions v on v.id = (select max(v2.id) from catalog_versions v2 where v2.item_id = i.id)';
  const select = (items: string, itemParams: unknown[], max: number) =>
    runSql<HitRow[]>(
      em,
      `select i.key, i.kind, i.name, i.path, coalesce(v.author, i.author) as author, v.editor, v.size, v.modified, v.deleted,
              v.snapshot_id as snapshot, s.repository_id as repository
       from ${items} join catalog_scopes s on s.id = i.scope_id ${latest}
       where ${where.join(' and ')}
       order by i.id desc limit ?`,
      [...itemParams, ...params, max],
    );
  const want = limit * (query.modifiedFrom || query.modifiedTo ? 10 : 1);
  // Words go through the database's full-text index (in stages on PostgreSQL: catalog-sql.ts).
  const rows = query.text
    ? await selectMatching(em, query.text, want, select)
    : await select('catalog_items i', [], want);
  const inRange = rows.filter((r) => {
    if (!query.modifiedFrom && !query.modifiedTo) return true;
    if (r.modified === null) return false;
    const at = toDate(r.modified).getTime();
    return (
      (!query.modifiedFrom || at >= query.modifiedFrom.getTime()) &&
      (!query.modifiedTo || at <= query.modifiedTo.getTime())
    );
  });
  const hits: ItemHit[] = [];
  for (const r of inRange.slice(0, limit)) {
    const deleted = Number(r.deleted) === 1;
    hits.push({
      key: r.key,
      kind: r.kind,
      name: r.name,
      path: r.path,
      author: r.author,
      editor: r.editor,
      size: Number(r.size ?? 0),
      modified: r.modified === null ? null : toDate(r.modified),
      deleted,
      snapshot: await recoverableSnapshot(em, scope, r.repository, r.snapshot, deleted),
    });
  }
  return hits;
}

/** The newest snapshot holding an item whose newest version is in `snapshotId`. */
async function recoverableSnapshot(
  em: EntityManager,
  scope: EntityScope,
  repository: string,
  snapshotId: string,
  deleted: boolean,
): Promise<{ id: string; time: Date } | null> {
  // Present: it is in the entity's newest snapshot. Deleted: in the last one before the deletion.
  const sql = deleted
    ? 'select id, time from catalog_snapshots where repository_id = ? and task = ? and entity = ? and time < (select time from catalog_snapshots where id = ?) order by time desc limit 1'
    : 'select id, time from catalog_snapshots where repository_id = ? and task = ? and entity = ? and time >= (select time from catalog_snapshots where id = ?) order by time desc limit 1';
  const [row] = await runSql<{ id: string; time: number | string }[]>(em, sql, [
    repository,
    scope.task,
    scope.entity,
    snapshotId,
  ]);
  return row ? { id: row.id, time: toDate(row.time) } : null;
}
