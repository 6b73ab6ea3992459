// The catalog's SQLite-specific adapter: full-text search (FTS5) and bulk writes through
// better-sqlite3 prepared statements (the ORM inlines parameters into unique SQL, so nothing is
// prepared once; bulk indexing is 3–4× faster this way). A PostgreSQL driver supplies the same
// functions (tsvector search, COPY or multi-row inserts).
import type { EntityManager } from '@mikro-orm/core';
import type { Database, Statement } from 'better-sqlite3';

export interface SearchDocument {
  id: number;
  name: string;
  path: string;
  author: string | null;
}

const BATCH = 500;

/** Runs SQL on the EntityManager's connection, inside its transaction when it has one. */
export function runSql<T = Record<string, unknown>[]>(
  em: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<T> {
  return em.getConnection().execute(sql, params, 'all', em.getTransactionContext()) as Promise<T>;
}

export async function indexDocuments(em: EntityManager, docs: SearchDocument[]): Promise<void> {
  for (let i = 0; i < docs.length; i += BATCH) {
    const batch = docs.slice(i, i + BATCH);
    await runSql(
      em,
      `insert into catalog_items_fts (rowid, name, path, author) values ${batch.map(() => '(?, ?, ?, ?)').join(', ')}`,
      batch.flatMap((d) => [d.id, d.name, d.path, d.author ?? '']),
    );
  }
}

export async function removeDocuments(em: EntityManager, ids: number[]): Promise<void> {
  for (let i = 0; i < ids.length; i += BATCH) {
    const batch = ids.slice(i, i + BATCH);
    await runSql(em, `delete from catalog_items_fts where rowid in (${batch.map(() => '?').join(', ')})`, batch);
  }
}

/**
 * Turns what a person typed into an FTS5 query: every word must match, the last one as a prefix
 * (search as you type). Quotes keep FTS5 operators in the input from being interpreted.
 */
export function toMatchQuery(text: string): string | undefined {
  const words = text.normalize('NFKC').match(/[\p{L}\p{N}_]+/gu) ?? [];
  if (words.length === 0) return undefined;
  return words.map((w, i) => `"${w}"${i === words.length - 1 ? '*' : ''}`).join(' ');
}

/**
 * Ids of matching items, newest first. (Ranking by relevance would score every match: over a
 * million items a common word takes 100+ ms; rowid order lets FTS5 stop at the limit.)
 */
export async function matchDocuments(em: EntityManager, text: string, limit: number): Promise<number[]> {
  const query = toMatchQuery(text);
  if (!query) return [];
  const rows = await runSql<{ rowid: number }[]>(
    em,
    'select rowid from catalog_items_fts where catalog_items_fts match ? order by rowid desc limit ?',
    [query, limit],
  );
  return rows.map((r) => Number(r.rowid));
}

export interface ItemRow {
  key: string;
  kind: string;
  name: string;
  path: string;
  author: string | null;
}

export interface VersionRow {
  itemId: number;
  snapshotId: string;
  size: number;
  modified: Date | null;
  author: string | null;
  deleted: boolean;
}

/** Prepared statements for indexing one (repository, task, entity); valid inside the current transaction. */
export interface CatalogBatchWriter {
  itemIds(keys: string[]): Map<string, number>;
  insertItems(rows: ItemRow[]): Map<string, number>;
  updateItem(id: number, row: Omit<ItemRow, 'key' | 'kind'>): void;
  insertVersions(rows: VersionRow[]): void;
  indexDocuments(docs: SearchDocument[]): void;
  removeDocuments(ids: number[]): void;
}

export async function catalogBatchWriter(
  em: EntityManager,
  scope: { repository: string; task: string; entity: string },
): Promise<CatalogBatchWriter> {
  // The same connection the ORM's transaction runs on: these writes are part of it.
  const db = (await (
    em.getConnection() as unknown as { getNativeClient(): Promise<Database> }
  ).getNativeClient()) as Database;
  const find: Statement = db.prepare(
    'select id from catalog_items where repository_id = ? and task = ? and entity = ? and key = ?',
  );
  const insertItem: Statement = db.prepare(
    'insert into catalog_items (repository_id, task, entity, key, kind, name, path, author) values (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const update: Statement = db.prepare('update catalog_items set name = ?, path = ?, author = ? where id = ?');
  const insertVersion: Statement = db.prepare(
    'insert into catalog_versions (item_id, snapshot_id, size, modified, author, deleted) values (?, ?, ?, ?, ?, ?)',
  );
  const insertDoc: Statement = db.prepare(
    'insert into catalog_items_fts (rowid, name, path, author) values (?, ?, ?, ?)',
  );
  const deleteDoc: Statement = db.prepare('delete from catalog_items_fts where rowid = ?');
  const { repository, task, entity } = scope;
  return {
    itemIds(keys) {
      const ids = new Map<string, number>();
      for (const key of keys) {
        const row = find.get(repository, task, entity, key) as { id: number } | undefined;
        if (row) ids.set(key, Number(row.id));
      }
      return ids;
    },
    insertItems(rows) {
      const ids = new Map<string, number>();
      for (const r of rows) {
        const info = insertItem.run(repository, task, entity, r.key, r.kind, r.name, r.path, r.author);
        ids.set(r.key, Number(info.lastInsertRowid));
      }
      return ids;
    },
    updateItem(id, r) {
      update.run(r.name, r.path, r.author, id);
    },
    insertVersions(rows) {
      // Dates as epoch milliseconds and booleans as 0/1: how the ORM stores them in SQLite.
      for (const v of rows)
        insertVersion.run(v.itemId, v.snapshotId, v.size, v.modified?.getTime() ?? null, v.author, v.deleted ? 1 : 0);
    },
    indexDocuments(docs) {
      for (const d of docs) insertDoc.run(d.id, d.name, d.path, d.author ?? '');
    },
    removeDocuments(ids) {
      for (const id of ids) deleteDoc.run(id);
    },
  };
}
