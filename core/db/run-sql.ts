// Plain SQL on the ORM's connection, for the statements the query builder does not express.
// Written so that SQLite and PostgreSQL both run it: `?` placeholders, dates passed as Date.
import type { EntityManager } from '@mikro-orm/core';
import { BasePostgreSqlPlatform } from '@mikro-orm/sql';

/** Runs SQL on the EntityManager's connection, inside its transaction when it has one. */
export function runSql<T = Record<string, unknown>[]>(
  em: EntityManager,
  sql: string,
  params: unknown[] = [],
): Promise<T> {
  return em.getConnection().execute(sql, params, 'all', em.getTransactionContext()) as Promise<T>;
}

/** True when the EntityManager's database is PostgreSQL (the scale-out mode), false on SQLite. */
export function onPostgres(em: EntityManager): boolean {
  return em.getPlatform() instanceof BasePostgreSqlPlatform;
}
