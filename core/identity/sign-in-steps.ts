// The steps of signing in after the password: a second-factor code when the user has one,
// enrolment when the organization enforces two-factor and the user has none, a new password
// when the organization's expiry policy says the old one is too old.
import type { IOrganization, IUser, SessionStage } from './entities.ts';

export function passwordExpired(user: IUser, org: IOrganization, now: Date): boolean {
  if (!org.passwordExpiryDays) return false;
  const changed = user.passwordChangedAt ?? user.createdAt;
  return now.getTime() - changed.getTime() >= org.passwordExpiryDays * 86_400_000;
}

export function stageAfterPassword(user: IUser, now: Date): SessionStage {
  const org = user.organization as IOrganization;
  if (user.totpEnabledAt) return 'second_factor';
  if (org.enforceTwoFactor) return 'enrol_second_factor';
  return passwordExpired(user, org, now) ? 'new_password' : 'active';
}

/** After a valid code, or after enrolling during sign-in. */
export function stageAfterSecondFactor(user: IUser, now: Date): SessionStage {
  return passwordExpired(user, user.organization as IOrganization, now) ? 'new_password' : 'active';
}
