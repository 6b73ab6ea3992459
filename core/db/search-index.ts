// Full-text search over catalog items. This is the one SQLite-specific adapter of the catalog
// (FTS5); a PostgreSQL driver supplies the same three functions over a tsvector column.
import type { EntityManager } from '@mikro-orm/core';

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

/** Ids of matching items, best first. */
export async function matchDocuments(em: EntityManager, text: string, limit: number): Promise<number[]> {
  const query = toMatchQuery(text);
  if (!query) return [];
  const rows = await runSql<{ rowid: number }[]>(
    em,
    'select rowid from catalog_items_fts where catalog_items_fts match ? order by rank limit ?',
    [query, limit],
  );
  return rows.map((r) => Number(r.rowid));
}
