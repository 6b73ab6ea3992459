// Helpers for /api/v1 tests: organizations, users and API keys made straight through the
// domain services, and tokens fetched through the real token endpoint.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { createApiKey } from '../../core/access/api-keys.ts';
import { principalForUser } from '../../core/access/principal.ts';
import type { AppEnv } from '../../core/http/env.ts';
import { type IOrganization, type IUser, Organization, User } from '../../core/identity/entities.ts';
import { hashPassword } from '../../core/identity/password.ts';
import type { Permission } from '../../core/identity/permissions.ts';
import { enqueueJob } from '../../core/jobs/queue.ts';
import { ExportResult } from '../../core/recovery/entities.ts';
import { BackupTask, TaskEntity } from '../../core/tasks/entities.ts';
import { createOrganization } from '../../core/tenancy/organizations.ts';
import { ADMIN, type TestApp } from './kernel.ts';

export const TOKEN_URL = '/api/v1/oauth/token';

export async function rootOrganization(t: TestApp): Promise<IOrganization> {
  return t.kernel.orm.em.fork().findOneOrFail(Organization, { kind: 'root' });
}

export async function addOrganization(
  t: TestApp,
  parent: IOrganization,
  kind: 'distributor' | 'partner' | 'customer',
  name: string,
): Promise<IOrganization> {
  const em = t.kernel.orm.em.fork();
  return createOrganization(em, em.merge(parent), { kind, name });
}

export async function adminUser(t: TestApp): Promise<IUser> {
  return t.kernel.orm.em.fork().findOneOrFail(User, { email: ADMIN.email }, { populate: ['organization'] });
}

/** An active user who can sign in (one scrypt hash: use sparingly). */
export async function addUser(
  t: TestApp,
  org: IOrganization,
  email: string,
  password: string,
  role: 'administrator' | 'custom',
  permissions: Permission[] = [],
): Promise<IUser> {
  const em = t.kernel.orm.em.fork();
  const user = em.create(User, {
    organization: em.merge(org),
    email,
    displayName: null,
    passwordHash: await hashPassword(password),
    passwordChangedAt: new Date(),
    role,
    permissions,
    status: 'active',
    emailConfirmedAt: new Date(),
    lastLoginAt: null,
  });
  await em.flush();
  return user;
}

export interface KeyCredentials {
  clientId: string;
  secret: string;
}

export async function makeKey(t: TestApp, org: IOrganization): Promise<KeyCredentials> {
  const em = t.kernel.orm.em.fork();
  const admin = await adminUser(t);
  const { key, secret } = await createApiKey(em, em.merge(org), principalForUser(admin), { label: admin.email });
  return { clientId: key.id, secret };
}

export function basic(clientId: string, secret: string): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(secret)}`).toString('base64')}`;
}

/** A token request as an API client sends it: form body, no Origin, no cookie. */
export function tokenRequest(
  fields: Record<string, string>,
  headers: Record<string, string> = {},
): { method: 'POST'; headers: Record<string, string>; body: string } {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(fields).toString(),
  };
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}

export async function getTokens(app: Hono<AppEnv>, key: KeyCredentials): Promise<Tokens> {
  const res = await app.request(
    TOKEN_URL,
    tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(key.clientId, key.secret) }),
  );
  if (res.status !== 200) throw new Error(`token request failed with ${res.status}: ${await res.text()}`);
  return (await res.json()) as Tokens;
}

/** Request init for an API call with a bearer token (JSON body when given). */
export function withBearer(token: string, method = 'GET', body?: unknown): RequestInit {
  return {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

// biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON
export type Json = Record<string, any>;

/** A response body as loosely typed JSON, for assertions. */
export async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

/**
 * A bare backup task of an organization (its connection is not a sealed one: routes must refuse
 * it by reach before reading it) with one entity, and a finished export job of that task whose
 * result file lies in `folder`, ready to download.
 */
export async function makeTaskAndExport(
  t: TestApp,
  orgId: string,
  folder: string,
): Promise<{ task: string; entity: string; job: string }> {
  const em = t.kernel.orm.em.fork();
  const task = em.create(BackupTask, {
    organization: orgId,
    service: 'test-service',
    name: 'A task',
    connection: 'not-a-sealed-connection',
  });
  const entity = em.create(TaskEntity, { task, externalId: 'x', name: 'Entity', kind: 'user', pluginState: null });
  await em.flush();
  const job = await enqueueJob(
    em,
    {
      organizationId: orgId,
      kind: 'export',
      label: 'An export',
      taskId: task.id,
      initiator: { kind: 'user', label: 'someone@acme.example' },
      maxAttempts: 1,
    },
    new Date(),
  );
  const filePath = join(folder, `${job}.zip`);
  writeFileSync(filePath, 'zip bytes');
  em.create(ExportResult, {
    organization: orgId,
    job,
    fileName: 'export.zip',
    filePath,
    size: 9,
    format: 'zip',
    encryption: 'none',
    createdAt: new Date(),
    expiresAt: new Date(Date.now() + 86_400_000),
    deletedAt: null,
    downloads: 0,
    lastDownloadedAt: null,
  });
  await em.flush();
  return { task: task.id, entity: entity.id, job };
}
