// What the System Activity (activity/) and the Security audit (audit/) share as event logs: rows
// of an organization tree with a time, read newest first. The reader's reach, one organization
// of it and a date range make one filter; a page comes with its total; an export reads every row
// in keyset batches (db/newest-first.ts). Each log adds its own filters to the `where`.
import type { EntityManager, EntityName, FilterQuery } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { type Principal, reachableFilter } from './access/principal.ts';
import { newestFirst } from './db/newest-first.ts';
import type { IOrganization } from './identity/entities.ts';

export interface EventLogFilters {
  from?: Date | undefined;
  /** Exclusive upper bound. */
  to?: Date | undefined;
  /** An organization id inside the reader's reach. */
  organizationId?: string | undefined;
}

/** The rows the principal may read from the organization worked in, narrowed by organization and time. */
export function eventLogWhere(
  principal: Principal,
  within: IOrganization,
  filters: EventLogFilters,
): Record<string, unknown> {
  const where: Record<string, unknown> = { organization: reachableFilter(principal, within) };
  if (filters.organizationId) where.organization = { $and: [where.organization, { id: filters.organizationId }] };
  const at: Record<string, Date> = {};
  if (filters.from) at.$gte = filters.from;
  if (filters.to) at.$lt = filters.to;
  if (Object.keys(at).length) where.at = at;
  return where;
}

/** One page of rows, newest first, with the total that match. */
export async function eventLogPage<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  page: number,
  pageSize: number,
): Promise<{ rows: T[]; total: number }> {
  const [rows, total] = await em.findAndCount(entity, where as never, {
    orderBy: { at: 'desc', id: 'desc' } as never,
    limit: pageSize,
    offset: (Math.max(1, page) - 1) * pageSize,
    populate: ['organization'] as never,
  });
  return { rows: rows as T[], total };
}

/** Every matching row, newest first, in batches (the CSV exports). */
export function allEventLogRows<T extends { at: Date; id: number }>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
): AsyncGenerator<T> {
  return newestFirst(em, entity, where, ['organization']);
}

/**
 * The distinct values of each column among the rows `where` selects: a filter offers only what
 * some row holds, never a choice that can only lead to an empty table.
 */
export async function presentValues<T extends object, K extends string>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  columns: readonly K[],
): Promise<Record<K, Set<string>>> {
  const out = {} as Record<K, Set<string>>;
  for (const column of columns) {
    const rows = (await (em as SqlEntityManager)
      .createQueryBuilder(entity, 'r')
      .select(`r.${column}` as never, true)
      .where(where as never)
      .execute('all')) as Record<string, unknown>[];
    out[column] = new Set(rows.map((r) => r[column]).filter((v): v is string => typeof v === 'string'));
  }
  return out;
}
