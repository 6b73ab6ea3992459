// The catalog's SQLite-specific adapter: full-text search (FTS5) and bulk writes through
// better-sqlite3 prepared statements (the ORM inlines parameters into unique SQL, so nothing is
// prepared once; bulk indexing is 3–4× faster this way). postgres-catalog.ts supplies the same
// functions on PostgreSQL; the rest of the code calls them through catalog-sql.ts.
import type { EntityManager } from '@mikro-orm/core';
import type { Database, Statement } from 'better-sqlite3';
import { foldText } from './fold.ts';
import { runSql } from './run-sql.ts';

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
  /** Epoch milliseconds. */
  modified: number | null;
  author: string | null;
  editor: string | null;
  deleted: boolean;
  contentId: string | null;
}

/**
 * Statements for indexing one scope (repository, task, entity); valid inside the current
 * transaction. Asynchronous for PostgreSQL; SQLite's prepared statements answer at once.
 */
export interface CatalogBatchWriter {
  /** True when the scope has no items yet (its first snapshot: no lookups needed). */
  isEmpty(): Promise<boolean>;
  itemIds(keys: string[]): Promise<Map<string, number>>;
  /** Inserts items (and their full-text documents); returns their ids in the rows' order. */
  insertItems(rows: ItemRow[]): Promise<number[]>;
  /** Changes an item's name, path or author, and its full-text document with it. */
  updateItem(id: number, row: Omit<ItemRow, 'key' | 'kind'>): Promise<void>;
  insertVersions(rows: VersionRow[]): Promise<void>;
}

/**
 * `documents: false` leaves the full-text index alone (a reindex fills it once at the end with
 * `indexRepositoryDocuments`: one statement instead of a document per row, about a third less
 * indexing work).
 */
export async function catalogBatchWriter(
  em: EntityManager,
  scope: { repository: string; task: string; entity: string },
  options: { documents: boolean } = { documents: true },
): Promise<CatalogBatchWriter> {
  // The same connection the ORM's transaction runs on: these writes are part of it.
  return batchWriterOn(await nativeClient(em), scope, options);
}

/** The better-sqlite3 connection under an EntityManager. */
export async function nativeClient(em: EntityManager): Promise<Database> {
  return (await (
    em.getConnection() as unknown as { getNativeClient(): Promise<Database> }
  ).getNativeClient()) as Database;
}

/** `catalogBatchWriter` on a connection of its own (the reindex writer thread, core/catalog/index-worker.ts). */
export function batchWriterOn(
  db: Database,
  scope: { repository: string; task: string; entity: string },
  options: { documents: boolean } = { documents: true },
): CatalogBatchWriter {
  const { documents } = options;
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
  const insertItems = multiRowInsert(
    db,
    'insert into catalog_items (scope_id, key, kind, name, path, author, name_key, path_key, author_key)',
    9,
  );
  const update: Statement = db.prepare(
    'update catalog_items set name = ?, path = ?, author = ?, name_key = ?, path_key = ?, author_key = ? where id = ?',
  );
  const insertVersions = multiRowInsert(
    db,
    'insert into catalog_versions (item_id, snapshot_id, size, modified, author, deleted, author_key, editor, editor_key, content_id)',
    10,
  );
  // The full-text index reads its text from catalog_items (external content): a document is
  // removed while the item row still holds the text it was indexed with.
  const insertDoc: Statement = db.prepare(
    'insert into catalog_items_fts (rowid, name, path, author) values (?, ?, ?, ?)',
  );
  const deleteDoc: Statement = db.prepare('delete from catalog_items_fts where rowid = ?');
  return {
    async isEmpty() {
      return any.get(scopeId) === undefined;
    },
    async itemIds(keys) {
      const ids = new Map<string, number>();
      for (const key of keys) {
        const row = find.get(scopeId, key) as { id: number } | undefined;
        if (row) ids.set(key, Number(row.id));
      }
      return ids;
    },
    async insertItems(rows) {
      const ids: number[] = [];
      insertItems(
        rows,
        (r, p) => p.push(scopeId, r.key, r.kind, r.name, r.path, r.author, ...foldedKeys(r)),
        (first, chunk) => {
          // One statement's rows get consecutive ids (AUTOINCREMENT: each is the largest so far + 1).
          chunk.forEach((r, i) => {
            ids.push(first + i);
            if (documents) insertDoc.run(first + i, r.name, r.path, r.author);
          });
        },
      );
      return ids;
    },
    async updateItem(id, r) {
      if (documents) deleteDoc.run(id);
      update.run(r.name, r.path, r.author, ...foldedKeys(r), id);
      if (documents) insertDoc.run(id, r.name, r.path, r.author);
    },
    async insertVersions(rows) {
      // Dates as epoch milliseconds and booleans as 0/1: how the ORM stores them in SQLite.
      insertVersions(rows, (v, p) =>
        p.push(
          v.itemId,
          v.snapshotId,
          v.size,
          v.modified,
          v.author,
          v.deleted ? 1 : 0,
          foldedOrNull(v.author),
          v.editor,
          foldedOrNull(v.editor),
          v.contentId,
        ),
      );
    },
  };
}

function foldedOrNull(text: string | null): string | null {
  return text === null ? null : foldText(text);
}

/** The search keys stored beside an item's name, path and author (see core/db/fold.ts). */
function foldedKeys(r: Pick<ItemRow, 'name' | 'path' | 'author'>): [string, string, string | null] {
  return [foldText(r.name), foldText(r.path), foldedOrNull(r.author)];
}

const ROWS_PER_INSERT = 100;

/**
 * Inserts rows `ROWS_PER_INSERT` at a time (`insert … values (…), (…), …`): half the cost of a
 * statement per row. `inserted` hears each statement's first rowid and its rows.
 */
function multiRowInsert(db: Database, head: string, columns: number) {
  const tuple = `(${Array(columns).fill('?').join(', ')})`;
  const statements = new Map<number, Statement>();
  const statement = (rows: number) => {
    let s = statements.get(rows);
    if (!s) {
      s = db.prepare(`${head} values ${Array(rows).fill(tuple).join(', ')}`);
      statements.set(rows, s);
    }
    return s;
  };
  return <R>(rows: R[], bind: (row: R, params: unknown[]) => void, inserted?: (first: number, rows: R[]) => void) => {
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      const chunk = rows.slice(start, start + ROWS_PER_INSERT);
      const params: unknown[] = [];
      for (const row of chunk) bind(row, params);
      const result = statement(chunk.length).run(params);
      inserted?.(Number(result.lastInsertRowid) - chunk.length + 1, chunk);
    }
  };
}

/**
 * Removes every catalog row of a repository's items (their documents first, while their text is
 * there). `documents: false` when the items have none (an unfinished reindex): deleting a document
 * that was never indexed would corrupt the full-text index.
 */
export async function removeRepositoryItems(
  em: EntityManager,
  repositoryId: string,
  options: { documents: boolean } = { documents: true },
): Promise<void> {
  const scopes = 'select id from catalog_scopes where repository_id = ?';
  if (options.documents)
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

/** Adds the full-text documents of all a repository's items (they must have none yet). */
export async function indexRepositoryDocuments(em: EntityManager, repositoryId: string): Promise<void> {
  await runSql(
    em,
    'insert into catalog_items_fts (rowid, name, path, author) select id, name, path, author from catalog_items ' +
      'where scope_id in (select id from catalog_scopes where repository_id = ?)',
    [repositoryId],
  );
}

/** Rebuilds the whole full-text index from the items' text (repairs it whatever state it is in). */
export async function rebuildAllDocuments(em: EntityManager): Promise<void> {
  await runSql(em, `insert into catalog_items_fts (catalog_items_fts) values ('rebuild')`);
}

/** Removes a repository's items that no version refers to any more (their documents first, if indexed). */
export async function removeOrphanItems(em: EntityManager, repositoryId: string): Promise<void> {
  const orphans =
    'select i.id from catalog_items i where i.scope_id in (select id from catalog_scopes where repository_id = ?) ' +
    'and not exists (select 1 from catalog_versions v where v.item_id = i.id)';
  if (await hasDocuments(em, repositoryId))
    await runSql(em, `delete from catalog_items_fts where rowid in (${orphans})`, [repositoryId]);
  await runSql(em, `delete from catalog_items where id in (${orphans})`, [repositoryId]);
}

/**
 * True when a repository's items have their full-text documents: a reindex adds them in its last
 * step, together with `indexed_at`, so a repository without it has none.
 */
export async function hasDocuments(em: EntityManager, repositoryId: string): Promise<boolean> {
  const rows = await runSql<{ indexed_at: unknown }[]>(em, 'select indexed_at from catalog_repositories where id = ?', [
    repositoryId,
  ]);
  return rows[0]?.indexed_at != null;
}

/**
 * Runs `work` with SQLite's foreign-key checks off on this connection (a reindex only inserts rows
 * whose parents it has just written; checking each costs about a fifth of the insert). SQLite
 * ignores the pragma inside a transaction, so this must be called outside one.
 */
export async function withoutForeignKeyChecks<T>(em: EntityManager, work: () => Promise<T>): Promise<T> {
  await runSql(em, 'pragma foreign_keys = off');
  try {
    return await work();
  } finally {
    await runSql(em, 'pragma foreign_keys = on');
  }
}
