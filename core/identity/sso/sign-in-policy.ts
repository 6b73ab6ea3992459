// Who may sign in how, per organization: with a password, with single sign-on, or either.
// "Require SSO" ('sso') refuses password sign-in to everyone of the organization except the
// break-glass administrator a root administrator named, so a broken identity provider never
// locks the organization out. Two-factor is the identity provider's job for SSO sign-ins.
import type { EntityManager } from '@mikro-orm/core';
import { ValidationError } from '../../errors.ts';
import { type IOrganization, type IUser, SIGN_IN_POLICIES, type SignInPolicy, User } from '../entities.ts';

export const SIGN_IN_POLICY_LABELS: Record<SignInPolicy, string> = {
  password: 'Email and password only',
  either: 'Email and password, or single sign-on',
  sso: 'Require single sign-on',
};

export function passwordSignInAllowed(user: IUser): boolean {
  const org = user.organization as IOrganization;
  return org.signInPolicy !== 'sso' || org.ssoBreakGlassUserId === user.id;
}

export function ssoSignInAllowed(org: IOrganization): boolean {
  return org.signInPolicy !== 'password';
}

export function parseSignInPolicy(value: string | undefined): SignInPolicy {
  if ((SIGN_IN_POLICIES as readonly string[]).includes(value ?? '')) return value as SignInPolicy;
  throw new ValidationError({ signInPolicy: 'Choose password, SSO or either.' });
}

/** Sets the policy; returns the audit sentence, or null when nothing changed. */
export async function updateSignInPolicy(
  em: EntityManager,
  org: IOrganization,
  policy: SignInPolicy,
): Promise<string | null> {
  if (org.signInPolicy === policy) return null;
  const before = org.signInPolicy as SignInPolicy;
  org.signInPolicy = policy;
  await em.flush();
  return `Sign-in policy: ${SIGN_IN_POLICY_LABELS[before]} → ${SIGN_IN_POLICY_LABELS[policy]}`;
}

/**
 * Names (or clears, with null) the break-glass administrator: an active administrator of the
 * organization itself. Only root administrators call this (checked by the route).
 */
export async function setBreakGlassUser(
  em: EntityManager,
  org: IOrganization,
  email: string | null,
): Promise<{ sentence: string | null; user: IUser | null }> {
  if (!email) {
    if (!org.ssoBreakGlassUserId) return { sentence: null, user: null };
    org.ssoBreakGlassUserId = null;
    await em.flush();
    return { sentence: 'Break-glass administrator removed', user: null };
  }
  const user = await em.findOne(User, { email: email.trim().toLowerCase(), organization: org.id });
  if (user?.role !== 'administrator' || user.status !== 'active') {
    throw new ValidationError({ breakGlassEmail: `Enter the e-mail of an active administrator of ${org.name}.` });
  }
  if (org.ssoBreakGlassUserId === user.id) return { sentence: null, user };
  org.ssoBreakGlassUserId = user.id;
  await em.flush();
  return { sentence: `Break-glass administrator: ${user.email}`, user };
}

export type SignInMethodState = 'Active' | 'Off' | 'Break-glass only';

/**
 * Each way into the organization and whether it works now, as the seed's Security page shows it
 * ("Email & Password: Active", "SAML: Active"): e-mail and password, then one entry per kind of
 * configured identity provider (SAML, or the OIDC preset's name), Active when one of that kind is
 * enabled and the policy allows single sign-on.
 */
export function signInMethodStates(
  org: IOrganization,
  providers: readonly { protocol: string; preset: string; enabled: boolean }[],
  labels: Record<string, string>,
): { label: string; state: SignInMethodState }[] {
  const password: SignInMethodState =
    org.signInPolicy !== 'sso' ? 'Active' : org.ssoBreakGlassUserId ? 'Break-glass only' : 'Off';
  const kinds = new Map<string, boolean>();
  for (const p of providers) {
    const label = p.protocol === 'saml' ? 'SAML' : (labels[p.preset] ?? p.preset);
    kinds.set(label, (kinds.get(label) ?? false) || p.enabled);
  }
  return [
    { label: 'Email & Password', state: password },
    ...[...kinds].map(([label, enabled]) => ({
      label,
      state: (enabled && ssoSignInAllowed(org) ? 'Active' : 'Off') as SignInMethodState,
    })),
  ];
}
