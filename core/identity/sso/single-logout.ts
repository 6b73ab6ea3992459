// Single logout, protocol-neutral: signing out here also signs out at the provider when its
// module can (SAML SingleLogoutService), and a provider's own logout request ends the sessions
// its subject opened through it. Sessions are matched by the linked identity (provider +
// subject): every session of that user begun through that provider ends.
import type { EntityManager } from '@mikro-orm/core';
import { type IOrganization, type ISession, type IUser, Session } from '../entities.ts';
import { ExternalIdentity, type ISsoProvider, SsoProvider } from './entities.ts';
import { contextFor, type SsoFlowOptions } from './flow.ts';
import type { SsoLogoutMessage } from './protocol.ts';
import { ssoProtocol } from './protocols.ts';
import { providerView } from './providers.ts';

/** Where to send the browser after signing out of `session` here, so the provider signs out too. */
export async function providerSignOutUrl(
  em: EntityManager,
  session: ISession,
  options: SsoFlowOptions,
): Promise<string | null> {
  if (!session.ssoProviderId) return null;
  const provider = await em.findOne(SsoProvider, { id: session.ssoProviderId, enabled: true });
  const module = provider ? ssoProtocol(provider.protocol) : undefined;
  if (!provider || !module?.signOutUrl) return null;
  const link = await em.findOne(ExternalIdentity, { provider: provider.id, user: (session.user as IUser).id });
  if (!link) return null;
  return module.signOutUrl(providerView(provider, options.cipher), link.subject, contextFor(provider, options));
}

export type ProviderLogoutResult =
  | { kind: 'ended'; provider: ISsoProvider; user: IUser | null; sessions: number; answerUrl: string | null }
  | { kind: 'answered' }
  | { kind: 'refused'; provider: ISsoProvider | null; reason: string };

/** A message at `/sso/logout/<provider>`: the provider's logout request, or its answer to ours. */
export async function receiveProviderLogout(
  em: EntityManager,
  providerId: string,
  message: SsoLogoutMessage,
  options: SsoFlowOptions,
): Promise<ProviderLogoutResult> {
  const provider = await em.findOne(SsoProvider, { id: providerId }, { populate: ['organization'] });
  const module = provider ? ssoProtocol(provider.protocol) : undefined;
  if (!provider || !module?.receiveLogout) {
    return { kind: 'refused', provider: null, reason: 'There is no such identity provider.' };
  }
  const outcome = await module.receiveLogout(
    providerView(provider, options.cipher),
    message,
    contextFor(provider, options),
  );
  if (outcome.kind === 'refused') return { kind: 'refused', provider, reason: outcome.reason };
  if (outcome.kind === 'response') return { kind: 'answered' };
  const link = await em.findOne(
    ExternalIdentity,
    { provider: provider.id, subject: outcome.subject },
    { populate: ['user'] },
  );
  const user = (link?.user as IUser | undefined) ?? null;
  // Only a user of the provider's organization (a link is never made across organizations).
  const sameOrganization =
    user && (user.organization as IOrganization).id === (provider.organization as IOrganization).id;
  const sessions =
    user && sameOrganization ? await em.nativeDelete(Session, { user: user.id, ssoProviderId: provider.id }) : 0;
  return { kind: 'ended', provider, user, sessions, answerUrl: outcome.answerUrl };
}
