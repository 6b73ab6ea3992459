// Password sign-in. An unknown email costs the same time as a wrong password, so a caller
// cannot probe which accounts exist; each attempt is counted before the password is checked,
// per account and address, per address and per account from every address (see throttle.ts);
// an organization's IP restrictions are applied before any session exists.
import type { EntityManager } from '@mikro-orm/core';
import { addressAllowed } from '../access/ip-rules.ts';
import type { IOrganization, IUser } from './entities.ts';
import { User } from './entities.ts';
import { decoyHash, verifyPassword } from './password.ts';
import {
  ACCOUNT_WIDE_RULE,
  ADDRESS_RULE,
  accountAddressKey,
  accountKey,
  addressKey,
  clearFailures,
  PAIR_RULE,
  refundAttempt,
  reserveAttempt,
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
  const address = { key: addressKey(ip), rule: ADDRESS_RULE };
  const pair = { key: accountAddressKey(normalized, ip), rule: PAIR_RULE };
  const account = { key: accountKey(normalized), rule: ACCOUNT_WIDE_RULE };
  // The address first: a locked address creates no counters for the accounts it names.
  const wait = await reserveAttempt(em, [address, pair, account], now);
  if (wait > 0) return { kind: 'throttled', retryAfterSeconds: wait };
  const user = await em.findOne(User, { email: normalized }, { populate: ['organization'] });
  const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyHash()));
  if (!user || !ok || user.status !== 'active') {
    const reason = !user ? 'unknown email' : !ok ? 'wrong password' : `user is ${user.status}`;
    return { kind: 'failed', user, reason };
  }
  if (!(await addressAllowed(em, user.organization as IOrganization, ip))) return { kind: 'address_denied', user };
  await clearFailures(em, pair.key);
  await clearFailures(em, account.key);
  // Only this attempt is given back: an address guessing at other accounts keeps its count.
  await refundAttempt(em, address);
  user.lastLoginAt = now;
  await em.flush();
  return { kind: 'ok', user };
}
