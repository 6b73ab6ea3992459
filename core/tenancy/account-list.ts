// The accounts table of a portal: the organizations under the one being worked in that the
// principal may reach, either one level down or the whole subtree, with search, filters, sort
// and paging. Query values come from a URL, so anything unknown falls back to its default
// rather than failing.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { z } from 'zod';
import { type Principal, reachableFilter } from '../access/principal.ts';
import { containsText } from '../db/text-search.ts';
import { type IOrganization, ORGANIZATION_STATUSES, Organization } from '../identity/entities.ts';
import { CHILD_KINDS, descendantsOf } from './organizations.ts';

export const ACCOUNT_PAGE_SIZE = 25;

export const ACCOUNT_SORTS = {
  name: { label: 'Name (A–Z)', orderBy: { name: 'asc', id: 'asc' } },
  name_desc: { label: 'Name (Z–A)', orderBy: { name: 'desc', id: 'asc' } },
  created_desc: { label: 'Newest first', orderBy: { createdAt: 'desc', id: 'asc' } },
  created: { label: 'Oldest first', orderBy: { createdAt: 'asc', id: 'asc' } },
} as const;
export type AccountSort = keyof typeof ACCOUNT_SORTS;

export const accountQuerySchema = z.object({
  q: z.string().trim().max(200).catch('').default(''),
  kind: z.enum(['distributor', 'partner', 'customer']).optional().catch(undefined),
  status: z.enum(ORGANIZATION_STATUSES).optional().catch(undefined),
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
  rows: IOrganization[];
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
): Promise<AccountPage> {
  const conditions: FilterQuery<IOrganization>[] = [descendantsOf(current), reachableFilter(principal, current)];
  if (!query.all) conditions.push(await firstLevelFilter(em, principal, current));
  if (query.q) {
    conditions.push({ $or: [containsText('name', query.q), containsText('contact_email', query.q)] } as never);
  }
  if (query.kind) conditions.push({ kind: query.kind });
  if (query.status) conditions.push({ status: query.status });
  const where: FilterQuery<IOrganization> = { $and: conditions };
  const total = await em.count(Organization, where);
  const pageCount = Math.max(1, Math.ceil(total / pageSize));
  const page = Math.min(query.page, pageCount);
  const rows = await em.find(Organization, where, {
    orderBy: ACCOUNT_SORTS[query.sort].orderBy,
    limit: pageSize,
    offset: (page - 1) * pageSize,
    populate: ['parent'],
  });
  return { rows, total, page, pageCount };
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
