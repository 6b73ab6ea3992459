// The accounts table of a portal: the organizations under the one being worked in that the
// principal may reach, either one level down or the whole subtree, with search, filters, sort
// and paging. Query values come from a URL, so anything unknown falls back to its default
// rather than failing.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { z } from 'zod';
import { canReach, type Principal, reachableFilter } from '../access/principal.ts';
import { inTrialStatusFilter, TRIAL_STATUSES } from '../billing/trials.ts';
import { containsText } from '../db/text-search.ts';
import { type IOrganization, ORGANIZATION_STATUSES, Organization } from '../identity/entities.ts';
import {
  type AccountHealthRow,
  BACKUP_STATUSES,
  type BackupStatus,
  backupStatusCounts,
  type HealthSortColumn,
  listAccountHealth,
} from './account-health.ts';
import { CHILD_KINDS, descendantsOf } from './organizations.ts';
import { subtreeBackupStatusCounts } from './subtree-health.ts';

export const ACCOUNT_PAGE_SIZE = 25;

/** Every sortable column, ascending as `column` and descending as `column_desc` (server-side). */
export const ACCOUNT_SORTS = {
  name: { label: 'Name (A–Z)' },
  name_desc: { label: 'Name (Z–A)' },
  email: { label: 'Contact email (A–Z)' },
  email_desc: { label: 'Contact email (Z–A)' },
  status: { label: 'Account status (active first)' },
  status_desc: { label: 'Account status (removal pending first)' },
  backup_desc: { label: 'Backup status (failed first)' },
  backup: { label: 'Backup status (no backup first)' },
  size_desc: { label: 'Size (largest first)' },
  size: { label: 'Size (smallest first)' },
  stored_desc: { label: 'Stored (largest first)' },
  stored: { label: 'Stored (smallest first)' },
  entities_desc: { label: 'Protected items (most first)' },
  entities: { label: 'Protected items (fewest first)' },
  last_backup_desc: { label: 'Last backup (newest first)' },
  last_backup: { label: 'Last backup (oldest first)' },
  accounts_desc: { label: 'Accounts (most first)' },
  accounts: { label: 'Accounts (fewest first)' },
  created_desc: { label: 'Newest first' },
  created: { label: 'Oldest first' },
} as const;
export type AccountSort = keyof typeof ACCOUNT_SORTS;

/** The column and direction of a sort value. */
export function sortColumn(sort: AccountSort): { column: HealthSortColumn; descending: boolean } {
  const descending = sort.endsWith('_desc');
  return { column: (descending ? sort.slice(0, -5) : sort) as HealthSortColumn, descending };
}

export const accountQuerySchema = z.object({
  q: z.string().trim().max(200).catch('').default(''),
  kind: z.enum(['distributor', 'partner', 'customer']).optional().catch(undefined),
  status: z.enum(ORGANIZATION_STATUSES).optional().catch(undefined),
  /** The worst last-run result of the account's (or its subtree's) tasks: what the tiles filter by. */
  backup: z.enum(BACKUP_STATUSES).optional().catch(undefined),
  /** Trial accounts in progress, expiring (last 3 days) or expired (core/billing/trials.ts): what the Trial Status tiles filter by. */
  trial: z.enum(TRIAL_STATUSES).optional().catch(undefined),
  sort: z
    .enum(Object.keys(ACCOUNT_SORTS) as [AccountSort, ...AccountSort[]])
    .catch('name')
    .default('name'),
  /** '1': every level under the organization, not only its direct children. */
  all: z
    .string()
    .optional()
    .transform((v) => v === '1')
    .catch(false),
  page: z.coerce.number().int().min(1).max(100_000).catch(1).default(1),
});
export type AccountQuery = z.output<typeof accountQuerySchema>;

export function parseAccountQuery(query: Record<string, string | undefined>): AccountQuery {
  return accountQuerySchema.parse(query);
}

export interface AccountPage {
  rows: AccountHealthRow[];
  total: number;
  page: number;
  pageCount: number;
}

/**
 * The first level of what the principal sees under `current`: its direct children, or, for a
 * user granted only some accounts deeper down, the topmost granted ones.
 */
async function firstLevelFilter(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
): Promise<FilterQuery<IOrganization>> {
  if (principal.accessible === 'all' || current.id !== principal.home.id) return { parent: current.id };
  const granted = await em.find(Organization, { id: { $in: [...principal.accessible] } });
  const inside = granted.filter((o) => o.id !== current.id && o.path.startsWith(current.path));
  const tops = inside.filter((o) => !inside.some((other) => other.id !== o.id && o.path.startsWith(other.path)));
  return { $or: [{ parent: current.id }, { id: { $in: tops.map((o) => o.id) } }] };
}

export async function listAccounts(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  query: AccountQuery,
  pageSize = ACCOUNT_PAGE_SIZE,
  now: Date = new Date(),
): Promise<AccountPage> {
  // Customers that removed their partner's access keep their row, status and usage here.
  const conditions: FilterQuery<IOrganization>[] = [
    descendantsOf(current),
    reachableFilter(principal, current, { withdrawn: 'include' }),
  ];
  if (!query.all) conditions.push(await firstLevelFilter(em, principal, current));
  if (query.q) {
    conditions.push({
      // The short ID matches whole (a part of one would match names' searches at random).
      $or: [containsText('name', query.q), containsText('contact_email', query.q), { code: query.q.toUpperCase() }],
    } as never);
  }
  if (query.kind) conditions.push({ kind: query.kind });
  if (query.status) conditions.push({ status: query.status });
  if (query.trial) conditions.push(inTrialStatusFilter(em, query.trial, now) as FilterQuery<IOrganization>);
  const where: FilterQuery<IOrganization> = { $and: conditions };
  const { column, descending } = sortColumn(query.sort);
  const options = {
    backup: query.backup,
    sort: column,
    descending,
    limit: pageSize,
    offset: (query.page - 1) * pageSize,
  };
  let result = await listAccountHealth(em, where, options);
  const pageCount = Math.max(1, Math.ceil(result.total / pageSize));
  const page = Math.min(query.page, pageCount);
  // Past the last page: show the last one (the count came with the first query).
  if (page !== query.page) result = await listAccountHealth(em, where, { ...options, offset: (page - 1) * pageSize });
  return { rows: result.rows, total: result.total, page, pageCount };
}

/**
 * What the dashboard tiles of `current` count: the accounts below it at every level that the
 * principal may reach (customers that removed their partner's access included).
 */
export function tileScope(principal: Principal, current: IOrganization): FilterQuery<IOrganization> {
  return { $and: [descendantsOf(current), reachableFilter(principal, current, { withdrawn: 'include' })] };
}

/** The dashboard tiles of `current`: its reachable customer accounts at every level, per backup status. */
export async function accountTiles(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
): Promise<Record<BackupStatus, number>> {
  // Reaching the whole subtree (as tileScope then selects), its counters say it in one row.
  const wholeSubtree =
    current.path.startsWith(principal.home.path) &&
    (principal.accessible === 'all' || (current.id !== principal.home.id && canReach(principal, current)));
  if (wholeSubtree) return subtreeBackupStatusCounts(em, current.id);
  return backupStatusCounts(em, tileScope(principal, current));
}

/** Whether anything below `org` can itself hold accounts (so "all levels" means something). */
export function hasNestedLevels(org: IOrganization): boolean {
  return CHILD_KINDS[org.kind].some((kind) => CHILD_KINDS[kind].length > 0);
}

/** The kinds that can appear anywhere below `org`. */
export function kindsBelow(org: IOrganization): string[] {
  const seen = new Set<string>();
  const visit = (kind: IOrganization['kind']) => {
    for (const child of CHILD_KINDS[kind]) {
      if (!seen.has(child)) {
        seen.add(child);
        visit(child);
      }
    }
  };
  visit(org.kind);
  return [...seen];
}
