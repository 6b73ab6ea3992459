// Throttling of guesses at secrets (passwords, two-factor codes, API client secrets). Counters
// live in the database so every appliance process sees the same ones.
//
// An attempt is *reserved* before the secret is checked: one atomic statement counts it and
// refuses it when the key is locked, so a burst of simultaneous attempts counts in full and at
// most `maxFailures` attempts per key are ever being checked at once. A success gives its
// reservation back (or clears the key); a failure keeps it.
//
// Password sign-in follows current guidance (OWASP Authentication Cheat Sheet): an account is
// locked only from the address that guessed wrong (PAIR_RULE), an address guessing at many
// accounts is locked (ADDRESS_RULE), and guesses at one account from many addresses slow it to
// one attempt per `lockMs` (ACCOUNT_WIDE_RULE) instead of locking its owner out.
import type { EntityManager } from '@mikro-orm/core';
import { runSql } from '../db/catalog-sql.ts';
import { LoginThrottle } from './entities.ts';

export interface ThrottleRule {
  /** The attempt that brings the count to this locks the key for `lockMs`, as does each later one in the window. */
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

export interface ThrottleKey {
  key: string;
  rule: ThrottleRule;
}

const MINUTES_15 = 15 * 60_000;
/** One account from one address. */
export const PAIR_RULE: ThrottleRule = { maxFailures: 5, windowMs: MINUTES_15, lockMs: MINUTES_15 };
/** One address, whatever the accounts it tries. */
export const ADDRESS_RULE: ThrottleRule = { maxFailures: 20, windowMs: MINUTES_15, lockMs: MINUTES_15 };
/** One account from every address: past the ceiling, one attempt per 10 seconds (slows, never locks for long). */
export const ACCOUNT_WIDE_RULE: ThrottleRule = { maxFailures: 10, windowMs: MINUTES_15, lockMs: 10_000 };
/**
 * A secret only reachable with another one already proven (a two-factor code after the password,
 * a password re-check in a session) or an API client id: locked after five failures.
 */
export const ACCOUNT_RULE: ThrottleRule = { maxFailures: 5, windowMs: MINUTES_15, lockMs: MINUTES_15 };

function normalizedEmail(email: string): string {
  return email.trim().toLowerCase().slice(0, 320);
}

/** Password guesses at an account from every address. */
export function accountKey(email: string): string {
  return `account:${normalizedEmail(email)}`;
}

export function addressKey(ip: string | undefined): string {
  return `address:${ip ?? 'unknown'}`;
}

/** Password guesses at an account from one address. */
export function accountAddressKey(email: string, ip: string | undefined): string {
  return `account-address:${normalizedEmail(email)}|${(ip ?? 'unknown').slice(0, 64)}`;
}

/** Two-factor codes of an account, from every address (reachable only after its password). */
export function secondFactorKey(email: string): string {
  return `second-factor:${normalizedEmail(email)}`;
}

/** Wrong current passwords typed in a signed-in session (kept apart from sign-in). */
export function passwordCheckKey(email: string): string {
  return `password-check:${normalizedEmail(email)}`;
}

/** Seconds until the last locked key opens again, or 0 when none is locked. */
export async function lockedFor(em: EntityManager, keys: string[], now: Date): Promise<number> {
  const rows = await em.fork().find(LoginThrottle, { key: { $in: keys }, lockedUntil: { $gt: now } });
  const until = Math.max(0, ...rows.map((r) => (r.lockedUntil as Date).getTime()));
  return until > 0 ? Math.ceil((until - now.getTime()) / 1000) : 0;
}

// Counts one attempt unless the key is locked; returns no row when it is. A lapsed window starts
// again at 1; the attempt that reaches the limit locks the key. (SET expressions read the old
// row.) Plain SQL that SQLite and PostgreSQL both run, dates passed as Date. The lock's value is
// cast: beside `null` alone PostgreSQL would read it as text (SQLite's cast keeps the number).
const RESERVE_SQL = `insert into login_throttles (key, failures, window_started_at, locked_until)
  values (?, 1, ?, ?)
  on conflict (key) do update set
    failures = case when login_throttles.window_started_at <= ? then 1 else login_throttles.failures + 1 end,
    window_started_at = case when login_throttles.window_started_at <= ? then ? else login_throttles.window_started_at end,
    locked_until = case
      when (case when login_throttles.window_started_at <= ? then 1 else login_throttles.failures + 1 end) >= ?
      then cast(? as timestamptz) else null end
  where login_throttles.locked_until is null or login_throttles.locked_until <= ?
  returning failures`;

async function reserve(em: EntityManager, { key, rule }: ThrottleKey, now: Date): Promise<boolean> {
  const windowOpenedBefore = new Date(now.getTime() - rule.windowMs);
  const lockUntil = new Date(now.getTime() + rule.lockMs);
  const rows = await runSql(em.fork(), RESERVE_SQL, [
    key,
    now,
    rule.maxFailures <= 1 ? lockUntil : null,
    windowOpenedBefore,
    windowOpenedBefore,
    now,
    windowOpenedBefore,
    rule.maxFailures,
    lockUntil,
    now,
  ]);
  return rows.length > 0;
}

/** Gives back an attempt reserved on `key` (it succeeded, or it was never checked). */
export async function refundAttempt(em: EntityManager, { key, rule }: ThrottleKey): Promise<void> {
  await runSql(
    em.fork(),
    `update login_throttles set
      failures = case when failures > 0 then failures - 1 else 0 end,
      locked_until = case when failures - 1 < ? then null else locked_until end
    where key = ?`,
    [rule.maxFailures, key],
  );
}

/**
 * Counts an attempt on every key before the secret is checked. Returns the seconds to wait when a
 * key is locked (then nothing is counted), or 0: the attempt may go ahead, and stays counted as a
 * failure unless the caller refunds or clears it.
 */
export async function reserveAttempt(em: EntityManager, keys: ThrottleKey[], now: Date): Promise<number> {
  const taken: ThrottleKey[] = [];
  for (const key of keys) {
    if (await reserve(em, key, now)) {
      taken.push(key);
      continue;
    }
    for (const done of taken) await refundAttempt(em, done);
    return Math.max(1, await lockedFor(em, [key.key], now));
  }
  return 0;
}

/** Counts a failure on `key` (for checks that do not reserve first). */
export async function recordFailure(em: EntityManager, key: string, rule: ThrottleRule, now: Date): Promise<void> {
  // A locked key keeps its lock: the failure was refused anyway.
  await reserve(em, { key, rule }, now);
}

export async function clearFailures(em: EntityManager, key: string): Promise<void> {
  await em.fork().nativeDelete(LoginThrottle, { key });
}

/**
 * Clears the sign-in counters of an account (from every address, and password re-checks) after
 * its password was reset; `secondFactor` also clears its two-factor code counter (only
 * `holdfast admin recover --clear-throttles`: a mailed link must not buy more code guesses).
 */
export async function clearAccountThrottles(
  em: EntityManager,
  email: string,
  options: { secondFactor?: boolean } = {},
): Promise<number> {
  const normalized = normalizedEmail(email);
  const pairs = `account-address:${normalized}|`;
  const keys = [accountKey(normalized), passwordCheckKey(normalized)];
  if (options.secondFactor) keys.push(secondFactorKey(normalized));
  const rows = await runSql<{ key: string }[]>(
    em.fork(),
    `delete from login_throttles where key in (${keys.map(() => '?').join(', ')}) or substr(key, 1, ?) = ? returning key`,
    [...keys, pairs.length, pairs],
  );
  return rows.length;
}

/** Clears the counters of every address (`holdfast admin recover --clear-throttles`). */
export async function clearAddressThrottles(em: EntityManager): Promise<void> {
  await runSql(em.fork(), `delete from login_throttles where substr(key, 1, 8) = 'address:'`);
}

/** The longest window of any rule: a counter older than this counts nothing any more. */
const LONGEST_WINDOW_MS = Math.max(
  PAIR_RULE.windowMs,
  ADDRESS_RULE.windowMs,
  ACCOUNT_WIDE_RULE.windowMs,
  ACCOUNT_RULE.windowMs,
);

/**
 * Deletes counters whose window lapsed and that lock nothing (hourly maintenance): every guess
 * from a new address leaves a row, so without this the table only grows. A day's margin keeps
 * rows of a rule with a longer window added later.
 */
export async function pruneThrottles(em: EntityManager, now: Date): Promise<number> {
  const lapsedBefore = new Date(now.getTime() - Math.max(LONGEST_WINDOW_MS, 86_400_000));
  const rows = await runSql<{ key: string }[]>(
    em.fork(),
    'delete from login_throttles where window_started_at <= ? and (locked_until is null or locked_until <= ?) returning key',
    [lapsedBefore, now],
  );
  return rows.length;
}
