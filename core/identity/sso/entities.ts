// Single sign-on records. Providers belong to one organization; an external identity links
// one user to one subject at one provider; a pending sign-in lives from the redirect to the
// identity provider until its callback (single use, minutes); a domain, once verified, sends
// the people whose e-mail ends with it to its organization's providers (home-realm discovery).
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization, USER_ROLES, User } from '../entities.ts';
import type { Permission } from '../permissions.ts';
import { SSO_PROTOCOLS } from './protocol.ts';

/** A group of the provider's groups claim mapped to a role (custom: with these permissions). */
export interface SsoGroupRule {
  group: string;
  role: (typeof USER_ROLES)[number];
  permissions: Permission[];
}

export const SsoProvider = defineEntity({
  name: 'SsoProvider',
  tableName: 'sso_providers',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    protocol: p.enum(SSO_PROTOCOLS),
    /** 'entra', 'google', 'okta', 'oidc' (any), 'saml', …: the label and the preset's own checks. */
    preset: p.string().length(20),
    /** Shown on the sign-in button: "Sign in with <name>". */
    name: p.string().length(100),
    enabled: p.boolean().default(true),
    /** Non-secret protocol settings (issuer, client id, scopes, tenant, hosted domain…). */
    settings: p.json<Record<string, unknown>>(),
    /** JSON of the secret settings, sealed with the credential cipher; never shown. */
    secretsSealed: p.text().nullable().hidden(),
    /** Just-in-time creation of unknown users of a verified domain; off: invite-only. */
    jitEnabled: p.boolean().default(false),
    jitRole: p.enum(USER_ROLES).default('custom'),
    jitPermissions: p
      .json<Permission[]>()
      .default('[]')
      .onCreate(() => []),
    /** Applied at every sign-in when not empty: the first rule whose group the user has wins. */
    groupRules: p
      .json<SsoGroupRule[]>()
      .default('[]')
      .onCreate(() => []),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type ISsoProvider = InferEntity<typeof SsoProvider>;

export const ExternalIdentity = defineEntity({
  name: 'ExternalIdentity',
  tableName: 'external_identities',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    user: () => p.manyToOne(User).index().deleteRule('cascade'),
    provider: () => p.manyToOne(SsoProvider).deleteRule('cascade'),
    subject: p.string().length(500),
    /** The address the provider gave at the last sign-in. */
    email: p.string().length(320).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastSignInAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['provider', 'subject'] }],
});
export type IExternalIdentity = InferEntity<typeof ExternalIdentity>;

export const SsoPendingSignIn = defineEntity({
  name: 'SsoPendingSignIn',
  tableName: 'sso_pending_sign_ins',
  properties: {
    /** SHA-256 (hex) of the state sent to the provider. */
    id: p.string().primary().length(64),
    provider: () => p.manyToOne(SsoProvider).index().deleteRule('cascade'),
    /** SHA-256 (hex) of the random value in the browser's binding cookie. */
    bindingHash: p.string().length(64),
    nonce: p.string().length(100),
    codeVerifier: p.string().length(200),
    protocolData: p
      .json<Record<string, string>>()
      .default('{}')
      .onCreate(() => ({})),
    loginHint: p.string().length(320).nullable(),
    next: p.string().length(2000),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime().index(),
  },
});
export type ISsoPendingSignIn = InferEntity<typeof SsoPendingSignIn>;

export const SsoDomain = defineEntity({
  name: 'SsoDomain',
  tableName: 'sso_domains',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    /** Lower-case, no trailing dot. Verified by one organization at most (checked when verifying). */
    domain: p.string().length(253).index(),
    /** Published as TXT "holdfast-verification=<token>" on the domain. */
    token: p.string().length(64),
    verifiedAt: p.datetime().nullable(),
    /** 'dns' or 'idp' (an administrator signed in through the organization's provider with that domain). */
    verifiedBy: p.string().length(10).nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type ISsoDomain = InferEntity<typeof SsoDomain>;
