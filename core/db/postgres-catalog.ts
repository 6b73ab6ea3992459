// The catalog's PostgreSQL adapter: the same functions as sqlite-catalog.ts, for the scale-out
// mode. Full-text search is a GIN index over `holdfast_search_document(name, path, author)`, a
// tsvector the database computes from the item's own columns (migration
// Migration20261207160000_postgresql_schema), so there are no separate documents to add or
// remove: the index follows the rows. Its words are FTS5's: runs of letters and digits, lower
// case, diacritics removed; a query is FTS5's too: every word must match, the last one as a prefix,
// a typed word that holds separators ("my_file") as a phrase. Bulk writes are multi-row
// statements in the ORM's transaction (there is no writer thread: PostgreSQL writes concurrently).
import type { EntityManager } from '@mikro-orm/core';
import { foldText } from './fold.ts';
import { runSql } from './run-sql.ts';
import type { CatalogBatchWriter, ItemRow, VersionRow } from './sqlite-catalog.ts';

/** Indexes the schema generator must leave alone: made by hand in the migrations. */
export const HAND_MADE_INDEXES = ['catalog_items_search_index'];

/** The expression the full-text index is built on (use it verbatim, or the index is not used). */
export const SEARCH_DOCUMENT = 'holdfast_search_document(i.name, i.path, i.author)';

/** A word's search form, as holdfast_search_words computes it in the database. */
function searchWords(text: string): string[] {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/**
 * What a person typed as a tsquery (FTS5's rules, see toMatchQuery): the words, each a phrase of
 * its parts, all required, the last part of the last word as a prefix. Only letters and digits
 * reach the query, so nothing typed is read as a tsquery operator.
 */
export function toTsQuery(text: string): string | undefined {
  const words = (text.normalize('NFKC').match(/[\p{L}\p{N}_]+/gu) ?? [])
    .map(searchWords)
    .filter((parts) => parts.length > 0);
  if (words.length === 0) return undefined;
  return words
    .map((parts, i) => {
      const last = i === words.length - 1;
      const phrase = parts.map((p, j) => `'${p}'${last && j === parts.length - 1 ? ':*' : ''}`).join(' <-> ');
      return `(${phrase})`;
    })
    .join(' & ');
}

/** The first id range a search reads (newest items); each next one is 4 times wider. */
const FIRST_WINDOW = 4096;

/**
 * Ids of matching items, newest first (as FTS5's rowid order: the item id, descending). The GIN
 * index finds matches but keeps no order: a common word would have all its matches fetched and
 * sorted, a rare one tempts the planner to walk the primary key backwards computing the search
 * document of every item. So the newest id range is searched first, through the index, and older
 * ranges, each 4 times wider, only while fewer than `limit` were found.
 */
export async function matchDocuments(em: EntityManager, text: string, limit: number): Promise<number[]> {
  const query = toTsQuery(text);
  if (!query || limit <= 0) return [];
  const [newest] = await runSql<{ top: number | string | null }[]>(em, 'select max(id) as top from catalog_items');
  const out: number[] = [];
  let upper = Number(newest?.top ?? 0);
  for (let window = FIRST_WINDOW; upper > 0 && out.length < limit; window *= 4) {
    const lower = Math.max(0, upper - window);
    const rows = await runSql<{ id: number }[]>(
      em,
      `select i.id from catalog_items i where ${SEARCH_DOCUMENT} @@ to_tsquery('simple', ?) and i.id > ? and i.id <= ? order by i.id desc limit ?`,
      [query, lower, upper, limit - out.length],
    );
    for (const r of rows) out.push(Number(r.id));
    upper = lower;
  }
  return out;
}

/** The FROM and WHERE parts that restrict `catalog_items i` to the items matching `text`. */
export function matchFilter(text: string): { from: string; where: string; param: string } | undefined {
  const query = toTsQuery(text);
  return query
    ? { from: 'catalog_items i', where: `${SEARCH_DOCUMENT} @@ to_tsquery('simple', ?)`, param: query }
    : undefined;
}

const ROWS_PER_INSERT = 500;

function tuples(rows: number, columns: number): string {
  const tuple = `(${Array(columns).fill('?').join(', ')})`;
  return Array(rows).fill(tuple).join(', ');
}

function foldedOrNull(text: string | null): string | null {
  return text === null ? null : foldText(text);
}

/** The batch writer of sqlite-catalog.ts on PostgreSQL: statements in the EntityManager's transaction. */
export async function catalogBatchWriter(
  em: EntityManager,
  scope: { repository: string; task: string; entity: string },
): Promise<CatalogBatchWriter> {
  await runSql(em, 'insert into catalog_scopes (repository_id, task, entity) values (?, ?, ?) on conflict do nothing', [
    scope.repository,
    scope.task,
    scope.entity,
  ]);
  const [found] = await runSql<{ id: number }[]>(
    em,
    'select id from catalog_scopes where repository_id = ? and task = ? and entity = ?',
    [scope.repository, scope.task, scope.entity],
  );
  const scopeId = Number(found?.id);
  const idsOf = async (keys: string[]) => {
    const ids = new Map<string, number>();
    for (let start = 0; start < keys.length; start += ROWS_PER_INSERT) {
      const chunk = keys.slice(start, start + ROWS_PER_INSERT);
      const rows = await runSql<{ id: number; key: string }[]>(
        em,
        `select id, key from catalog_items where scope_id = ? and key in (${chunk.map(() => '?').join(', ')})`,
        [scopeId, ...chunk],
      );
      for (const r of rows) ids.set(r.key, Number(r.id));
    }
    return ids;
  };
  return {
    async isEmpty() {
      return (await runSql(em, 'select 1 from catalog_items where scope_id = ? limit 1', [scopeId])).length === 0;
    },
    itemIds: idsOf,
    async insertItems(rows: ItemRow[]) {
      const ids: number[] = [];
      for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
        const chunk = rows.slice(start, start + ROWS_PER_INSERT);
        const params: unknown[] = [];
        for (const r of chunk)
          params.push(
            scopeId,
            r.key,
            r.kind,
            r.name,
            r.path,
            r.author,
            foldText(r.name),
            foldText(r.path),
            foldedOrNull(r.author),
          );
        // Keys are unique in a scope: the ids come back by key, whatever order the rows are returned in.
        const inserted = await runSql<{ id: number; key: string }[]>(
          em,
          `insert into catalog_items (scope_id, key, kind, name, path, author, name_key, path_key, author_key) values ${tuples(chunk.length, 9)} returning id, key`,
          params,
        );
        const byKey = new Map(inserted.map((r) => [r.key, Number(r.id)]));
        for (const r of chunk) ids.push(byKey.get(r.key) as number);
      }
      return ids;
    },
    async updateItem(id, r) {
      await runSql(
        em,
        'update catalog_items set name = ?, path = ?, author = ?, name_key = ?, path_key = ?, author_key = ? where id = ?',
        [r.name, r.path, r.author, foldText(r.name), foldText(r.path), foldedOrNull(r.author), id],
      );
    },
    async insertVersions(rows: VersionRow[]) {
      for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
        const chunk = rows.slice(start, start + ROWS_PER_INSERT);
        const params: unknown[] = [];
        for (const v of chunk)
          params.push(
            v.itemId,
            v.snapshotId,
            v.size,
            v.modified === null ? null : new Date(v.modified),
            v.author,
            v.deleted,
            foldedOrNull(v.author),
            v.editor,
            foldedOrNull(v.editor),
            v.contentId,
          );
        await runSql(
          em,
          `insert into catalog_versions (item_id, snapshot_id, size, modified, author, deleted, author_key, editor, editor_key, content_id) values ${tuples(chunk.length, 10)}`,
          params,
        );
      }
    },
  };
}

/** Removes every catalog row of a repository's items (the full-text index follows the rows). */
export async function removeRepositoryItems(em: EntityManager, repositoryId: string): Promise<void> {
  const scopes = 'select id from catalog_scopes where repository_id = ?';
  await runSql(
    em,
    `delete from catalog_versions where item_id in (select id from catalog_items where scope_id in (${scopes}))`,
    [repositoryId],
  );
  await runSql(em, `delete from catalog_items where scope_id in (${scopes})`, [repositoryId]);
  await runSql(em, 'delete from catalog_scopes where repository_id = ?', [repositoryId]);
}

/** Removes a repository's items that no version refers to any more. */
export async function removeOrphanItems(em: EntityManager, repositoryId: string): Promise<void> {
  await runSql(
    em,
    'delete from catalog_items i where i.scope_id in (select id from catalog_scopes where repository_id = ?) ' +
      'and not exists (select 1 from catalog_versions v where v.item_id = i.id)',
    [repositoryId],
  );
}
