// Single-use links (email confirmation, password reset): 256 random bits in the link, only
// their SHA-256 stored, valid for 24 hours, spent on first use. Issuing a new token of a
// purpose spends the user's older ones, so only the newest link works.
import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { type IOneTimeToken, type IUser, OneTimeToken, type TokenPurpose } from './entities.ts';

export const TOKEN_LIFETIME_MS = 24 * 3_600_000;

function hashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function issueToken(
  em: EntityManager,
  user: IUser,
  purpose: TokenPurpose,
  now: Date,
  email: string | null = null,
): Promise<string> {
  await em.nativeUpdate(OneTimeToken, { user: user.id, purpose, usedAt: null }, { usedAt: now });
  const token = randomBytes(32).toString('base64url');
  em.create(OneTimeToken, {
    id: hashOf(token),
    user,
    purpose,
    email,
    createdAt: now,
    expiresAt: new Date(now.getTime() + TOKEN_LIFETIME_MS),
    usedAt: null,
  });
  await em.flush();
  return token;
}

/** The live token of a link, without spending it (to show the form the link leads to). */
export async function peekToken(
  em: EntityManager,
  token: string,
  purpose: TokenPurpose,
  now: Date,
): Promise<IOneTimeToken | null> {
  if (typeof token !== 'string' || token.length < 20 || token.length > 100) return null;
  const row = await em.findOne(
    OneTimeToken,
    { id: hashOf(token), purpose },
    { populate: ['user', 'user.organization'] },
  );
  if (!row || row.usedAt || row.expiresAt.getTime() <= now.getTime()) return null;
  return row;
}

/** Spends the token; null when it is unknown, used or expired. Atomic against a double submit. */
export async function spendToken(
  em: EntityManager,
  token: string,
  purpose: TokenPurpose,
  now: Date,
): Promise<IOneTimeToken | null> {
  const row = await peekToken(em, token, purpose, now);
  if (!row) return null;
  const spent = await em.nativeUpdate(OneTimeToken, { id: row.id, usedAt: null }, { usedAt: now });
  return spent === 1 ? row : null;
}
