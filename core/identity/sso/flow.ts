// The single sign-on flow shared by every protocol. Starting: a pending sign-in (random state,
// nonce, PKCE verifier) bound to the browser by a cookie, then the module's redirect. Finishing:
// the pending sign-in found by its state and the browser's cookie, deleted before anything else
// (a replayed answer finds nothing), the module's verification, then the account: the user
// linked to this subject at this provider, else the user of the provider's organization with
// the verified e-mail, else — with just-in-time creation on and the e-mail's domain verified —
// a new user. Never a user of another organization.
import { createHash, randomBytes } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { addressAllowed } from '../../access/ip-rules.ts';
import type { CredentialCipher } from '../../secrets/credential-cipher.ts';
import { type IOrganization, type IUser, User } from '../entities.ts';
import { verifyDomainByClaim } from './domains.ts';
import { ExternalIdentity, type ISsoProvider, SsoDomain, SsoPendingSignIn, SsoProvider } from './entities.ts';
import type { SsoCallback, SsoContext, SsoIdentity, SsoPendingView, SsoStart } from './protocol.ts';
import { ssoProtocol } from './protocols.ts';
import { providerView } from './providers.ts';
import { databaseReplayStore } from './saml/saml-replay.ts';
import { ssoSignInAllowed } from './sign-in-policy.ts';

/** A pending sign-in lives this long: enough to type a password and approve an MFA prompt. */
export const PENDING_TTL_MS = 10 * 60_000;

export interface SsoFlowOptions {
  cipher: CredentialCipher;
  allowLoopback: boolean;
  /** The appliance's origin as the browser sees it, e.g. https://backup.example.com. */
  baseUrl: string;
  now: Date;
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const random = () => randomBytes(32).toString('base64url');

export function contextFor(provider: ISsoProvider, options: SsoFlowOptions): SsoContext {
  return {
    callbackUrl: `${options.baseUrl}/sso/callback/${provider.id}`,
    serviceProviderId: `${options.baseUrl}/sso/metadata/${provider.id}`,
    logoutUrl: `${options.baseUrl}/sso/logout/${provider.id}`,
    allowLoopback: options.allowLoopback,
    now: options.now,
  };
}

/** The redirect (or form) to the provider and the value of the browser's binding cookie. */
export async function beginSsoSignIn(
  em: EntityManager,
  provider: ISsoProvider,
  options: SsoFlowOptions,
  request: { loginHint: string | null; next: string },
): Promise<{ start: SsoStart; binding: string }> {
  const module = ssoProtocol(provider.protocol);
  if (!module) throw new Error(`no ${provider.protocol} module`);
  const binding = random();
  const pending: SsoPendingView = {
    state: random(),
    nonce: random(),
    codeVerifier: random(),
    protocolData: {},
    loginHint: request.loginHint,
  };
  const start = await module.startSignIn(
    providerView(provider, options.cipher),
    pending,
    contextFor(provider, options),
  );
  // Abandoned sign-ins go as new ones start (indexed by expiry; no housekeeping job needed).
  await em.nativeDelete(SsoPendingSignIn, { expiresAt: { $lte: options.now } });
  em.create(SsoPendingSignIn, {
    id: sha256(pending.state),
    provider,
    bindingHash: sha256(binding),
    nonce: pending.nonce,
    codeVerifier: pending.codeVerifier,
    protocolData: start.protocolData ?? {},
    loginHint: request.loginHint,
    next: request.next,
    createdAt: options.now,
    expiresAt: new Date(options.now.getTime() + PENDING_TTL_MS),
  });
  await em.flush();
  return { start, binding };
}

export type SsoSignInResult =
  | { kind: 'ok'; user: IUser; provider: ISsoProvider; identity: SsoIdentity; next: string; notes: string[] }
  | { kind: 'refused'; reason: string; provider: ISsoProvider | null; user: IUser | null; email: string | null }
  | { kind: 'address_denied'; user: IUser; provider: ISsoProvider };

/** The state a callback carries: OIDC `state` in the query, SAML `RelayState` in the form or query. */
export function stateOf(callback: SsoCallback): string | null {
  return (
    callback.url.searchParams.get('state') ??
    callback.form.RelayState ??
    callback.url.searchParams.get('RelayState') ??
    callback.form.state ??
    null
  );
}

function refused(
  reason: string,
  provider: ISsoProvider | null,
  user: IUser | null = null,
  email: string | null = null,
): SsoSignInResult {
  return { kind: 'refused', reason, provider, user, email };
}

export async function finishSsoSignIn(
  em: EntityManager,
  providerId: string,
  callback: SsoCallback,
  binding: string | undefined,
  options: SsoFlowOptions & { ip: string | undefined },
): Promise<SsoSignInResult> {
  const provider = await em.findOne(SsoProvider, { id: providerId }, { populate: ['organization'] });
  if (!provider) return refused('This sign-in link names no identity provider.', null);
  const state = stateOf(callback);
  const pending = state ? await em.findOne(SsoPendingSignIn, { id: sha256(state), provider: provider.id }) : null;
  // Single use: whoever deletes the row owns the answer; a replay (or a second tab) finds nothing.
  const taken = pending ? await em.nativeDelete(SsoPendingSignIn, { id: pending.id }) : 0;
  if (!pending || taken !== 1) {
    return refused(
      'This sign-in answer was already used or does not belong to a sign-in started here. Start again from the sign-in page.',
      provider,
    );
  }
  if (!binding || sha256(binding) !== pending.bindingHash) {
    return refused('This sign-in was started in another browser. Start again from the sign-in page.', provider);
  }
  if (pending.expiresAt <= options.now)
    return refused('The sign-in took too long. Start again from the sign-in page.', provider);
  const org = provider.organization as IOrganization;
  if (!provider.enabled || !ssoSignInAllowed(org))
    return refused(`Single sign-on with ${provider.name} is turned off.`, provider);
  const module = ssoProtocol(provider.protocol);
  if (!module) return refused(`This appliance does not support the ${provider.protocol} protocol.`, provider);
  const pendingView: SsoPendingView = {
    state: state as string,
    nonce: pending.nonce,
    codeVerifier: pending.codeVerifier,
    protocolData: pending.protocolData,
    loginHint: pending.loginHint ?? null,
  };
  const replay = databaseReplayStore(em);
  const answer = await module.completeSignIn(providerView(provider, options.cipher), callback, pendingView, {
    ...contextFor(provider, options),
    claimOnce: (issuer, id, until) => replay.claim(issuer, id, until, options.now),
  });
  if (answer.kind === 'refused') return refused(answer.reason, provider);
  const identity = answer.identity;
  const email = identity.email?.toLowerCase() ?? null;
  if (!email) return refused('The identity provider sent no e-mail address for this account.', provider);
  if (!identity.emailVerified) {
    return refused(`The identity provider has not verified the e-mail address ${email}.`, provider, null, email);
  }
  const notes: string[] = [];
  const link = await em.findOne(
    ExternalIdentity,
    { provider: provider.id, subject: identity.subject },
    { populate: ['user', 'user.organization'] },
  );
  let user: IUser | null = (link?.user as IUser | undefined) ?? null;
  user ??= await em.findOne(User, { email, organization: org.id }, { populate: ['organization'] });
  if (user && (user.organization as IOrganization).id !== org.id) user = null;
  if (!user) {
    const domain = email.split('@')[1] ?? '';
    const elsewhere = await em.count(User, { email });
    if (provider.jitEnabled && elsewhere === 0 && (await domainVerifiedFor(em, org, domain))) {
      user = em.create(User, {
        organization: org,
        email,
        displayName: identity.displayName,
        role: provider.jitRole,
        permissions: provider.jitPermissions,
        status: 'active',
        emailConfirmedAt: options.now,
      } as never) as IUser;
      notes.push(
        `account created just in time as ${provider.jitRole === 'administrator' ? 'Administrator' : 'Custom'}`,
      );
    } else {
      return refused(
        `There is no account for ${email} in ${org.name}. Ask an administrator to invite you.`,
        provider,
        null,
        email,
      );
    }
  }
  if (user.status === 'deactivated') return refused('This account is deactivated.', provider, user, email);
  if (user.status === 'pending') {
    // The identity provider vouches for the address the invitation went to.
    user.status = 'active';
    user.emailConfirmedAt = options.now;
    notes.push('invitation accepted');
  }
  const rule = provider.groupRules.find((r) => identity.groups.includes(r.group));
  if (rule && (rule.role !== user.role || JSON.stringify(rule.permissions) !== JSON.stringify(user.permissions))) {
    user.role = rule.role;
    user.permissions = rule.permissions;
    notes.push(
      `role set from group ${rule.group}: ${rule.role === 'administrator' ? 'Administrator' : rule.permissions.join(', ') || 'no permissions'}`,
    );
  }
  if (!(await addressAllowed(em, org, options.ip))) return { kind: 'address_denied', user, provider };
  if (link) {
    link.email = email;
    link.lastSignInAt = options.now;
  } else {
    em.create(ExternalIdentity, {
      user,
      provider,
      subject: identity.subject,
      email,
      createdAt: options.now,
      lastSignInAt: options.now,
    });
    notes.push('external identity linked');
  }
  user.lastLoginAt = options.now;
  await em.flush();
  if (user.role === 'administrator') {
    const verified = await verifyDomainByClaim(em, org, email, options.now);
    if (verified) notes.push(`domain ${verified} verified by the administrator's sign-in`);
  }
  return { kind: 'ok', user, provider, identity, next: pending.next, notes };
}

async function domainVerifiedFor(em: EntityManager, org: IOrganization, domain: string): Promise<boolean> {
  return (await em.count(SsoDomain, { organization: org.id, domain, verifiedAt: { $ne: null } })) > 0;
}
