// Server-side sessions. The browser holds a random token; the database holds only its
// SHA-256, so reading the sessions table does not let anyone log in. A session ends at its
// absolute expiry or after an idle period, and gets a new token whenever what it may do
// changes (sign-in steps, opening another account), so a token seen before is worth nothing.
import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import {
  type IOrganization,
  type ISession,
  type IUser,
  Organization,
  Session,
  type SessionStage,
  User,
} from './entities.ts';

export interface SessionClient {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

export interface SessionPolicy {
  maxAgeHours: number;
  idleMinutes: number;
}

/** How often lastSeenAt is written: not on every request, to spare the database. */
const TOUCH_INTERVAL_MS = 60_000;

function idOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export async function createSession(
  em: EntityManager,
  user: IUser,
  policy: SessionPolicy,
  client: SessionClient = {},
  stage: SessionStage = 'active',
  now = new Date(),
): Promise<{ token: string; session: ISession }> {
  const token = newToken();
  const session = em.create(Session, {
    id: idOf(token),
    user,
    stage,
    actingOrganization: null,
    createdAt: now,
    lastSeenAt: now,
    // Unfinished sign-ins (a code still to enter) get a short life of their own.
    expiresAt: new Date(now.getTime() + (stage === 'active' ? policy.maxAgeHours * 3_600_000 : 15 * 60_000)),
    ip: client.ip?.slice(0, 64) ?? null,
    userAgent: client.userAgent?.slice(0, 400) ?? null,
    ssoProviderId: null,
    ssoRevalidateAt: null,
    ssoRefreshSealed: null,
  });
  await em.flush();
  return { token, session };
}

/**
 * The session of an id with its user, the user's organization and the account it opened, read
 * by three plain statements and merged into the EntityManager as managed entities. Every request
 * reads it: MikroORM's populated query cost ten times as much to build and hydrate as to run.
 * Organizations first, then the user, then the session, so each reference finds its entity.
 */
async function loadSession(em: EntityManager, id: string): Promise<ISession | null> {
  const conn = em.getConnection();
  const [row] = (await conn.execute('select * from sessions where id = ?', [id], 'all')) as SessionRow[];
  if (!row) return null;
  const [userRow] = (await conn.execute('select * from users where id = ?', [row.user_id], 'all')) as UserRow[];
  if (!userRow) return null;
  const orgIds = [userRow.organization_id, row.acting_organization_id].filter((v): v is string => !!v);
  const orgs = (await conn.execute(
    `select * from organizations where id in (${orgIds.map(() => '?').join(', ')})`,
    orgIds,
    'all',
  )) as Record<string, unknown>[];
  for (const org of orgs) em.map(Organization, org);
  em.map(User, userRow);
  return em.map(Session, row);
}

type SessionRow = Record<string, unknown> & { user_id: string; acting_organization_id: string | null };
type UserRow = Record<string, unknown> & { organization_id: string };

/** The live session of a token, or null (expired and idle sessions are removed). */
export async function findSession(
  em: EntityManager,
  token: string,
  policy: SessionPolicy,
  now = new Date(),
): Promise<ISession | null> {
  const session = await loadSession(em, idOf(token));
  if (!session) return null;
  const idleLimit = session.lastSeenAt.getTime() + policy.idleMinutes * 60_000;
  const user = session.user as IUser;
  if (session.expiresAt.getTime() <= now.getTime() || idleLimit <= now.getTime() || user.status !== 'active') {
    await em.remove(session).flush();
    return null;
  }
  if (now.getTime() - session.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) {
    session.lastSeenAt = now;
    await em.flush();
  }
  return session;
}

/**
 * Replaces the session's token (the row keeps its creation time and absolute expiry unless a
 * new stage begins a full session). Returns the new token for the cookie.
 */
export async function rotateSession(
  em: EntityManager,
  session: ISession,
  changes: { stage?: SessionStage; actingOrganization?: IOrganization | null },
  policy: SessionPolicy,
  now = new Date(),
): Promise<{ token: string; session: ISession }> {
  const token = newToken();
  const stage = changes.stage ?? session.stage;
  const fresh = em.create(Session, {
    id: idOf(token),
    user: session.user,
    stage,
    actingOrganization:
      changes.actingOrganization !== undefined ? changes.actingOrganization : (session.actingOrganization ?? null),
    createdAt: session.createdAt,
    lastSeenAt: now,
    expiresAt:
      stage === 'active' && session.stage !== 'active'
        ? new Date(now.getTime() + policy.maxAgeHours * 3_600_000)
        : session.expiresAt,
    ip: session.ip ?? null,
    userAgent: session.userAgent ?? null,
    ssoProviderId: session.ssoProviderId ?? null,
    ssoRevalidateAt: session.ssoRevalidateAt ?? null,
    ssoRefreshSealed: session.ssoRefreshSealed ?? null,
  });
  em.remove(session);
  await em.flush();
  return { token, session: fresh };
}

export async function endSession(em: EntityManager, token: string): Promise<void> {
  await em.nativeDelete(Session, { id: idOf(token) });
}

/** Signs the user out everywhere, except (optionally) the session making the request. */
export async function endUserSessions(em: EntityManager, userId: string, keep?: ISession): Promise<number> {
  return em.nativeDelete(Session, { user: userId, ...(keep ? { id: { $ne: keep.id } } : {}) });
}

export async function endExpiredSessions(em: EntityManager, now = new Date()): Promise<number> {
  return em.nativeDelete(Session, { expiresAt: { $lte: now } });
}
