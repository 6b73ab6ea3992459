// Access rules of an organization: trusted IP addresses, and API keys with the tokens issued
// for them. Secrets are stored only as hashes.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization, User } from '../identity/entities.ts';

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
    createdBy: () => p.manyToOne(User).nullable().deleteRule('set null'),
    createdByEmail: p.string().length(320),
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
    createdAt: p.datetime().onCreate(() => new Date()),
    expiresAt: p.datetime().index(),
  },
});
export type IApiToken = InferEntity<typeof ApiToken>;
