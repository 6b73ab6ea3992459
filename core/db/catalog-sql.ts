// The catalog's database-specific statements behind one set of functions: full-text search and
// bulk writes go to sqlite-catalog.ts (FTS5, prepared statements) or postgres-catalog.ts
// (tsvector with a GIN index, multi-row statements) by the EntityManager's database.
import type { EntityManager } from '@mikro-orm/core';
import * as postgres from './postgres-catalog.ts';
import { onPostgres } from './run-sql.ts';
import * as sqlite from './sqlite-catalog.ts';

export { onPostgres, runSql } from './run-sql.ts';
export type { CatalogBatchWriter, ItemRow, VersionRow } from './sqlite-catalog.ts';

/** Ids of the items matching what a person typed, newest first. */
export function matchDocuments(em: EntityManager, text: string, limit: number): Promise<number[]> {
  return onPostgres(em) ? postgres.matchDocuments(em, text, limit) : sqlite.matchDocuments(em, text, limit);
}

/**
 * A query over the items matching `text`, newest first: `select` gets a FROM part binding `i` to
 * the matching items and its parameters (FTS5's join on SQLite, one statement; on PostgreSQL the
 * stages of postgres-catalog.ts `inStages`, so no plan walks the whole table) and returns at most
 * `max` rows newest first. At most `want` rows in all; none when `text` holds no word.
 */
export function selectMatching<T>(
  em: EntityManager,
  text: string,
  want: number,
  select: (items: string, params: unknown[], max: number) => Promise<T[]>,
): Promise<T[]> {
  if (onPostgres(em)) return postgres.inStages(em, text, want, select);
  const query = sqlite.toMatchQuery(text);
  if (!query || want <= 0) return Promise.resolve([]);
  return select(
    'catalog_items_fts f join catalog_items i on i.id = f.rowid and catalog_items_fts match ?',
    [query],
    want,
  );
}

export async function catalogBatchWriter(
  em: EntityManager,
  scope: { repository: string; task: string; entity: string },
  options: { documents: boolean } = { documents: true },
): Promise<sqlite.CatalogBatchWriter> {
  return onPostgres(em) ? postgres.catalogBatchWriter(em, scope) : sqlite.catalogBatchWriter(em, scope, options);
}

export function removeRepositoryItems(
  em: EntityManager,
  repositoryId: string,
  options: { documents: boolean } = { documents: true },
): Promise<void> {
  return onPostgres(em)
    ? postgres.removeRepositoryItems(em, repositoryId)
    : sqlite.removeRepositoryItems(em, repositoryId, options);
}

/** Adds a repository's full-text documents (PostgreSQL's index follows the rows by itself). */
export async function indexRepositoryDocuments(em: EntityManager, repositoryId: string): Promise<void> {
  if (!onPostgres(em)) await sqlite.indexRepositoryDocuments(em, repositoryId);
}

/** Rebuilds the full-text index from the items' text (PostgreSQL's cannot drift from the rows). */
export async function rebuildAllDocuments(em: EntityManager): Promise<void> {
  if (!onPostgres(em)) await sqlite.rebuildAllDocuments(em);
}

/** After a bulk load: PostgreSQL's planner statistics refreshed (SQLite plans from its indexes alone). */
export async function refreshCatalogStatistics(em: EntityManager): Promise<void> {
  if (onPostgres(em)) await postgres.analyzeCatalog(em);
}

export function removeOrphanItems(em: EntityManager, repositoryId: string): Promise<void> {
  return onPostgres(em) ? postgres.removeOrphanItems(em, repositoryId) : sqlite.removeOrphanItems(em, repositoryId);
}

export const hasDocuments = sqlite.hasDocuments;

/**
 * Runs `work` without foreign-key checks where the database allows it per connection (SQLite;
 * see sqlite-catalog.ts). PostgreSQL keeps checking: turning them off needs a superuser.
 */
export function withoutForeignKeyChecks<T>(em: EntityManager, work: () => Promise<T>): Promise<T> {
  return onPostgres(em) ? work() : sqlite.withoutForeignKeyChecks(em, work);
}
