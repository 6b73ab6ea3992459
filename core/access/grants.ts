// A grant is what a user or an API key may do on an organization: a role, the permissions of a
// Custom role, and the accounts it reaches (all under the organization, or the listed ones and
// their subtrees). One rule serves inviting and editing users, making API keys and checking a
// key on every use: nobody hands out more than they hold.
import type { EntityManager } from '@mikro-orm/core';
import { ValidationError } from '../errors.ts';
import { type IOrganization, Organization, type UserRole } from '../identity/entities.ts';
import { PERMISSION_LABELS, PERMISSIONS, type Permission } from '../identity/permissions.ts';
import { canReach, type Principal } from './principal.ts';

export interface Grant {
  role: UserRole;
  permissions: readonly Permission[];
  accessibleAccounts: 'all' | 'selected';
  accessibleOrganizationIds: readonly string[];
}

/** The permissions a grant amounts to (an administrator holds them all). */
export function grantedPermissions(grant: Grant): Permission[] {
  return grant.role === 'administrator' ? [...PERMISSIONS] : [...grant.permissions];
}

/** Whether the holder reaches every account under `org` (not only some of them). */
export function reachesAllUnder(holder: Principal, org: IOrganization): boolean {
  if (!canReach(holder, org)) return false;
  // Beyond its home, a holder reaches whole subtrees; at home only its list, unless 'all'.
  return org.id !== holder.home.id || holder.accessible === 'all';
}

/**
 * What of `grant` on `org` the holder does not hold itself, in words ("the Administrator role",
 * "Manage users", "all accounts under Acme", "Partner B"); empty when it holds all of it. With
 * `already`, only what `grant` adds to it counts (editing keeps what someone else gave).
 */
export async function beyondHolder(
  em: EntityManager,
  holder: Principal,
  org: IOrganization,
  grant: Grant,
  already?: Grant,
): Promise<string[]> {
  const missing: string[] = [];
  if (!canReach(holder, org)) return [org.name];
  const newlyAdministrator = grant.role === 'administrator' && already?.role !== 'administrator';
  if (newlyAdministrator && !holder.isAdministrator) missing.push('the Administrator role');
  const before = new Set(already ? grantedPermissions(already) : []);
  for (const permission of grantedPermissions(grant)) {
    if (before.has(permission) || newlyAdministrator) continue;
    if (!holder.isAdministrator && !holder.permissions.has(permission)) {
      missing.push(PERMISSION_LABELS[permission].label);
    }
  }
  const sameReach =
    already !== undefined &&
    already.accessibleAccounts === grant.accessibleAccounts &&
    grant.accessibleOrganizationIds.every((id) => already.accessibleOrganizationIds.includes(id));
  if (sameReach) return missing;
  if (grant.accessibleAccounts === 'all') {
    if (!reachesAllUnder(holder, org)) missing.push(`all accounts under ${org.name}`);
    return missing;
  }
  const added = grant.accessibleOrganizationIds.filter((id) => !already?.accessibleOrganizationIds.includes(id));
  if (added.length === 0) return missing;
  const found = await em.find(Organization, { id: { $in: added } }, { orderBy: { name: 'asc' } });
  for (const account of found) if (!canReach(holder, account)) missing.push(account.name);
  return missing;
}

/** A list of accounts must name at least one, each strictly under `org` (422 on `accessibleAccounts`). */
export async function validateReach(em: EntityManager, org: IOrganization, grant: Grant): Promise<void> {
  if (grant.accessibleAccounts !== 'selected') return;
  if (org.kind === 'customer') {
    throw new ValidationError({ accessibleAccounts: 'A customer account has no accounts under it to choose from.' });
  }
  if (grant.accessibleOrganizationIds.length === 0) {
    throw new ValidationError({ accessibleAccounts: 'Choose at least one account, or allow all accounts.' });
  }
  const found = await em.find(Organization, { id: { $in: [...grant.accessibleOrganizationIds] } });
  const valid = found.filter((o) => o.id !== org.id && o.path.startsWith(org.path));
  if (valid.length !== grant.accessibleOrganizationIds.length) {
    throw new ValidationError({ accessibleAccounts: 'One of the chosen accounts is not under this organization.' });
  }
}
