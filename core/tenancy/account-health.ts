// Backup health of the accounts under a portal, read in SQL (never by loading each account):
// per account the worst last-run result of its tasks' entities, logical size, protected entities
// and last backup, from the `account_health` row the database keeps per organization
// (core/tenancy/entities.ts), rolled up to every ancestor so a partner row shows its customers'
// health; and the dashboard tiles (customer accounts below, per backup status).
//
// A row's roll-up is its `subtree_health` row, which the database keeps for every organization's
// subtree (core/tenancy/subtree-health.ts): one row per listed account, whatever lies below it.
// The tiles of a whole subtree read its row too; the tiles of a user granted only some accounts
// count those accounts' health rows here.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { plainFilterKey } from '../db/filter-key.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';

/** Backup statuses, best to worst; the rank is the index. */
export const BACKUP_STATUSES = ['none', 'success', 'partial', 'failed'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

export const BACKUP_STATUS_LABELS: Record<BackupStatus, string> = {
  none: 'No backup',
  success: 'Successful',
  partial: 'Partially failed',
  failed: 'Failed',
};

/** What a distributor's partner list says of a partner's tasks (seed 003). */
export type TaskStatusSummary = 'successful' | 'failures' | 'no_tasks' | 'no_accounts';

export const TASK_STATUS_LABELS: Record<TaskStatusSummary, string> = {
  successful: 'Successful',
  failures: 'Failures',
  no_tasks: 'No tasks yet',
  no_accounts: 'No accounts yet',
};

/** An `account_health` row's (h) worst result as the rank of BACKUP_STATUSES. */
const WORST_SQL = 'case when h.failed > 0 then 3 when h.partial > 0 then 2 when h.success > 0 then 1 else 0 end';

/**
 * The SQL of each filter of plain values, kept (core/db/filter-key.ts): a portal page builds two
 * or three from the same filters on every request, and building one cost more than running it.
 */
const builtSubqueries = new Map<string, { sql: string; params: readonly unknown[] }>();
const MAX_BUILT_SUBQUERIES = 1000;

/** SQL and parameters of the ids an organization filter selects (no order, no limit). */
export function idSubquery(em: EntityManager, where: FilterQuery<IOrganization>): { sql: string; params: unknown[] } {
  const key = plainFilterKey(where);
  const kept = key === undefined ? undefined : builtSubqueries.get(key);
  if (kept) return { sql: kept.sql, params: [...kept.params] };
  const qb = (em as SqlEntityManager)
    .createQueryBuilder(Organization, 'f')
    .select('f.id')
    .where(where as never);
  const built = { sql: qb.getQuery(), params: [...qb.getParams()] };
  if (key !== undefined) {
    if (builtSubqueries.size >= MAX_BUILT_SUBQUERIES) builtSubqueries.clear();
    builtSubqueries.set(key, { sql: built.sql, params: [...built.params] });
  }
  return built;
}

export interface AccountHealthRow {
  id: string;
  /** The short human Partner/Account ID. */
  code: string | null;
  name: string;
  kind: IOrganization['kind'];
  contactEmail: string | null;
  status: IOrganization['status'];
  /** Set when the customer removed its partner's access: the row stays, without a way in. */
  accessRemoved: boolean;
  purgeAfter: Date | null;
  createdAt: Date;
  parentId: string | null;
  parentName: string | null;
  backupStatus: BackupStatus;
  /** Sum of the last snapshot's logical bytes of every entity in the subtree. */
  logicalBytes: number;
  /** Bytes the subtree's runs wrote to storage after dedup and compression (not lowered by pruning). */
  storedBytes: number;
  /** Entities backed up by the scheduler (active statuses). */
  protectedEntities: number;
  lastBackupAt: Date | null;
  tasks: number;
  /** Customer accounts below (0 for a customer). */
  customersBelow: number;
  taskStatus: TaskStatusSummary;
}

/** Sort columns of the accounts list and the SQL each orders by (ties by name, then id). */
export const HEALTH_SORT_COLUMNS = {
  name: 'o.name',
  email: 'o.contact_email',
  status: 'o.status',
  backup: 'coalesce(r.worst, 0)',
  size: 'coalesce(r.bytes, 0)',
  stored: 'coalesce(r.stored, 0)',
  entities: 'coalesce(r.protected, 0)',
  last_backup: 'r.last_run',
  accounts: 'coalesce(r.customers, 0)',
  created: 'o.created_at',
} as const;
export type HealthSortColumn = keyof typeof HEALTH_SORT_COLUMNS;

export interface HealthListOptions {
  backup?: BackupStatus | undefined;
  sort: HealthSortColumn;
  descending: boolean;
  limit: number;
  offset: number;
}

/** A date column as the driver returns it (SQLite: epoch milliseconds, PostgreSQL: a Date). */
export function columnDate(value: unknown): Date | null {
  if (value === null || value === undefined || value === '') return null;
  if (value instanceof Date) return value;
  const d = new Date(typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : (value as string | number));
  return Number.isNaN(d.getTime()) ? null : d;
}

function taskStatusOf(kind: string, customers: number, tasks: number, worst: number): TaskStatusSummary {
  if (kind !== 'customer' && customers === 0 && tasks === 0) return 'no_accounts';
  if (tasks === 0) return 'no_tasks';
  return worst >= 2 ? 'failures' : 'successful';
}

/**
 * One page of the organizations `where` selects under `base`, with their health, filtered by
 * backup status and sorted by any column; and how many match.
 */
export async function listAccountHealth(
  em: EntityManager,
  where: FilterQuery<IOrganization>,
  options: HealthListOptions,
): Promise<{ rows: AccountHealthRow[]; total: number }> {
  const ids = idSubquery(em, where);
  const conn = em.getConnection();
  const dir = options.descending ? 'desc' : 'asc';
  // Never-run accounts sort after the ones with a backup, whichever the direction.
  const nulls = options.sort === 'last_backup' ? 'r.last_run is null, ' : '';
  const orderBy = `${nulls}${HEALTH_SORT_COLUMNS[options.sort]} ${dir}, o.name ${dir}, o.id asc`;
  if (!options.backup && PLAIN_SORTS.has(options.sort)) {
    // The page does not depend on health: choose it first, then sum only its rows' subtrees.
    const page = (await conn.execute(
      `select o.id, count(*) over () as total from organizations o where o.id in (${ids.sql})
       order by ${orderBy} limit ? offset ?`,
      [...ids.params, options.limit, options.offset],
      'all',
    )) as { id: string; total: number | string }[];
    if (page.length === 0) {
      const counted = (await conn.execute(
        `select count(*) as n from organizations o where o.id in (${ids.sql})`,
        ids.params,
        'all',
      )) as { n: number | string }[];
      return { rows: [], total: Number(counted[0]?.n ?? 0) };
    }
    const raw = await healthQuery(
      em,
      { sql: page.map(() => '?').join(', '), params: page.map((r) => r.id) },
      { orderBy },
    );
    return { rows: raw.map(rowOf), total: Number(page[0]?.total ?? 0) };
  }
  const conditions: string[] = [];
  const params: unknown[] = [];
  if (options.backup) {
    conditions.push('coalesce(r.worst, 0) = ?');
    params.push(BACKUP_STATUSES.indexOf(options.backup));
  }
  const filter = { where: conditions.join(' and '), params };
  const raw = await healthQuery(em, ids, { ...filter, orderBy, limit: options.limit, offset: options.offset });
  if (raw.length === 0 && options.offset > 0) {
    const counted = await healthQuery(em, ids, { ...filter, countOnly: true });
    return { rows: [], total: Number(counted[0]?.n ?? 0) };
  }
  return { rows: raw.map(rowOf), total: Number(raw[0]?.total ?? 0) };
}

/** Sorts that choose a page without the health figures. */
const PLAIN_SORTS = new Set<HealthSortColumn>(['name', 'email', 'status', 'created']);

/**
 * The organizations (`o`) whose ids `candidates` lists, each with its subtree's health (`r`),
 * narrowed by `where`, ordered and paged; or their count. An organization's subtree is itself
 * and every path under its own; its customers are those strictly below.
 */
async function healthQuery(
  em: EntityManager,
  candidates: { sql: string; params: unknown[] },
  q: { where?: string; params?: unknown[]; orderBy?: string; limit?: number; offset?: number; countOnly?: boolean },
): Promise<Record<string, unknown>[]> {
  const select = q.countOnly
    ? 'select count(*) as n'
    : `select o.id, o.code, o.name, o.kind, o.contact_email, o.status, o.partner_access_removed_at, o.purge_after, o.created_at, o.parent_id,
      par.name as parent_name, coalesce(r.worst, 0) as worst, coalesce(r.bytes, 0) as bytes, coalesce(r.stored, 0) as stored,
      coalesce(r.protected, 0) as protected, r.last_run, coalesce(r.tasks, 0) as tasks,
      coalesce(r.customers, 0) as customers, count(*) over () as total`;
  const paging = q.limit === undefined ? '' : ' limit ? offset ?';
  // Each account's subtree figures are its subtree_health row (kept by the database: core/tenancy/entities.ts).
  const sql = `with rolled as (
      select c.id as id, ${WORST_SQL.replaceAll('h.', 's.')} as worst, s.bytes as bytes, s.stored_bytes as stored,
        s.protected as protected, s.last_run_at as last_run, s.tasks as tasks, s.customers as customers
      from organizations c
      left join subtree_health s on s.organization_id = c.id
      where c.id in (${candidates.sql})
    )
    ${select}
    from rolled r
    join organizations o on o.id = r.id
    left join organizations par on par.id = o.parent_id
    ${q.where ? `where ${q.where}` : ''}
    ${q.orderBy && !q.countOnly ? `order by ${q.orderBy}` : ''}${paging}`;
  const params = [
    ...candidates.params,
    ...(q.params ?? []),
    ...(q.limit === undefined ? [] : [q.limit, q.offset ?? 0]),
  ];
  return (await em.getConnection().execute(sql, params, 'all')) as Record<string, unknown>[];
}

function rowOf(r: Record<string, unknown>): AccountHealthRow {
  const worst = Number(r.worst);
  const customers = Number(r.customers);
  const tasks = Number(r.tasks);
  return {
    id: r.id as string,
    code: (r.code as string | null) ?? null,
    name: r.name as string,
    kind: r.kind as IOrganization['kind'],
    contactEmail: (r.contact_email as string | null) ?? null,
    status: r.status as IOrganization['status'],
    accessRemoved: r.partner_access_removed_at !== null && r.partner_access_removed_at !== undefined,
    purgeAfter: columnDate(r.purge_after),
    createdAt: columnDate(r.created_at) ?? new Date(0),
    parentId: (r.parent_id as string | null) ?? null,
    parentName: (r.parent_name as string | null) ?? null,
    backupStatus: BACKUP_STATUSES[worst] ?? 'none',
    logicalBytes: Number(r.bytes),
    storedBytes: Number(r.stored),
    protectedEntities: Number(r.protected),
    lastBackupAt: columnDate(r.last_run),
    tasks,
    customersBelow: customers,
    taskStatus: taskStatusOf(r.kind as string, customers, tasks, worst),
  };
}

/** The dashboard tiles: customer accounts among those `where` selects, per backup status. */
export async function backupStatusCounts(
  em: EntityManager,
  where: FilterQuery<IOrganization>,
): Promise<Record<BackupStatus, number>> {
  // A customer holds no accounts: its own row is its status, no roll-up needed. The ids come
  // from the index on (path, kind, id) alone; only their health rows are read.
  const ids = idSubquery(em, { $and: [where, { kind: 'customer' }] } as FilterQuery<IOrganization>);
  const sql = `select coalesce(${WORST_SQL}, 0) as worst, count(*) as n
    from (${ids.sql}) c
    left join account_health h on h.organization_id = c.id
    group by coalesce(${WORST_SQL}, 0)`;
  const raw = (await em.getConnection().execute(sql, ids.params, 'all')) as {
    worst: number | string;
    n: number | string;
  }[];
  const counts: Record<BackupStatus, number> = { none: 0, success: 0, partial: 0, failed: 0 };
  for (const r of raw) counts[BACKUP_STATUSES[Number(r.worst)] ?? 'none'] += Number(r.n);
  return counts;
}
