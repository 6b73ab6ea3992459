// Login throttling: failed sign-ins are counted per account and per client address in a
// window; past the limit the key is locked for a while. Counters live in the database so every
// appliance process sees the same ones. A success clears the account's counter (not the
// address's, so one valid account cannot be used to reset an address guessing at others).
import type { EntityManager } from '@mikro-orm/core';
import { LoginThrottle } from './entities.ts';

export interface ThrottleRule {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

export const ACCOUNT_RULE: ThrottleRule = { maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };
export const ADDRESS_RULE: ThrottleRule = { maxFailures: 20, windowMs: 15 * 60_000, lockMs: 15 * 60_000 };

export function accountKey(email: string): string {
  return `account:${email.trim().toLowerCase().slice(0, 320)}`;
}

export function addressKey(ip: string | undefined): string {
  return `address:${ip ?? 'unknown'}`;
}

/** Seconds until the first locked key opens again, or 0 when none is locked. */
export async function lockedFor(em: EntityManager, keys: string[], now: Date): Promise<number> {
  const rows = await em.find(LoginThrottle, { key: { $in: keys }, lockedUntil: { $gt: now } });
  const until = Math.max(0, ...rows.map((r) => (r.lockedUntil as Date).getTime()));
  return until > 0 ? Math.ceil((until - now.getTime()) / 1000) : 0;
}

export async function recordFailure(em: EntityManager, key: string, rule: ThrottleRule, now: Date): Promise<void> {
  const fork = em.fork();
  let row = await fork.findOne(LoginThrottle, { key });
  if (!row || now.getTime() - row.windowStartedAt.getTime() > rule.windowMs) {
    row ??= fork.create(LoginThrottle, { key, failures: 0, windowStartedAt: now, lockedUntil: null });
    row.failures = 0;
    row.windowStartedAt = now;
    row.lockedUntil = null;
  }
  row.failures += 1;
  if (row.failures >= rule.maxFailures) row.lockedUntil = new Date(now.getTime() + rule.lockMs);
  await fork.flush();
}

export async function clearFailures(em: EntityManager, key: string): Promise<void> {
  await em.fork().nativeDelete(LoginThrottle, { key });
}
