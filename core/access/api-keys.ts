// API keys of an organization and the OAuth 2.0 client-credentials tokens issued for them.
// A key is a public client id and a secret shown once; only SHA-256 hashes of the secret and
// of every token are stored (all are 256 random bits, so a fast hash is enough). Access tokens
// live 15 minutes; refresh tokens 30 days and are single-use: refreshing replaces them, and
// presenting a spent one again revokes every token descended from the same grant (OAuth 2.0
// Security BCP, RFC 9700 §4.14.2). A key's scope and standing live in api-key-scope.ts.
import { createHash, randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { NotFoundError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { ACCOUNT_RULE, ADDRESS_RULE, clearFailures, lockedFor, recordFailure } from '../identity/throttle.ts';
import { type KeyScopeInput, keyCreator, newKeyScope } from './api-key-scope.ts';
import { ApiKey, ApiToken, type IApiKey } from './entities.ts';
import { addressAllowed } from './ip-rules.ts';
import type { Principal } from './principal.ts';

export const ACCESS_TOKEN_SECONDS = 15 * 60;
export const REFRESH_TOKEN_SECONDS = 30 * 24 * 3600;
export const CLIENT_ID_PREFIX = 'hfk_';
const ACCESS_PREFIX = 'hfat_';
const REFRESH_PREFIX = 'hfrt_';
/** How often lastUsedAt is written: not on every request, to spare the database. */
const TOUCH_INTERVAL_MS = 60_000;

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

function newClientId(): string {
  let id = CLIENT_ID_PREFIX;
  for (let i = 0; i < 16; i++) id += BASE62[randomInt(BASE62.length)];
  return id;
}

function newSecret(prefix = ''): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`;
}

export function isClientIdShape(value: string): boolean {
  return /^hfk_[0-9A-Za-z]{16}$/.test(value);
}

export interface CreatedApiKey {
  key: IApiKey;
  /** The client secret: returned once, never stored. */
  secret: string;
}

/** What every key lookup loads: the organization, and the creator with theirs (for the standing). */
const KEY_POPULATE = ['organization', 'createdBy', 'createdBy.organization'] as const;

/**
 * Creates a key with the scope asked for (default: all the creator holds on `org`), never more
 * than the creator holds (403). Audited as "API key created", without the secret.
 */
export async function createApiKey(
  em: EntityManager,
  org: IOrganization,
  creator: Principal,
  actor: AuditActor,
  scopeInput?: KeyScopeInput,
): Promise<CreatedApiKey> {
  const scope = await newKeyScope(em, org, creator, scopeInput);
  const secret = newSecret();
  const key = em.create(ApiKey, {
    id: newClientId(),
    organization: org,
    secretHash: hashSecret(secret),
    createdBy: keyCreator(creator),
    createdByEmail: creator.label.slice(0, 320),
    role: scope.role,
    permissions: [...scope.permissions],
    accessibleAccounts: scope.accessibleAccounts,
    accessibleOrganizationIds: [...scope.accessibleOrganizationIds],
    lastUsedAt: null,
  });
  await em.flush();
  await em.populate(key, ['createdBy.organization']);
  await recordAudit(em, {
    organization: org,
    activity: 'API key created',
    account: org.name,
    description: `API key ${key.id} created`,
    actor,
  });
  return { key, secret };
}

export async function listApiKeys(em: EntityManager, org: IOrganization): Promise<IApiKey[]> {
  return em.find(
    ApiKey,
    { organization: org.id },
    { orderBy: { createdAt: 'desc', id: 'asc' }, populate: [...KEY_POPULATE] },
  );
}

/** The key with this client id in this organization; anything else is a 404. */
export async function findApiKey(em: EntityManager, org: IOrganization, clientId: string): Promise<IApiKey> {
  const key =
    typeof clientId === 'string' && isClientIdShape(clientId)
      ? await em.findOne(ApiKey, { id: clientId, organization: org.id }, { populate: [...KEY_POPULATE] })
      : null;
  if (!key) throw new NotFoundError('There is no such API key.');
  return key;
}

/** Deletes a key and every token issued for it, so nothing it handed out keeps working (audited). */
export async function deleteApiKey(
  em: EntityManager,
  org: IOrganization,
  key: IApiKey,
  actor: AuditActor,
): Promise<void> {
  const clientId = key.id;
  await em.nativeDelete(ApiToken, { apiKey: clientId });
  em.remove(key);
  await em.flush();
  await recordAudit(em, {
    organization: org,
    activity: 'API key deleted',
    account: org.name,
    description: `API key ${clientId} deleted`,
    actor,
  });
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

async function issueTokens(em: EntityManager, key: IApiKey, now: Date, family: string): Promise<TokenPair> {
  // Housekeeping: expired tokens are worthless, drop them as new ones are made.
  await em.nativeDelete(ApiToken, { expiresAt: { $lte: now } });
  const accessToken = newSecret(ACCESS_PREFIX);
  const refreshToken = newSecret(REFRESH_PREFIX);
  const token = (kind: 'access' | 'refresh', secret: string, seconds: number) => ({
    id: hashSecret(secret),
    apiKey: key.id,
    kind,
    family,
    usedAt: null,
    createdAt: now,
    expiresAt: new Date(now.getTime() + seconds * 1000),
  });
  await em.insertMany(ApiToken, [
    token('access', accessToken, ACCESS_TOKEN_SECONDS),
    token('refresh', refreshToken, REFRESH_TOKEN_SECONDS),
  ]);
  await em.nativeUpdate(ApiKey, { id: key.id }, { lastUsedAt: now });
  return { accessToken, refreshToken, expiresIn: ACCESS_TOKEN_SECONDS };
}

function clientKey(clientId: string): string {
  return `api-client:${clientId.slice(0, 64)}`;
}

/** Kept apart from the sign-in counter of an address, so a broken integration cannot lock people out. */
function clientAddressKey(ip: string | undefined): string {
  return `api-address:${ip ?? 'unknown'}`;
}

export type ClientAuthOutcome =
  | { kind: 'ok'; key: IApiKey; organization: IOrganization }
  /** organization: the key's, when the client id exists (so its audit log shows the attempt). */
  | { kind: 'invalid'; organization: IOrganization | null }
  | { kind: 'throttled'; retryAfterSeconds: number }
  | { kind: 'address_denied'; key: IApiKey; organization: IOrganization };

/**
 * Checks a client id and secret. Failures are counted per client id and per address, like
 * sign-ins; the key's organization's IP restrictions apply as they do to its users.
 */
export async function authenticateClient(
  em: EntityManager,
  clientId: string,
  secret: string,
  ip: string | undefined,
  now: Date,
): Promise<ClientAuthOutcome> {
  const keys = [clientKey(clientId), clientAddressKey(ip)];
  const wait = await lockedFor(em, keys, now);
  if (wait > 0) return { kind: 'throttled', retryAfterSeconds: wait };
  const key = isClientIdShape(clientId)
    ? await em.findOne(ApiKey, { id: clientId }, { populate: [...KEY_POPULATE] })
    : null;
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const stored = Buffer.from(key?.secretHash ?? hashSecret(newSecret()), 'hex');
  if (!key || !timingSafeEqual(presented, stored)) {
    await recordFailure(em, keys[0] as string, ACCOUNT_RULE, now);
    await recordFailure(em, keys[1] as string, ADDRESS_RULE, now);
    return { kind: 'invalid', organization: (key?.organization as IOrganization | undefined) ?? null };
  }
  const organization = key.organization as IOrganization;
  if (!(await addressAllowed(em, organization, ip))) return { kind: 'address_denied', key, organization };
  await clearFailures(em, keys[0] as string);
  return { kind: 'ok', key, organization };
}

/** client_credentials grant: a fresh access token and refresh token for an authenticated client. */
export async function grantClientCredentials(em: EntityManager, key: IApiKey, now: Date): Promise<TokenPair> {
  return issueTokens(em, key, now, randomUUID());
}

/**
 * refresh_token grant: spends the refresh token (it must be the client's own and unexpired)
 * and issues a new pair in the same family. Spending is a single conditional update, so of two
 * concurrent refreshes with one token only one succeeds. A token already spent is a replay: the
 * whole family (every access and refresh token descended from the same grant) is revoked.
 * Null: the token is not valid (invalid_grant).
 */
export async function grantRefreshToken(
  em: EntityManager,
  key: IApiKey,
  refreshToken: string,
  now: Date,
): Promise<TokenPair | null> {
  const where = { id: hashSecret(refreshToken), apiKey: key.id, kind: 'refresh' as const, expiresAt: { $gt: now } };
  // One transaction: a replay racing the legitimate refresh sees its new pair and revokes it too.
  return em.fork().transactional(async (tx) => {
    const spent = await tx.nativeUpdate(ApiToken, { ...where, usedAt: null }, { usedAt: now });
    const token = await tx.findOne(ApiToken, where, { fields: ['family'] });
    if (!token) return null;
    if (spent !== 1) {
      await tx.nativeDelete(ApiToken, { apiKey: key.id, family: token.family });
      return null;
    }
    return issueTokens(tx, key, now, token.family);
  });
}

/** The key and organization of a live access token, or null. Marks the key used (at most once a minute). */
export async function apiKeyForAccessToken(
  em: EntityManager,
  accessToken: string,
  now: Date,
): Promise<{ key: IApiKey; organization: IOrganization } | null> {
  if (!accessToken.startsWith(ACCESS_PREFIX) || accessToken.length > 200) return null;
  const token = await em.findOne(
    ApiToken,
    { id: hashSecret(accessToken), kind: 'access' },
    { populate: ['apiKey', 'apiKey.organization', 'apiKey.createdBy', 'apiKey.createdBy.organization'] },
  );
  if (!token || token.expiresAt.getTime() <= now.getTime()) return null;
  const key = token.apiKey as IApiKey;
  if (!key.lastUsedAt || now.getTime() - key.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
    key.lastUsedAt = now;
    await em.flush();
  }
  return { key, organization: key.organization as IOrganization };
}
