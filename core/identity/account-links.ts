// What the links sent by mail do: confirm an invited user's address (and set their first
// password), confirm a changed address, and reset a forgotten password.
import type { EntityManager } from '@mikro-orm/core';
import { ValidationError } from '../errors.ts';
import type { Mailer } from '../mail/mailer.ts';
import { type IUser, User } from './entities.ts';
import { issueToken, peekToken, spendToken } from './one-time-tokens.ts';
import { hashPassword, passwordProblem } from './password.ts';
import { endUserSessions } from './session-service.ts';
import { clearAccountThrottles } from './throttle.ts';

export class LinkExpiredError extends ValidationError {
  constructor() {
    super(
      { token: 'This link has expired or was already used. Ask for a new one.' },
      'This link has expired or was already used.',
    );
  }
}

function checkNewPassword(password: string, confirm: string, email: string): void {
  const problem = passwordProblem(password, email);
  if (problem) throw new ValidationError({ password: problem });
  if (password !== confirm) throw new ValidationError({ confirmPassword: 'The two passwords do not match.' });
}

export type ConfirmResult =
  | { kind: 'activated'; user: IUser }
  | { kind: 'email_changed'; user: IUser; previous: string };

/**
 * Spends a confirmation link. An invited user must choose a password in the same step; a
 * changed address replaces the old one (if nobody took it meanwhile).
 */
export async function confirmEmail(
  em: EntityManager,
  token: string,
  password: { password: string; confirm: string } | null,
  now: Date,
): Promise<ConfirmResult> {
  // Validate the password before spending the link, so a typo does not burn it.
  const peek = await peekToken(em, token, 'confirm_email', now);
  if (!peek) throw new LinkExpiredError();
  const target = peek.user as IUser;
  if (target.status === 'pending') {
    if (!password) throw new ValidationError({ password: 'Choose a password.' });
    checkNewPassword(password.password, password.confirm, target.email);
  }
  const row = await spendToken(em, token, 'confirm_email', now);
  if (!row) throw new LinkExpiredError();
  const user = row.user as IUser;
  if (user.status === 'pending' && password) {
    user.passwordHash = await hashPassword(password.password);
    user.passwordChangedAt = now;
    user.status = 'active';
    user.emailConfirmedAt = now;
    await em.flush();
    return { kind: 'activated', user };
  }
  if (row.email && user.pendingEmail === row.email) {
    const taken = await em.count(User, { email: row.email, id: { $ne: user.id } });
    if (taken > 0) throw new ValidationError({ token: 'Another user has this address now; it cannot be confirmed.' });
    const previous = user.email;
    user.email = row.email;
    user.pendingEmail = null;
    user.emailConfirmedAt = now;
    await em.flush();
    await endUserSessions(em, user.id);
    return { kind: 'email_changed', user, previous };
  }
  throw new LinkExpiredError();
}

/**
 * Sends a reset link to an active user with this address. Says nothing about whether the
 * address exists: the caller shows the same answer either way.
 */
export async function requestPasswordReset(
  em: EntityManager,
  mailer: Mailer,
  email: string,
  linkOrigin: () => Promise<string>,
  now: Date,
): Promise<IUser | null> {
  const user = await em.findOne(
    User,
    { email: email.trim().toLowerCase().slice(0, 320) },
    { populate: ['organization'] },
  );
  if (user?.status !== 'active') return null;
  const origin = await linkOrigin();
  const token = await issueToken(em, user, 'reset_password', now);
  await mailer.send(em, {
    to: user.email,
    subject: 'Reset your Holdfast password',
    text: `Someone asked to reset the password of ${user.email} on Holdfast.\n\nChoose a new password here (the link works once, for 24 hours):\n${origin}/reset-password/${token}\n\nIf it was not you, ignore this message: your password stays as it is.`,
  });
  return user;
}

export async function resetPassword(
  em: EntityManager,
  token: string,
  password: string,
  confirm: string,
  now: Date,
): Promise<IUser> {
  const peek = await peekToken(em, token, 'reset_password', now);
  if (!peek) throw new LinkExpiredError();
  checkNewPassword(password, confirm, (peek.user as IUser).email);
  const row = await spendToken(em, token, 'reset_password', now);
  if (!row) throw new LinkExpiredError();
  const user = row.user as IUser;
  user.passwordHash = await hashPassword(password);
  user.passwordChangedAt = now;
  await em.flush();
  await endUserSessions(em, user.id);
  await clearAccountThrottles(em, user.email);
  return user;
}
