// The catalog's SQLite-specific adapter: full-text search (FTS5) and bulk writes through
// better-sqlite3 prepared statements (the ORM inlines parameters into unique SQL, so nothing is
// prepared once; bulk indexing is 3–4× faster this way). A PostgreSQL driver supplies the same
// functions (tsvector search, COPY or multi-row inserts).
import type { EntityManager } from '@mikro-orm/core';
import type { Database, Statement } from 'better-sqlite3';

/** Runs SQL on the EntityManager's connection, inside its transaction when it has one. */
export function runSql<T = Record<string, unknown>[]>(
  em: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<T> {
  return em.getConnection().execute(sql, params, 'all', em.getTransactionContext()) as Promise<T>;
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

/** Prepared statements for indexing one scope (repository, task, entity); valid inside the current transaction. */
export interface CatalogBatchWriter {
  /** True when the scope has no items yet (its first snapshot: no lookups needed). */
  isEmpty(): boolean;
  itemIds(keys: string[]): Map<string, number>;
  /** Inserts items and their full-text documents; returns their ids by key. */
  insertItems(rows: ItemRow[]): Map<string, number>;
  /** Changes an item's name, path or author, and its full-text document with it. */
  updateItem(id: number, row: Omit<ItemRow, 'key' | 'kind'>): void;
  insertVersions(rows: VersionRow[]): void;
}

export async function catalogBatchWriter(
  em: EntityManager,
  scope: { repository: string; task: string; entity: string },
): Promise<CatalogBatchWriter> {
  // The same connection the ORM's transaction runs on: these writes are part of it.
  const db = (await (
    em.getConnection() as unknown as { getNativeClient(): Promise<Database> }
  ).getNativeClient()) as Database;
  db.prepare('insert into catalog_scopes (repository_id, task, entity) values (?, ?, ?) on conflict do nothing').run(
    scope.repository,
    scope.task,
    scope.entity,
  );
  const { id: scopeId } = db
    .prepare('select id from catalog_scopes where repository_id = ? and task = ? and entity = ?')
    .get(scope.repository, scope.task, scope.entity) as { id: number };
  const any: Statement = db.prepare('select 1 from catalog_items where scope_id = ? limit 1');
  const find: Statement = db.prepare('select id from catalog_items where scope_id = ? and key = ?');
  const insertItem: Statement = db.prepare(
    'insert into catalog_items (scope_id, key, kind, name, path, author) values (?, ?, ?, ?, ?, ?)',
  );
  const update: Statement = db.prepare('update catalog_items set name = ?, path = ?, author = ? where id = ?');
  const insertVersion: Statement = db.prepare(
    'insert into catalog_versions (item_id, snapshot_id, size, modified, author, deleted) values (?, ?, ?, ?, ?, ?)',
  );
  // The full-text index reads its text from catalog_items (external content): a document is
  // removed while the item row still holds the text it was indexed with.
  const insertDoc: Statement = db.prepare(
    'insert into catalog_items_fts (rowid, name, path, author) values (?, ?, ?, ?)',
  );
  const deleteDoc: Statement = db.prepare('delete from catalog_items_fts where rowid = ?');
  return {
    isEmpty() {
      return any.get(scopeId) === undefined;
    },
    itemIds(keys) {
      const ids = new Map<string, number>();
      for (const key of keys) {
        const row = find.get(scopeId, key) as { id: number } | undefined;
        if (row) ids.set(key, Number(row.id));
      }
      return ids;
    },
    insertItems(rows) {
      const ids = new Map<string, number>();
      for (const r of rows) {
        const id = Number(insertItem.run(scopeId, r.key, r.kind, r.name, r.path, r.author).lastInsertRowid);
        insertDoc.run(id, r.name, r.path, r.author);
        ids.set(r.key, id);
      }
      return ids;
    },
    updateItem(id, r) {
      deleteDoc.run(id);
      update.run(r.name, r.path, r.author, id);
      insertDoc.run(id, r.name, r.path, r.author);
    },
    insertVersions(rows) {
      // Dates as epoch milliseconds and booleans as 0/1: how the ORM stores them in SQLite.
      for (const v of rows)
        insertVersion.run(v.itemId, v.snapshotId, v.size, v.modified?.getTime() ?? null, v.author, v.deleted ? 1 : 0);
    },
  };
}

/** Removes every catalog row of a repository's items (their documents first, while their text is there). */
export async function removeRepositoryItems(em: EntityManager, repositoryId: string): Promise<void> {
  const scopes = 'select id from catalog_scopes where repository_id = ?';
  await runSql(
    em,
    `delete from catalog_items_fts where rowid in (select id from catalog_items where scope_id in (${scopes}))`,
    [repositoryId],
  );
  await runSql(
    em,
    `delete from catalog_versions where item_id in (select id from catalog_items where scope_id in (${scopes}))`,
    [repositoryId],
  );
  await runSql(em, `delete from catalog_items where scope_id in (${scopes})`, [repositoryId]);
  await runSql(em, 'delete from catalog_scopes where repository_id = ?', [repositoryId]);
}

/** Removes a repository's items that no version refers to any more (their documents first). */
export async function removeOrphanItems(em: EntityManager, repositoryId: string): Promise<void> {
  const orphans =
    'select i.id from catalog_items i where i.scope_id in (select id from catalog_scopes where repository_id = ?) ' +
    'and not exists (select 1 from catalog_versions v where v.item_id = i.id)';
  await runSql(em, `delete from catalog_items_fts where rowid in (${orphans})`, [repositoryId]);
  await runSql(em, `delete from catalog_items where id in (${orphans})`, [repositoryId]);
}
