// The scope of an API key: what it may do, fixed when it is made and never more than its
// creator held then, and whether it may act now. A key answers to its creator on every use: it
// is suspended while the creator is deactivated or deleted, or no longer holds the whole scope
// (demoted, fewer permissions or accounts), and works again once they do.
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { fieldErrorsFrom, ValidationError } from '../errors.ts';
import { type IOrganization, type IUser, USER_ROLES } from '../identity/entities.ts';
import { PERMISSIONS } from '../identity/permissions.ts';
import type { IApiKey } from './entities.ts';
import { ForbiddenError } from './errors.ts';
import { beyondHolder, type Grant, validateReach } from './grants.ts';
import { accountableUser, type Principal, principalForApiKey, principalForUser } from './principal.ts';

export const keyScopeSchema = z.object({
  role: z.enum(USER_ROLES, { error: 'Choose a role.' }),
  permissions: z.array(z.enum(PERMISSIONS, { error: 'Unknown permission.' })).default([]),
  accessibleAccounts: z.enum(['all', 'selected'], { error: 'Choose which accounts the key can reach.' }).default('all'),
  accessibleOrganizationIds: z.array(z.string().max(36)).max(1000).default([]),
});
export type KeyScopeInput = z.input<typeof keyScopeSchema>;

export function scopeOf(key: IApiKey): Grant {
  return {
    role: key.role,
    permissions: key.permissions,
    accessibleAccounts: key.accessibleAccounts,
    accessibleOrganizationIds: key.accessibleOrganizationIds,
  };
}

/** Everything the creator holds on `org`: the scope of a key made without choosing one. */
export function creatorsScope(creator: Principal, org: IOrganization): Grant {
  const atHome = org.id === creator.home.id;
  return {
    role: creator.isAdministrator ? 'administrator' : 'custom',
    permissions: creator.isAdministrator ? [] : [...creator.permissions],
    accessibleAccounts: atHome && creator.accessible !== 'all' ? 'selected' : 'all',
    accessibleOrganizationIds: atHome && creator.accessible !== 'all' ? [...creator.accessible] : [],
  };
}

/**
 * The scope for a new key on `org`: the one asked for (or, without one, all the creator holds),
 * refused with 422 when malformed and 403 when it exceeds the creator's own rights.
 */
export async function newKeyScope(
  em: EntityManager,
  org: IOrganization,
  creator: Principal,
  input: KeyScopeInput | undefined,
): Promise<Grant> {
  if (input === undefined) return creatorsScope(creator, org);
  const parsed = keyScopeSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  const data = parsed.data;
  const scope: Grant = {
    role: data.role,
    permissions: data.role === 'administrator' ? [] : [...new Set(data.permissions)],
    accessibleAccounts: data.accessibleAccounts,
    accessibleOrganizationIds: data.accessibleAccounts === 'all' ? [] : [...new Set(data.accessibleOrganizationIds)],
  };
  await validateReach(em, org, scope);
  const beyond = await beyondHolder(em, creator, org, scope);
  if (beyond.length > 0) {
    throw new ForbiddenError(`A key cannot hold more than you do. You do not hold: ${beyond.join(', ')}.`);
  }
  return scope;
}

/** The user a new key answers to: the signed-in user, or the creator of the key making it. */
export function keyCreator(principal: Principal): IUser | null {
  return accountableUser(principal) ?? null;
}

export type KeyStanding = { kind: 'active'; principal: Principal } | { kind: 'suspended'; reason: string };

/**
 * Whether the key may act now, and as whom. Needs `key.organization` and `key.createdBy` with
 * its organization loaded (the key service populates them).
 */
export async function keyStanding(em: EntityManager, key: IApiKey): Promise<KeyStanding> {
  const creator = key.createdBy as IUser | null | undefined;
  if (!creator) return { kind: 'suspended', reason: 'its creator no longer exists' };
  if (creator.status !== 'active') {
    const state = creator.status === 'deactivated' ? 'deactivated' : 'not active';
    return { kind: 'suspended', reason: `its creator ${creator.email} is ${state}` };
  }
  const organization = key.organization as IOrganization;
  const scope = scopeOf(key);
  const missing = await beyondHolder(em, principalForUser(creator), organization, scope);
  if (missing.length > 0) {
    return { kind: 'suspended', reason: `its creator ${creator.email} no longer holds ${missing.join(', ')}` };
  }
  return { kind: 'active', principal: principalForApiKey(key.id, organization, scope, creator) };
}

/** The sentence an API caller or the key's row shows for a suspended key. */
export function suspendedMessage(reason: string): string {
  return `This API key is suspended: ${reason}. A key acts only while its creator holds all of its scope.`;
}
