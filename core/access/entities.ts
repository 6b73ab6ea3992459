// Access rules of an organization: trusted IP addresses, and API keys with the tokens issued
// for them. Secrets are stored only as hashes.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization, USER_ROLES, User } from '../identity/entities.ts';
import type { Permission } from '../identity/permissions.ts';

export const IpRule = defineEntity({
  name: 'IpRule',
  tableName: 'ip_rules',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    description: p.string().length(200).nullable(),
    /** Normalized entries: single addresses, CIDR blocks or "from-to" ranges. */
    entries: p.json<string[]>(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IIpRule = InferEntity<typeof IpRule>;

export const ApiKey = defineEntity({
  name: 'ApiKey',
  tableName: 'api_keys',
  properties: {
    /** The client id: public, shown in lists. */
    id: p.string().primary().length(64),
    organization: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    /** SHA-256 (hex) of the client secret: the secret is 256 random bits, so no slow hash is needed. */
    secretHash: p.string().length(64).hidden(),
    /**
     * The user whose rights bound the key (for a key made by a key, that key's creator). Checked
     * on every use; null once the user is deleted, which suspends the key.
     */
    createdBy: () => p.manyToOne(User).nullable().deleteRule('set null'),
    createdByEmail: p.string().length(320),
    /** The key's scope, like a user's grant: never more than its creator held when it was made. */
    role: p.enum(USER_ROLES).default('custom'),
    permissions: p
      .json<Permission[]>()
      .default('[]')
      .onCreate(() => []),
    /** 'all' accounts under the key's organization, or only those listed (and their subtrees). */
    accessibleAccounts: p.enum(['all', 'selected'] as const).default('all'),
    accessibleOrganizationIds: p
      .json<string[]>()
      .default('[]')
      .onCreate(() => []),
    createdAt: p.datetime().onCreate(() => new Date()),
    lastUsedAt: p.datetime().nullable(),
  },
});
export type IApiKey = InferEntity<typeof ApiKey>;

export const API_TOKEN_KINDS = ['access', 'refresh'] as const;

export const ApiToken = defineEntity({
  name: 'ApiToken',
  tableName: 'api_tokens',
  properties: {
    /** SHA-256 (hex) of the bearer token. */
    id: p.string().primary().length(64),
    apiKey: () => p.manyToOne(ApiKey).index().deleteRule('cascade'),
    kind: p.enum(API_TOKEN_KINDS),
    /** Tokens descending from one client-credentials grant by refreshes: reuse revokes them all. */
    family: p.string().length(36).index().default(''),
    /** When a refresh token was spent; kept until it expires, so a replay is recognized. */
    usedAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime().index(),
  },
});
export type IApiToken = InferEntity<typeof ApiToken>;
