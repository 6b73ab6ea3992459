// An organization's security policies: whether its users must use two-factor authentication
// (those without it enrol at their next sign-in) and how many days a password stays valid.
import type { EntityManager } from '@mikro-orm/core';
import { ValidationError } from '../errors.ts';
import type { IOrganization } from './entities.ts';

export const PASSWORD_EXPIRY_MAX_DAYS = 365;

export interface SecurityPolicyInput {
  enforceTwoFactor: boolean;
  /** 'off', or a number of days as typed. */
  passwordExpiry: 'off' | 'days';
  passwordExpiryDays?: string | undefined;
}

export interface SecurityPolicy {
  enforceTwoFactor: boolean;
  passwordExpiryDays: number | null;
}

export function parseSecurityPolicy(input: SecurityPolicyInput): SecurityPolicy {
  if (input.passwordExpiry === 'off') return { enforceTwoFactor: input.enforceTwoFactor, passwordExpiryDays: null };
  const text = (input.passwordExpiryDays ?? '').trim();
  const days = /^\d{1,3}$/.test(text) ? Number(text) : Number.NaN;
  if (!(days >= 1 && days <= PASSWORD_EXPIRY_MAX_DAYS)) {
    throw new ValidationError({
      passwordExpiryDays: `Enter a whole number of days from 1 to ${PASSWORD_EXPIRY_MAX_DAYS}.`,
    });
  }
  return { enforceTwoFactor: input.enforceTwoFactor, passwordExpiryDays: days };
}

function describeExpiry(days: number | null): string {
  return days === null ? 'off' : `${days} day${days === 1 ? '' : 's'}`;
}

/** Applies the policy; returns one sentence per setting that changed (empty: nothing did). */
export async function updateSecurityPolicy(
  em: EntityManager,
  org: IOrganization,
  input: SecurityPolicyInput,
): Promise<string[]> {
  const policy = parseSecurityPolicy(input);
  const changes: string[] = [];
  if (policy.enforceTwoFactor !== org.enforceTwoFactor) {
    changes.push(`Enforce two-factor authentication: ${policy.enforceTwoFactor ? 'on' : 'off'}`);
    org.enforceTwoFactor = policy.enforceTwoFactor;
  }
  const before = org.passwordExpiryDays ?? null;
  if (policy.passwordExpiryDays !== before) {
    changes.push(`Password expiration: ${describeExpiry(before)} → ${describeExpiry(policy.passwordExpiryDays)}`);
    org.passwordExpiryDays = policy.passwordExpiryDays;
  }
  if (changes.length > 0) await em.flush();
  return changes;
}
