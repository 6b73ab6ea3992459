// Removing an account: an explicit confirmation starts a grace period during which the account
// (and everything under it) can be restored; after it, a purge deletes the data. Purging
// backup data is done by hooks that the storage and jobs capabilities register, so this
// module stays free of them.
import type { EntityManager } from '@mikro-orm/core';
import { AppError, ValidationError } from '../errors.ts';
import { type IOrganization, Organization, User } from '../identity/entities.ts';
import { descendantsOf, REMOVAL_CONFIRMATION, REMOVAL_GRACE_DAYS } from './organizations.ts';

/** Called for each organization about to be deleted, deepest first; must delete its backup data. */
export type PurgeHook = (em: EntityManager, org: IOrganization) => Promise<void>;

const purgeHooks: PurgeHook[] = [];

export function registerPurgeHook(hook: PurgeHook): () => void {
  purgeHooks.push(hook);
  return () => {
    const i = purgeHooks.indexOf(hook);
    if (i >= 0) purgeHooks.splice(i, 1);
  };
}

export async function requestRemoval(
  em: EntityManager,
  org: IOrganization,
  approved: boolean,
  now = new Date(),
): Promise<Date> {
  if (org.kind === 'root')
    throw new AppError('root_not_removable', 'The operator organization cannot be removed.', 409);
  if (!approved) {
    throw new ValidationError({ approve: `Tick "${REMOVAL_CONFIRMATION}" to remove this account.` });
  }
  if (org.status === 'removal_pending' && org.purgeAfter) return org.purgeAfter;
  const purgeAfter = new Date(now.getTime() + REMOVAL_GRACE_DAYS * 86_400_000);
  org.status = 'removal_pending';
  org.removalRequestedAt = now;
  org.purgeAfter = purgeAfter;
  await em.flush();
  return purgeAfter;
}

export async function cancelRemoval(em: EntityManager, org: IOrganization): Promise<void> {
  if (org.status !== 'removal_pending') return;
  org.status = 'active';
  org.removalRequestedAt = null;
  org.purgeAfter = null;
  await em.flush();
}

/** True when the node or one of its ancestors is waiting to be purged. */
export async function isBeingRemoved(em: EntityManager, org: IOrganization): Promise<boolean> {
  const ids = org.path.split('/').filter(Boolean);
  return (await em.count(Organization, { id: { $in: ids }, status: 'removal_pending' })) > 0;
}

export interface PurgedOrganization {
  id: string;
  name: string;
  /** The surviving parent, whose audit log records the purge. */
  parentId: string | null;
}

/**
 * Purges every organization whose grace period ended by `now`, with its whole subtree: purge
 * hooks first (deepest nodes first), then users and the organizations. A due node under another
 * due node is purged with its ancestor, once. Run by the appliance's maintenance timer.
 */
export async function purgeDueOrganizations(em: EntityManager, now = new Date()): Promise<PurgedOrganization[]> {
  const due = await em.find(Organization, { status: 'removal_pending', purgeAfter: { $lte: now } });
  const tops = due.filter((org) => !due.some((other) => other.id !== org.id && org.path.startsWith(other.path)));
  const purged: PurgedOrganization[] = [];
  for (const org of tops) {
    const subtree = [org, ...(await em.find(Organization, descendantsOf(org)))];
    subtree.sort((a, b) => b.path.length - a.path.length); // children before parents
    for (const node of subtree) {
      for (const hook of purgeHooks) await hook(em, node);
      await em.nativeDelete(User, { organization: node.id });
      await em.nativeDelete(Organization, { id: node.id });
    }
    purged.push({ id: org.id, name: org.name, parentId: org.parent?.id ?? null });
  }
  em.clear();
  return purged;
}
