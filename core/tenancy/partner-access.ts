// The customer privacy option (seed 001 §2): a customer account's own administrator removes its
// partner's access, so only the customer's users reach its data; the partner keeps the account's
// row, status and usage figures in its portal (core/access/principal.ts `canReach` and
// `reachableFilter`). Restoring access is again the customer's decision. Both are recorded in
// the security audit of the customer and of the organization above it.
import type { EntityManager } from '@mikro-orm/core';
import { ForbiddenError } from '../access/errors.ts';
import type { Principal } from '../access/principal.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { AppError } from '../errors.ts';
import { type IOrganization, Organization, Session } from '../identity/entities.ts';

/** Shown to the partner on the account's row instead of a way in. */
export const ACCESS_REMOVED_LABEL = 'Access removed by customer';

/** Only a customer account's own administrators decide (not a partner acting in it). */
export function mayChangePartnerAccess(principal: Principal, org: IOrganization): boolean {
  return org.kind === 'customer' && principal.isAdministrator && principal.home.id === org.id;
}

export async function setPartnerAccess(
  em: EntityManager,
  principal: Principal,
  org: IOrganization,
  access: 'removed' | 'restored',
  actor: AuditActor,
  now: Date,
): Promise<boolean> {
  if (!mayChangePartnerAccess(principal, org)) {
    throw new ForbiddenError("Only the customer account's own administrators can change its partner's access.");
  }
  const removed = access === 'removed';
  if (Boolean(org.partnerAccessRemovedAt) === removed) return false;
  if (!org.parent) throw new AppError('no_partner', 'This account has no partner above it.', 409);
  org.partnerAccessRemovedAt = removed ? now : null;
  await em.flush();
  // Sessions of users above that have the account open go back to their own organization now,
  // rather than finding it open again should access ever be restored.
  if (removed) await em.nativeUpdate(Session, { actingOrganization: org.id }, { actingOrganization: null });
  const parent = await em.findOneOrFail(Organization, { id: (org.parent as IOrganization).id });
  const activity = removed ? 'Partner access removed' : 'Partner access restored';
  const parentName = parent.name;
  await recordAudit(em, {
    organization: org,
    activity,
    account: org.name,
    description: removed
      ? `${parentName} can no longer open ${org.name} or reach its data; only its own users can`
      : `${parentName} can open ${org.name} and reach its data again`,
    actor,
  });
  await recordAudit(em, {
    organization: parent,
    activity,
    account: org.name,
    description: removed
      ? `${org.name} removed the access of ${parentName}: its row, status and usage stay listed`
      : `${org.name} restored the access of ${parentName}`,
    actor,
  });
  return true;
}
