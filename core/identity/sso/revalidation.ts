// How a user removed or disabled at the identity provider loses access: a session begun through
// single sign-on must be vouched for again by its provider once every session idle period
// (`ssoRevalidateAt`). OIDC asks with the refresh token (a removed user's grant is refused);
// a protocol that cannot ask without the browser (SAML) answers `unsupported`, and the session
// ends then: its holder signs in again through the provider. Disabling or removing a provider,
// and disabling the user here, end its sessions at once.
import type { EntityManager } from '@mikro-orm/core';
import type { CredentialCipher } from '../../secrets/credential-cipher.ts';
import { type IOrganization, type ISession, type IUser, Session } from '../entities.ts';
import { SsoProvider } from './entities.ts';
import type { SsoContext } from './protocol.ts';
import { ssoProtocol } from './protocols.ts';
import { providerView } from './providers.ts';

export const refreshContext = (userId: string, providerId: string) => `sso-refresh:${userId}:${providerId}`;

export type RevalidationOutcome = { kind: 'valid' } | { kind: 'ended'; reason: string; user: IUser };

/**
 * Asks the session's provider again when its revalidation time has come. A refusal (or a
 * provider gone, disabled, or unable to ask) ends the session. Runs at most once per idle period.
 */
export async function revalidateSsoSession(
  em: EntityManager,
  session: ISession,
  options: { cipher: CredentialCipher; allowLoopback: boolean; idleMinutes: number; baseUrl: string; now: Date },
): Promise<RevalidationOutcome> {
  if (!session.ssoProviderId || !session.ssoRevalidateAt || session.ssoRevalidateAt > options.now)
    return { kind: 'valid' };
  const user = session.user as IUser;
  const provider = await em.findOne(SsoProvider, { id: session.ssoProviderId });
  const end = async (reason: string): Promise<RevalidationOutcome> => {
    await em.nativeDelete(Session, { id: session.id });
    return { kind: 'ended', reason, user };
  };
  if (!provider?.enabled) return end('the identity provider was removed or disabled');
  if ((provider.organization as IOrganization).id !== (user.organization as IOrganization).id) {
    return end('the identity provider belongs to another organization');
  }
  const module = ssoProtocol(provider.protocol);
  if (!module) return end(`the ${provider.protocol} protocol is not available`);
  const context: SsoContext = {
    callbackUrl: `${options.baseUrl}/sso/callback/${provider.id}`,
    serviceProviderId: `${options.baseUrl}/sso/metadata/${provider.id}`,
    allowLoopback: options.allowLoopback,
    now: options.now,
  };
  const refreshToken = session.ssoRefreshSealed
    ? options.cipher.decrypt(session.ssoRefreshSealed, refreshContext(user.id, provider.id))
    : null;
  const answer = await module.revalidate(providerView(provider, options.cipher), refreshToken, context);
  if (answer.kind === 'refused') return end(answer.reason.replace(/\.$/, ''));
  if (answer.kind === 'unsupported') return end('the session reached its revalidation time; sign in again');
  session.ssoRevalidateAt = new Date(options.now.getTime() + options.idleMinutes * 60_000);
  if (answer.refreshToken)
    session.ssoRefreshSealed = options.cipher.encrypt(answer.refreshToken, refreshContext(user.id, provider.id));
  await em.flush();
  return { kind: 'valid' };
}
