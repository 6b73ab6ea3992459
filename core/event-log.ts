// What the System Activity (activity/) and the Security audit (audit/) share as event logs: rows
// of an organization tree with a time, read newest first. The reader's reach, one organization
// of it and a date range make one filter; a page comes with its total; an export reads every row
// in keyset batches (db/newest-first.ts). Each log adds its own filters to the `where`.
import type { EntityManager, EntityName, FilterQuery } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { type Principal, reachableFilter, reachesEveryOrganization } from './access/principal.ts';
import { plainFilterKey } from './db/filter-key.ts';
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
export async function eventLogWhere(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  filters: EventLogFilters,
): Promise<Record<string, unknown>> {
  const reach = reachableFilter(principal, within);
  // Every row of an organization is in reach: no join with the organizations to check each row's.
  const everywhere = !filters.organizationId && (await reachesEveryOrganization(em, principal, within));
  const where: Record<string, unknown> = { organization: everywhere ? { $ne: null } : reach };
  if (filters.organizationId) where.organization = { $and: [reach, { id: filters.organizationId }] };
  const at: Record<string, Date> = {};
  if (filters.from) at.$gte = filters.from;
  if (filters.to) at.$lt = filters.to;
  if (Object.keys(at).length) where.at = at;
  return where;
}

/** An organization as a log row shows it: which one, by name. */
export interface EventLogOrganization {
  id: string;
  name: string;
}

/** A log row as its page and the API read it: the row's columns and its organization's name. */
export type EventLogRow<T> = Omit<T, 'organization'> & { organization?: EventLogOrganization | null | undefined };

/**
 * One page of rows, newest first, with the total that match. The rows are plain values, not
 * managed entities: read by one query joined to the organizations' names and mapped to property
 * names (hydrating 50 entities with their organizations cost four times the SQL).
 */
export async function eventLogPage<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  page: number,
  pageSize: number,
): Promise<{ rows: EventLogRow<T>[]; total: number }> {
  const meta = em.getMetadata().find(entity);
  if (!meta) throw new Error(`no metadata of ${String(entity)}`);
  const offset = (Math.max(1, page) - 1) * pageSize;
  const statements = pageStatements(em, entity, meta.className, where, pageSize, offset);
  const conn = em.getConnection();
  const driver = em.getDriver();
  const found = (await conn.execute(statements.page.sql, [...statements.page.params], 'all')) as Record<
    string,
    unknown
  >[];
  const rows = found.map((raw) => {
    const {
      organization,
      organization_name: name,
      ...row
    } = driver.mapResult(raw as never, meta) as Record<string, unknown>;
    return { ...row, organization: organization ? { id: organization as string, name: (name as string) ?? '' } : null };
  }) as unknown as EventLogRow<T>[];
  const [counted] = (await conn.execute(statements.count.sql, [...statements.count.params], 'all')) as {
    count: number | string;
  }[];
  return { rows, total: Number(counted?.count ?? 0) };
}

interface Built {
  sql: string;
  params: readonly unknown[];
}

/**
 * The SQL of a page and of its count, kept per log, filter, page size and offset when the filter
 * holds plain values only (core/db/filter-key.ts): the same pages are read again and again, and
 * building them through the query builder cost more than running them.
 */
const builtPages = new Map<string, { page: Built; count: Built }>();
const MAX_BUILT_PAGES = 1000;

/** The filter of a reader who reaches every organization (eventLogWhere). */
const EVERY_ORGANIZATION = JSON.stringify({ organization: { $ne: null } });

/**
 * Every row of some organization, counted as all rows less those of none: SQLite counts a
 * whole table from its pages, and the rows without an organization are a seek in its index —
 * where counting "is not null" reads 100,000 index entries.
 */
function everyOrganizationCount<T extends object>(em: EntityManager, entity: EntityName<T>): Built {
  const meta = em.getMetadata().find(entity);
  const column = (meta?.properties as Record<string, { fieldNames: string[] } | undefined> | undefined)?.organization
    ?.fieldNames[0];
  if (!meta || !column) throw new Error(`no organization column on ${String(entity)}`);
  const table = meta.tableName;
  return {
    sql: `select (select count(*) from ${table}) - (select count(*) from ${table} where ${column} is null) as count`,
    params: [],
  };
}

function pageStatements<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  log: string,
  where: FilterQuery<T>,
  limit: number,
  offset: number,
): { page: Built; count: Built } {
  const filter = plainFilterKey(where);
  const key = filter === undefined ? undefined : `${log} ${limit} ${offset} ${filter}`;
  const kept = key === undefined ? undefined : builtPages.get(key);
  if (kept) return kept;
  const sql = em as SqlEntityManager;
  const page = sql
    .createQueryBuilder(entity, 'r')
    .select('r.*' as never)
    .leftJoin('r.organization' as never, 'o')
    .addSelect('o.name as organization_name' as never)
    .where(where as never)
    .orderBy({ at: 'desc', id: 'desc' } as never)
    .limit(limit)
    .offset(offset);
  const count = sql
    .createQueryBuilder(entity, 'r')
    .count()
    .where(where as never);
  const built = {
    page: { sql: page.getQuery(), params: [...page.getParams()] },
    count:
      filter === EVERY_ORGANIZATION
        ? everyOrganizationCount(em, entity)
        : { sql: count.getQuery(), params: [...count.getParams()] },
  };
  if (key !== undefined) {
    if (builtPages.size >= MAX_BUILT_PAGES) builtPages.clear();
    builtPages.set(key, built);
  }
  return built;
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
 * some row holds, never a choice that can only lead to an empty table. `everywhere`: `where`
 * selects every row of an organization (reachesEveryOrganization), so each value is found by a
 * seek in the (column, at) index instead of reading every row of the log.
 */
export async function presentValues<T extends object, K extends string>(
  em: EntityManager,
  entity: EntityName<T>,
  where: FilterQuery<T>,
  columns: readonly K[],
  everywhere = false,
): Promise<Record<K, Set<string>>> {
  const out = {} as Record<K, Set<string>>;
  for (const column of columns) {
    const rows = everywhere
      ? await distinctBySeeks(em, entity, column)
      : ((await (em as SqlEntityManager)
          .createQueryBuilder(entity, 'r')
          .select(`r.${column}` as never, true)
          .where(where as never)
          .execute('all')) as Record<string, unknown>[]);
    out[column] = new Set(rows.map((r) => r[column]).filter((v): v is string => typeof v === 'string'));
  }
  return out;
}

/**
 * The values of `column` held by rows of some organization, one index seek per value: each next
 * value is the smallest above the last (a "loose index scan"), kept when a row of it has an
 * organization (rows without one are few: the appliance's own, like a sign-in of an unknown email).
 */
async function distinctBySeeks<T extends object>(
  em: EntityManager,
  entity: EntityName<T>,
  column: string,
): Promise<Record<string, unknown>[]> {
  const meta = em.getMetadata().find(entity);
  const table = meta?.tableName;
  const properties = (meta?.properties ?? {}) as Record<string, { fieldNames: string[] } | undefined>;
  const field = properties[column]?.fieldNames[0];
  const organization = properties.organization?.fieldNames[0];
  if (!table || !field || !organization) throw new Error(`no column ${column} or organization on ${String(entity)}`);
  // Identifiers in double quotes: standard SQL, which SQLite and PostgreSQL both read.
  return (await em.getConnection().execute(
    `with recursive v(value) as (
       select min("${field}") from "${table}"
       union all
       select (select min("${field}") from "${table}" where "${field}" > v.value) from v where v.value is not null
     )
     select value as "${column}" from v
     where value is not null
       and exists (select 1 from "${table}" where "${field}" = v.value and "${organization}" is not null)`,
    [],
    'all',
  )) as Record<string, unknown>[];
}
