// The catalog's PostgreSQL adapter: the same functions as sqlite-catalog.ts, for the scale-out
// mode. Full-text search is a GIN index over `search_document`, a tsvector column the database
// generates from the item's own name, path and author (`holdfast_search_document`, migrations
// Migration20261207160000_postgresql_schema and Migration20261207214739_stored_search_document),
// so there are no separate documents to add or remove: the index follows the rows. Its words are FTS5's: runs of letters and digits, lower
// case, diacritics removed; a query is FTS5's too: every word must match, the last one as a prefix,
// a typed word that holds separators ("my_file") as a phrase. Bulk writes are multi-row
// statements in the ORM's transaction (there is no writer thread: PostgreSQL writes concurrently).
import type { EntityManager } from '@mikro-orm/core';
import { foldText } from './fold.ts';
import { runSql } from './run-sql.ts';
import type { CatalogBatchWriter, ItemRow, VersionRow } from './sqlite-catalog.ts';

/** Indexes the schema generator must leave alone: made by hand in the migrations. */
export const HAND_MADE_INDEXES = ['catalog_items_search_index'];

/** Columns (table and column) the schema generator must leave alone: made by hand in the migrations. */
export const HAND_MADE_COLUMNS = [{ table: 'catalog_items', column: 'search_document' }];

/**
 * The item's search document: a stored column the database computes from name, path and author
 * (`holdfast_search_document`, migration Migration20261207214739_stored_search_document), with
 * the GIN index over it.
 */
export const SEARCH_DOCUMENT = 'i.search_document';

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

/** How many of the newest ids a search reads row by row before anything else. */
const NEWEST_IDS = 2048;
/** The most ids a search reads row by row in all, when the matches seen so far say it is worth it. */
const MOST_IDS_READ = 32_768;

/** Matches among the ids in (lower, upper], newest first: rows read by primary key, not the index. */
async function readRange(em: EntityManager, query: string, lower: number, upper: number, limit: number) {
  // The inner LIMIT keeps the planner from pushing the match into the scan, and so into the index.
  const rows = await runSql<{ id: number }[]>(
    em,
    `select w.id from (select id, search_document from catalog_items where id > ? and id <= ? order by id desc limit ?) w
     where w.search_document @@ to_tsquery('simple', ?) order by w.id desc limit ?`,
    [lower, upper, upper - lower, query, limit],
  );
  return rows.map((r) => Number(r.id));
}

/**
 * Ids of matching items, newest first (as FTS5's rowid order: the item id, descending). The GIN
 * index finds matches but keeps no order, and a common word (or prefix) costs it a bitmap of all
 * its matches (~100 ms for 190,000 of 1M items) before the newest can be picked; the planner, left
 * to choose, walks the primary key backwards instead for a word it wrongly takes for common
 * (seconds at 1M items for a word that matches nothing). So the choice is made here, from what
 * the newest items hold: the newest NEWEST_IDS ids are read row by row (the stored document
 * compared); when they hold some matches but too few, as many older ids as those matches' density
 * says the rest needs (up to MOST_IDS_READ in all); whatever is still missing comes from the
 * index alone, all its matches sorted (the word is rare among the newest items).
 */
export async function matchDocuments(em: EntityManager, text: string, limit: number): Promise<number[]> {
  const query = toTsQuery(text);
  if (!query || limit <= 0) return [];
  const [newest] = await runSql<{ top: number | string | null }[]>(em, 'select max(id) as top from catalog_items');
  let upper = Number(newest?.top ?? 0);
  let read = Math.min(upper, NEWEST_IDS);
  const out = await readRange(em, query, upper - read, upper, limit);
  upper -= read;
  if (out.length > 0 && out.length < limit && upper > 0) {
    const more = Math.min(upper, MOST_IDS_READ - read, Math.ceil(((limit - out.length) * read * 2) / out.length));
    if (more > 0) {
      out.push(...(await readRange(em, query, upper - more, upper, limit - out.length)));
      upper -= more;
      read += more;
    }
  }
  if (out.length >= limit || upper <= 0) return out;
  // Materialized: every match is fetched through the index and sorted, never a backward walk.
  const older = await runSql<{ id: number }[]>(
    em,
    `with m as materialized (select i.id from catalog_items i where ${SEARCH_DOCUMENT} @@ to_tsquery('simple', ?) and i.id <= ?)
     select id from m order by id desc limit ?`,
    [query, upper, limit - out.length],
  );
  for (const r of older) out.push(Number(r.id));
  return out;
}

/**
 * A caller's query over the items matching `text`, run in matchDocuments' stages so that a search
 * with more conditions (one entity, columns, deletion) keeps its choice of plan: `select` gets a
 * FROM part binding `i` to matching items only (read by primary key for an id range, or from
 * the index alone, in batches of ids, for the rest) and its parameters, and returns at most `max`
 * rows, newest first. The stages' rows together, at most `want`, newest first.
 */
export async function inStages<T>(
  em: EntityManager,
  text: string,
  want: number,
  select: (items: string, params: unknown[], max: number) => Promise<T[]>,
): Promise<T[]> {
  const query = toTsQuery(text);
  if (!query || want <= 0) return [];
  const [newest] = await runSql<{ top: number | string | null }[]>(em, 'select max(id) as top from catalog_items');
  let upper = Number(newest?.top ?? 0);
  // The inner LIMIT keeps the planner from pushing the match into the scan, and so into the index.
  const range = (lower: number, top: number) =>
    select(
      `(select w.* from (select * from catalog_items where id > ? and id <= ? order by id desc limit ?) w
        where w.search_document @@ to_tsquery('simple', ?)) i`,
      [lower, top, top - lower, query],
      want - out.length,
    );
  const out: T[] = [];
  let read = Math.min(upper, NEWEST_IDS);
  out.push(...(await range(upper - read, upper)));
  upper -= read;
  if (out.length > 0 && out.length < want && upper > 0) {
    const more = Math.min(upper, MOST_IDS_READ - read, Math.ceil(((want - out.length) * read * 2) / out.length));
    if (more > 0) {
      out.push(...(await range(upper - more, upper)));
      upper -= more;
      read += more;
    }
  }
  // The rest from the index alone, in batches of ids (materialized: fetched and sorted, never a
  // backward walk), each batch's rows read by primary key: the caller's other conditions may
  // keep few of them, and a plan joining the whole index's matches to them is the planner's to
  // get wrong (a word it takes for common makes it scan the entity's every item).
  while (out.length < want && upper > 0) {
    const batch = Math.max((want - out.length) * 4, 256);
    const ids = (
      await runSql<{ id: number | string }[]>(
        em,
        `with m as materialized (select id from catalog_items where search_document @@ to_tsquery('simple', ?) and id <= ?)
         select id from m order by id desc limit ?`,
        [query, upper, batch],
      )
    ).map((r) => Number(r.id));
    if (ids.length === 0) break;
    out.push(
      ...(await select(
        `(select * from catalog_items where id in (${ids.map(() => '?').join(', ')})) i`,
        ids,
        want - out.length,
      )),
    );
    if (ids.length < batch) break;
    upper = (ids[ids.length - 1] as number) - 1;
  }
  return out;
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

/**
 * Refreshes the planner's statistics of the catalog after a bulk load (a reindex): until
 * autovacuum gets to it, a table loaded with a million rows has none, and the search's version
 * lookup (item ids IN a list, ordered by version id) was planned as a walk of every version
 * (~200 ms at 1M items) instead of the item index.
 */
export async function analyzeCatalog(em: EntityManager): Promise<void> {
  await runSql(em, 'analyze catalog_items, catalog_versions, catalog_snapshots, catalog_scopes');
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
