// Password sign-in. An unknown email costs the same time as a wrong password, so a caller
// cannot probe which accounts exist; failures are throttled per account and per address;
// an organization's IP restrictions are applied before any session exists.
import type { EntityManager } from '@mikro-orm/core';
import { addressAllowed } from '../access/ip-rules.ts';
import type { IOrganization, IUser } from './entities.ts';
import { User } from './entities.ts';
import { decoyHash, verifyPassword } from './password.ts';
import {
  ACCOUNT_RULE,
  ADDRESS_RULE,
  accountKey,
  addressKey,
  clearFailures,
  lockedFor,
  recordFailure,
} from './throttle.ts';

export type LoginOutcome =
  | { kind: 'ok'; user: IUser }
  | { kind: 'failed'; user: IUser | null; reason: string }
  | { kind: 'throttled'; retryAfterSeconds: number }
  | { kind: 'address_denied'; user: IUser };

export async function authenticate(
  em: EntityManager,
  email: string,
  password: string,
  ip: string | undefined,
  now = new Date(),
): Promise<LoginOutcome> {
  const normalized = email.trim().toLowerCase();
  const keys = [accountKey(normalized), addressKey(ip)];
  const wait = await lockedFor(em, keys, now);
  if (wait > 0) return { kind: 'throttled', retryAfterSeconds: wait };
  const user = await em.findOne(User, { email: normalized }, { populate: ['organization'] });
  const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
  if (!user || !ok || user.status !== 'active') {
    await recordFailure(em, keys[0] as string, ACCOUNT_RULE, now);
    await recordFailure(em, keys[1] as string, ADDRESS_RULE, now);
    const reason = !user ? 'unknown email' : !ok ? 'wrong password' : `user is ${user.status}`;
    return { kind: 'failed', user, reason };
  }
  if (!(await addressAllowed(em, user.organization as IOrganization, ip))) return { kind: 'address_denied', user };
  await clearFailures(em, keys[0] as string);
  user.lastLoginAt = now;
  await em.flush();
  return { kind: 'ok', user };
}
