// Tenancy and identity records. Organizations form a tree (root → distributor → partner →
// customer); users belong to one organization; sessions are server-side, keyed by a hash
// of the cookie token so a database leak does not hand out live sessions.

import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

export const ORGANIZATION_KINDS = ['root', 'distributor', 'partner', 'customer'] as const;
export type OrganizationKind = (typeof ORGANIZATION_KINDS)[number];

export const USER_ROLES = ['administrator', 'custom'] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const Organization = defineEntity({
  name: 'Organization',
  tableName: 'organizations',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    name: p.string().length(200),
    kind: p.enum(ORGANIZATION_KINDS),
    parent: () => p.manyToOne(Organization).nullable().index(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IOrganization = InferEntity<typeof Organization>;

export const User = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).index(),
    /** Stored lower-cased; unique across the appliance so a login names one user. */
    email: p.string().length(320).unique(),
    passwordHash: p.string().length(255).hidden(),
    role: p.enum(USER_ROLES),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    lastLoginAt: p.datetime().nullable(),
  },
});
export type IUser = InferEntity<typeof User>;

export const Session = defineEntity({
  name: 'Session',
  tableName: 'sessions',
  properties: {
    /** SHA-256 (hex) of the random token held in the cookie. */
    id: p.string().primary().length(64),
    user: () => p.manyToOne(User).index().deleteRule('cascade'),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime().index(),
    ip: p.string().length(64).nullable(),
    userAgent: p.string().length(400).nullable(),
  },
});
export type ISession = InferEntity<typeof Session>;
