// Builds organization trees and users directly through the ORM, for tests that need several
// tenants without clicking through the portal.
import type { EntityManager } from '@mikro-orm/core';
import {
  type IOrganization,
  type IUser,
  Organization,
  type OrganizationKind,
  User,
} from '../../core/identity/entities.ts';
import { hashPassword } from '../../core/identity/password.ts';
import type { Permission } from '../../core/identity/permissions.ts';

export const TEST_PASSWORD = 'Tenant-test-pass-2026';
let cachedHash: Promise<string> | undefined;

export async function makeOrganization(
  em: EntityManager,
  parent: IOrganization,
  kind: Exclude<OrganizationKind, 'root'>,
  name: string,
): Promise<IOrganization> {
  const id = crypto.randomUUID();
  const org = em.create(Organization, { id, kind, parent, path: `${parent.path}${id}/`, name });
  await em.flush();
  return org;
}

export async function makeUser(
  em: EntityManager,
  organization: IOrganization,
  email: string,
  options: {
    role?: 'administrator' | 'custom';
    permissions?: Permission[];
    accessible?: string[];
    passwordChangedAt?: Date;
  } = {},
): Promise<IUser> {
  cachedHash ??= hashPassword(TEST_PASSWORD);
  const now = new Date();
  const user = em.create(User, {
    organization,
    email,
    passwordHash: await cachedHash,
    passwordChangedAt: options.passwordChangedAt ?? now,
    emailConfirmedAt: now,
    role: options.role ?? 'administrator',
    permissions: options.permissions ?? [],
    accessibleAccounts: options.accessible ? 'selected' : 'all',
    accessibleOrganizationIds: options.accessible ?? [],
    status: 'active',
    lastLoginAt: null,
  });
  await em.flush();
  return user;
}

export async function rootOf(em: EntityManager): Promise<IOrganization> {
  return em.findOneOrFail(Organization, { kind: 'root' });
}
