// Who is acting and what they may do. A principal is a signed-in user or an API key; both act
// from a home organization on that organization and the descendants they were granted.
// Every lookup of an organization by id goes through `accessibleOrganization`, which answers
// "not found" for anything outside the caller's reach, so other tenants' ids reveal nothing.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { NotFoundError } from '../errors.ts';
import { type IOrganization, type IUser, Organization } from '../identity/entities.ts';
import { PERMISSIONS, type Permission } from '../identity/permissions.ts';
import { likeSafePath, pathsUnder } from '../tenancy/organizations.ts';
import type { Grant } from './grants.ts';

export interface Principal {
  kind: 'user' | 'api_key';
  /** Set for users. */
  user?: IUser;
  /** Set for API keys: the client id. */
  apiKeyId?: string;
  /** Set for API keys: the user whose current rights bound the key. */
  creator?: IUser;
  /** How the audit log names the actor. */
  label: string;
  home: IOrganization;
  isAdministrator: boolean;
  permissions: ReadonlySet<Permission>;
  /** 'all' descendants of home, or only the listed organizations and their subtrees. */
  accessible: 'all' | readonly string[];
}

export function principalForUser(user: IUser): Principal {
  const isAdministrator = user.role === 'administrator';
  return {
    kind: 'user',
    user,
    label: user.email,
    home: user.organization as IOrganization,
    isAdministrator,
    permissions: new Set(isAdministrator ? PERMISSIONS : user.permissions),
    accessible: user.accessibleAccounts === 'all' ? 'all' : user.accessibleOrganizationIds,
  };
}

/**
 * An API key acts within its scope on its organization. Callers check first that the creator
 * still holds that scope (`core/access/api-key-scope.ts`); this only shapes the principal.
 */
export function principalForApiKey(
  apiKeyId: string,
  organization: IOrganization,
  scope: Grant,
  creator: IUser,
): Principal {
  const isAdministrator = scope.role === 'administrator';
  return {
    kind: 'api_key',
    apiKeyId,
    creator,
    label: `API key ${apiKeyId}`,
    home: organization,
    isAdministrator,
    permissions: new Set(isAdministrator ? PERMISSIONS : scope.permissions),
    accessible: scope.accessibleAccounts === 'all' ? 'all' : scope.accessibleOrganizationIds,
  };
}

/** The user a principal answers to: the signed-in user, or the creator of the API key. */
export function accountableUser(principal: Principal): IUser | undefined {
  return principal.user ?? principal.creator;
}

export function hasPermission(principal: Principal, permission: Permission): boolean {
  return principal.isAdministrator || principal.permissions.has(permission);
}

/**
 * Whether the organization sits in the principal's tree (its home, or a granted descendant),
 * whatever its privacy option: what the portal's account row, status and usage figures need.
 */
export function holdsInPortal(principal: Principal, org: IOrganization): boolean {
  if (org.id === principal.home.id) return true;
  if (!org.path.startsWith(principal.home.path)) return false;
  if (principal.accessible === 'all') return true;
  return principal.accessible.some((id) => org.path.includes(`/${id}/`));
}

/**
/**
 * Whether the principal reaches every organization there is inside `within` (an unrestricted user
 * of the root working at the root, and no customer has removed its partners' access): a log's
 * rows then need no organization filter at all.
 */
export async function reachesEveryOrganization(
  em: EntityManager,
  principal: Principal,
  within?: IOrganization,
): Promise<boolean> {
  const base = within?.path.startsWith(principal.home.path) ? within : principal.home;
  if (principal.accessible !== 'all' || base.kind !== 'root') return false;
  // A plain statement on the column's index: asked several times on every log page, where
  // MikroORM's count cost more to build than to run.
  const [row] = (await em
    .getConnection()
    .execute(
      'select exists (select 1 from organizations where partner_access_removed_at is not null) as removed',
      [],
      'all',
    )) as { removed: number }[];
  return !row?.removed;
}

/**
 * Whether the principal may act on this organization and its data: one it holds in its portal,
 * unless that is a customer whose administrator removed its partners' access (only the
 * customer's own users reach it then). Only customers, which hold no accounts, can do that, so
 * the organization's own flag decides.
 */
export function canReach(principal: Principal, org: IOrganization): boolean {
  if (!holdsInPortal(principal, org)) return false;
  return org.id === principal.home.id || !org.partnerAccessRemovedAt;
}

/**
 * Filter for every organization the principal may reach (optionally only inside `within`).
 * `withdrawn: 'include'` keeps customers that removed their partners' access: for the portal's
 * account rows, tiles and usage figures only, never for their data.
 */
export function reachableFilter(
  principal: Principal,
  within?: IOrganization,
  options: { withdrawn?: 'include' | 'exclude' } = {},
): FilterQuery<IOrganization> {
  const base = within?.path.startsWith(principal.home.path) ? within : principal.home;
  const subtree: FilterQuery<IOrganization> = { path: pathsUnder(base.path) };
  const privacy: FilterQuery<IOrganization>[] =
    options.withdrawn === 'include' ? [] : [{ $or: [{ partnerAccessRemovedAt: null }, { id: principal.home.id }] }];
  if (principal.accessible === 'all' || base.id !== principal.home.id) {
    if (base.id !== principal.home.id && !canReach(principal, base)) return { id: null };
    return privacy.length ? { $and: [subtree, ...privacy] } : subtree;
  }
  return {
    $and: [
      subtree,
      {
        $or: [
          { id: principal.home.id },
          ...principal.accessible.map((id) => ({ path: { $like: `%/${likeSafePath(id)}/%` } })),
        ],
      },
      ...privacy,
    ],
  };
}

/** The organization with this id if the principal may reach it; otherwise a 404. */
export async function accessibleOrganization(
  em: EntityManager,
  principal: Principal,
  id: string,
): Promise<IOrganization> {
  const org = typeof id === 'string' && id.length <= 36 ? await em.findOne(Organization, { id }) : null;
  if (!org || !canReach(principal, org)) throw new NotFoundError('There is no such organization.');
  return org;
}
