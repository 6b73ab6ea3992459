// Browsing a snapshot as a flat list of items (ItemPresentation.listing 'list'): for services
// whose items' paths name no folders — every record of an object has the object as its path, so
// a folder tree would fold them into one entry. Items are listed by name, then key, paged; one
// item's state at the snapshot is what the item view starts from.
import type { EntityManager } from '@mikro-orm/core';
import { runSql } from '../db/catalog-sql.ts';
import { type EntityScope, type SnapshotSummary, STATE_AT_SNAPSHOT } from './browse.ts';

export interface ListedItem {
  key: string;
  kind: string;
  name: string;
  /** The item's path (no leading slash), for a selection by folder and the API's `path`. */
  path: string;
  size: number;
  modified: Date | null;
  author: string | null;
  editor: string | null;
}

type Row = {
  key: string;
  kind: string;
  name: string;
  path: string;
  size: number;
  modified: number | string | null;
  author: string | null;
  editor: string | null;
};

function toDate(value: number | string): Date {
  return new Date(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value);
}

function listed(r: Row): ListedItem {
  return {
    key: r.key,
    kind: r.kind,
    name: r.name,
    path: r.path,
    size: Number(r.size ?? 0),
    modified: r.modified === null ? null : toDate(r.modified),
    author: r.author,
    editor: r.editor,
  };
}

function scopeParams(snapshot: SnapshotSummary & EntityScope): unknown[] {
  return [snapshot.repository, snapshot.task, snapshot.entity, snapshot.id];
}

/** The items present at the snapshot, by name then key (folders as stored items included), paged. */
export async function listSnapshotItems(
  em: EntityManager,
  snapshot: SnapshotSummary & EntityScope,
  page: { limit: number; offset: number },
): Promise<{ items: ListedItem[]; total: number }> {
  const [countRow] = await runSql<{ total: number }[]>(
    em,
    `${STATE_AT_SNAPSHOT} select count(*) as total from state`,
    scopeParams(snapshot),
  );
  const rows = await runSql<Row[]>(
    em,
    `${STATE_AT_SNAPSHOT} select key, kind, name, path, size, modified, author, editor from state
     order by lower(name), name, key limit ? offset ?`,
    [...scopeParams(snapshot), page.limit, page.offset],
  );
  return { total: Number(countRow?.total ?? 0), items: rows.map(listed) };
}

/** One item as it was at the snapshot, or undefined when the snapshot does not hold it. */
export async function itemAtSnapshot(
  em: EntityManager,
  snapshot: SnapshotSummary & EntityScope,
  key: string,
): Promise<ListedItem | undefined> {
  const [row] = await runSql<Row[]>(
    em,
    `${STATE_AT_SNAPSHOT} select key, kind, name, path, size, modified, author, editor from state where key = ? limit 1`,
    [...scopeParams(snapshot), key],
  );
  return row ? listed(row) : undefined;
}
