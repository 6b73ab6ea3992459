// Tenancy and identity records. Organizations form a tree (root → distributor → partner →
// customer); users belong to one organization; sessions are server-side, keyed by a hash
// of the cookie token so a database leak does not hand out live sessions.

import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { randomAccountCode } from './account-code.ts';
import type { Permission } from './permissions.ts';

export const ORGANIZATION_KINDS = ['root', 'distributor', 'partner', 'customer'] as const;
export type OrganizationKind = (typeof ORGANIZATION_KINDS)[number];

export const ORGANIZATION_STATUSES = ['active', 'removal_pending'] as const;
export type OrganizationStatus = (typeof ORGANIZATION_STATUSES)[number];

export const USER_ROLES = ['administrator', 'custom'] as const;
export type UserRole = (typeof USER_ROLES)[number];

/** pending: invited, email not confirmed yet; deactivated: kept, but cannot sign in. */
export const USER_STATUSES = ['pending', 'active', 'deactivated'] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

/** How an organization's users sign in (core/identity/sso/sign-in-policy.ts). */
export const SIGN_IN_POLICIES = ['password', 'sso', 'either'] as const;
export type SignInPolicy = (typeof SIGN_IN_POLICIES)[number];

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
    /** Ids from the root down to this node, '/'-separated and '/'-terminated: subtree = prefix match. */
    path: p.string().length(2000).index(),
    /** The short human Partner/Account ID (kind letter and 7 characters), unique, shown in the portal. */
    code: p
      .string()
      .length(16)
      .nullable()
      .unique()
      .onCreate((org: { kind: string }) => randomAccountCode(org.kind)),
    contactName: p.string().length(200).nullable(),
    contactEmail: p.string().length(320).nullable(),
    phone: p.string().length(50).nullable(),
    /** Postal address, free text (lines kept). */
    address: p.string().length(500).nullable(),
    /** ISO 3166-1 alpha-2 country code. */
    country: p.string().length(2).nullable(),
    /**
     * Customer privacy option: set when the customer's administrator removed its partner's access;
     * from then only the customer's own users reach its data (core/access/principal.ts).
     */
    partnerAccessRemovedAt: p.datetime().nullable().index(),
    status: p.enum(ORGANIZATION_STATUSES).default('active'),
    /** Why the scheduler skips this account's backups and a manual start is refused (an ended trial); data is kept. */
    backupHold: p.string().length(300).nullable(),
    removalRequestedAt: p.datetime().nullable(),
    /** When a pending removal becomes final and the data is purged. */
    purgeAfter: p.datetime().nullable().index(),
    enforceTwoFactor: p.boolean().default(false),
    /** Days a password stays valid; null: no expiry. */
    passwordExpiryDays: p.integer().nullable(),
    ipRestrictionsEnabled: p.boolean().default(false),
    /** 'sso' ("Require SSO"): password sign-in refused except for the break-glass administrator. */
    signInPolicy: p.enum(SIGN_IN_POLICIES).default('either'),
    /** The administrator a root administrator named to keep password sign-in under "Require SSO". */
    ssoBreakGlassUserId: p.string().length(36).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
  // A subtree's accounts read from the index alone (the portal's roll-up and tiles, core/tenancy/account-health.ts).
  indexes: [{ properties: ['path', 'kind', 'id'] }],
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
    displayName: p.string().length(200).nullable(),
    /** Null until an invited user chooses one through their confirmation link. */
    passwordHash: p.string().length(255).nullable().hidden(),
    passwordChangedAt: p.datetime().nullable(),
    role: p.enum(USER_ROLES),
    /** For custom roles; administrators hold every permission whatever this says. */
    permissions: p
      .json<Permission[]>()
      .default('[]')
      .onCreate(() => []),
    /** 'all' descendant accounts, or only those listed (and their subtrees). */
    accessibleAccounts: p.enum(['all', 'selected'] as const).default('all'),
    accessibleOrganizationIds: p
      .json<string[]>()
      .default('[]')
      .onCreate(() => []),
    status: p.enum(USER_STATUSES).default('active'),
    emailConfirmedAt: p.datetime().nullable(),
    /** A changed address waiting for confirmation; the old one stays in use until then. */
    pendingEmail: p.string().length(320).nullable(),
    /** TOTP secret, encrypted with the appliance's credential cipher. */
    totpSecret: p.string().length(500).nullable().hidden(),
    totpEnabledAt: p.datetime().nullable(),
    /** The last time step a code was accepted for: a code is never accepted twice. */
    totpLastStep: p.integer().nullable(),
    /** IANA zone the user reads times in; null follows the browser's own zone. */
    timeZone: p.string().length(64).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
    lastLoginAt: p.datetime().nullable(),
  },
});
export type IUser = InferEntity<typeof User>;

/**
 * A session is 'active' once sign-in is complete; before that it only lets its holder finish
 * one step: enter a second-factor code, enrol in two-factor, or choose a new password.
 */
export const SESSION_STAGES = ['active', 'second_factor', 'enrol_second_factor', 'new_password'] as const;
export type SessionStage = (typeof SESSION_STAGES)[number];

export const Session = defineEntity({
  name: 'Session',
  tableName: 'sessions',
  properties: {
    /** SHA-256 (hex) of the random token held in the cookie. */
    id: p.string().primary().length(64),
    user: () => p.manyToOne(User).index().deleteRule('cascade'),
    stage: p.enum(SESSION_STAGES).default('active'),
    /** A child account a portal user has opened; null: their own organization. */
    actingOrganization: () => p.manyToOne(Organization).nullable().deleteRule('set null'),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastSeenAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime().index(),
    ip: p.string().length(64).nullable(),
    userAgent: p.string().length(400).nullable(),
    /** Set for a session begun through single sign-on: the provider (its sessions end with it). */
    ssoProviderId: p.string().length(36).nullable().index(),
    /** When the provider must vouch for the user again (every idle period; core/identity/sso/revalidation.ts). */
    ssoRevalidateAt: p.datetime().nullable(),
    /** The provider's refresh token, sealed with the credential cipher. */
    ssoRefreshSealed: p.text().nullable().hidden(),
  },
});
export type ISession = InferEntity<typeof Session>;

export const RecoveryCode = defineEntity({
  name: 'RecoveryCode',
  tableName: 'recovery_codes',
  properties: {
    id: p.integer().primary().autoincrement(),
    user: () => p.manyToOne(User).index().deleteRule('cascade'),
    /** SHA-256 (hex) of the code: codes are long random strings, so a plain hash suffices. */
    codeHash: p.string().length(64),
    usedAt: p.datetime().nullable(),
  },
});
export type IRecoveryCode = InferEntity<typeof RecoveryCode>;

export const TOKEN_PURPOSES = ['confirm_email', 'reset_password'] as const;
export type TokenPurpose = (typeof TOKEN_PURPOSES)[number];

/** Single-use links sent by mail. Only the token's hash is stored. */
export const OneTimeToken = defineEntity({
  name: 'OneTimeToken',
  tableName: 'one_time_tokens',
  properties: {
    id: p.string().primary().length(64),
    user: () => p.manyToOne(User).index().deleteRule('cascade'),
    purpose: p.enum(TOKEN_PURPOSES),
    /** The address being confirmed (for a changed email). */
    email: p.string().length(320).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime(),
    usedAt: p.datetime().nullable(),
  },
});
export type IOneTimeToken = InferEntity<typeof OneTimeToken>;

/** Failed sign-in counters per account and per client address, shared by every appliance process. */
export const LoginThrottle = defineEntity({
  name: 'LoginThrottle',
  tableName: 'login_throttles',
  properties: {
    key: p.string().primary().length(400),
    failures: p.integer(),
    windowStartedAt: p.datetime(),
    lockedUntil: p.datetime().nullable(),
  },
});
export type ILoginThrottle = InferEntity<typeof LoginThrottle>;
