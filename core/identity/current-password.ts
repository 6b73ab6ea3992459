// Re-checking the signed-in user's password before a sensitive change (new password, turning
// two-factor off, new recovery codes). Wrong guesses are throttled on a counter of their own
// (five, then 15 minutes), so a session left open on someone else's screen cannot be used to
// guess it, nor to lock the account's sign-in.
import type { EntityManager } from '@mikro-orm/core';
import { AppError, ValidationError } from '../errors.ts';
import type { IUser } from './entities.ts';
import { verifyPassword } from './password.ts';
import { ACCOUNT_RULE, clearFailures, passwordCheckKey, reserveAttempt } from './throttle.ts';

export class TooManyAttemptsError extends AppError {
  readonly retryAfterSeconds: number;
  constructor(retryAfterSeconds: number, what = 'attempts') {
    const minutes = Math.max(1, Math.ceil(retryAfterSeconds / 60));
    super('rate_limited', `Too many failed ${what}. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, 429);
    this.name = 'TooManyAttemptsError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** Throws a field error (on `field`) unless `password` is the user's current password. */
export async function confirmCurrentPassword(
  em: EntityManager,
  user: IUser,
  password: string,
  now: Date,
  field = 'password',
): Promise<void> {
  if (!password) throw new ValidationError({ [field]: 'Enter your current password.' });
  const key = passwordCheckKey(user.email);
  const wait = await reserveAttempt(em, [{ key, rule: ACCOUNT_RULE }], now);
  if (wait > 0) throw new TooManyAttemptsError(wait, 'password attempts');
  if (!user.passwordHash || !(await verifyPassword(password, user.passwordHash))) {
    throw new ValidationError({ [field]: 'The password is not right.' });
  }
  await clearFailures(em, key);
}
