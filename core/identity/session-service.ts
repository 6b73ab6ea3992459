// Server-side sessions. The browser holds a random token; the database holds only its
// SHA-256, so reading the sessions table does not let anyone log in.
import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { type IUser, Session } from './entities.ts';

export interface SessionClient {
  ip?: string | undefined;
  userAgent?: string | undefined;
}

function idOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function createSession(
  em: EntityManager,
  user: IUser,
  maxAgeHours: number,
  client: SessionClient = {},
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomBytes(32).toString('base64url');
  const expiresAt = new Date(Date.now() + maxAgeHours * 3_600_000);
  em.create(Session, {
    id: idOf(token),
    user,
    expiresAt,
    ip: client.ip?.slice(0, 64) ?? null,
    userAgent: client.userAgent?.slice(0, 400) ?? null,
  });
  await em.flush();
  return { token, expiresAt };
}

/** The user a live session token belongs to, or null (expired sessions are removed). */
export async function userForSession(em: EntityManager, token: string): Promise<IUser | null> {
  const session = await em.findOne(Session, { id: idOf(token) }, { populate: ['user', 'user.organization'] });
  if (!session) return null;
  if (session.expiresAt.getTime() <= Date.now()) {
    await em.remove(session).flush();
    return null;
  }
  return session.user as IUser;
}

export async function endSession(em: EntityManager, token: string): Promise<void> {
  await em.nativeDelete(Session, { id: idOf(token) });
}

export async function endExpiredSessions(em: EntityManager): Promise<number> {
  return em.nativeDelete(Session, { expiresAt: { $lte: new Date() } });
}
