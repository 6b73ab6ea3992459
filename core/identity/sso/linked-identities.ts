// What the users list shows of how each user signs in (the seeds' credential types: E-mail,
// Microsoft, Google, Okta, SAML), and the external identities an administrator can unlink.
import type { EntityManager } from '@mikro-orm/core';
import { NotFoundError } from '../../errors.ts';
import { type IUser, Session } from '../entities.ts';
import { ExternalIdentity, type IExternalIdentity, type ISsoProvider } from './entities.ts';
import { PRESET_LABELS } from './providers.ts';

/** Per user id: "E-mail" when a password is set, then one label per linked provider type. */
export async function credentialTypesOf(em: EntityManager, users: IUser[]): Promise<Map<string, string[]>> {
  const links = users.length
    ? await em.find(ExternalIdentity, { user: { $in: users.map((u) => u.id) } }, { populate: ['provider'] })
    : [];
  const out = new Map<string, string[]>();
  for (const user of users) out.set(user.id, user.passwordHash ? ['E-mail'] : []);
  for (const link of links) {
    const provider = link.provider as ISsoProvider;
    const label = PRESET_LABELS[provider.preset] ?? provider.preset;
    const list = out.get((link.user as IUser).id);
    if (list && !list.includes(label)) list.push(label);
  }
  return out;
}

export async function linkedIdentitiesOf(em: EntityManager, user: IUser): Promise<IExternalIdentity[]> {
  return em.find(ExternalIdentity, { user: user.id }, { populate: ['provider'], orderBy: { createdAt: 'asc' } });
}

/**
 * Unlinks an identity: the user no longer signs in with it (an invited match by e-mail would link
 * it again, so an administrator who wants them out deactivates the user), and the sessions it
 * opened end now.
 */
export async function removeLinkedIdentity(em: EntityManager, user: IUser, id: string): Promise<IExternalIdentity> {
  const link = await em.findOne(ExternalIdentity, { id, user: user.id }, { populate: ['provider'] });
  if (!link) throw new NotFoundError('There is no such linked identity.');
  const provider = link.provider as ISsoProvider;
  await em.nativeDelete(Session, { user: user.id, ssoProviderId: provider.id });
  await em.remove(link).flush();
  return link;
}
