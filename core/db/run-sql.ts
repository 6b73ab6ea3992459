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

/**
 * A date read by plain SQL (an aggregate such as max(), which the ORM does not map): SQLite
 * stores dates as epoch milliseconds, PostgreSQL's driver hands timestamptz over as text
 * ('2026-12-01 02:00:00+00'); null stays null.
 */
export function dateFromSql(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) return value;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))) return new Date(Number(value));
  const date = new Date(String(value));
  if (Number.isNaN(date.getTime())) throw new Error(`Not a date from the database: ${String(value)}`);
  return date;
}
