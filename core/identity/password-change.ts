// Choosing a new password: from Settings (the current password is asked for again) or at
// sign-in when the organization's expiry policy says the old one is too old (the password was
// just proven, so it is not asked twice). Either way the new one must pass the strength rule,
// be typed twice alike, and differ from the old one.
import type { EntityManager } from '@mikro-orm/core';
import { type FieldErrors, ValidationError } from '../errors.ts';
import { confirmCurrentPassword } from './current-password.ts';
import type { IUser } from './entities.ts';
import { hashPassword, passwordProblem, verifyPassword } from './password.ts';

export interface NewPasswordInput {
  newPassword?: string | undefined;
  confirmPassword?: string | undefined;
}

function newPasswordErrors(user: IUser, input: NewPasswordInput): FieldErrors {
  const errors: FieldErrors = {};
  const chosen = input.newPassword ?? '';
  const problem = chosen ? passwordProblem(chosen, user.email) : 'Choose a new password.';
  if (problem) errors.newPassword = problem;
  else if ((input.confirmPassword ?? '') !== chosen) errors.confirmPassword = 'The two passwords do not match.';
  return errors;
}

async function store(em: EntityManager, user: IUser, password: string, now: Date): Promise<void> {
  user.passwordHash = await hashPassword(password);
  user.passwordChangedAt = now;
  await em.flush();
}

/** Settings › Security: the current password is required. */
export async function changePassword(
  em: EntityManager,
  user: IUser,
  input: NewPasswordInput & { currentPassword?: string | undefined },
  now: Date,
): Promise<void> {
  const errors = newPasswordErrors(user, input);
  if (!input.currentPassword) errors.currentPassword = 'Enter your current password.';
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  await confirmCurrentPassword(em, user, input.currentPassword ?? '', now, 'currentPassword');
  if (input.newPassword === input.currentPassword) {
    throw new ValidationError({ newPassword: 'Choose a password different from the current one.' });
  }
  await store(em, user, input.newPassword as string, now);
}

/** At sign-in, for an expired password the user has just entered. */
export async function replaceExpiredPassword(
  em: EntityManager,
  user: IUser,
  input: NewPasswordInput,
  now: Date,
): Promise<void> {
  const errors = newPasswordErrors(user, input);
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  if (user.passwordHash && (await verifyPassword(input.newPassword as string, user.passwordHash))) {
    throw new ValidationError({ newPassword: 'Choose a password different from the expired one.' });
  }
  await store(em, user, input.newPassword as string, now);
}
