// What a portal does with the accounts under it: find one (only inside the organization being
// worked in and the principal's reach; anything else is "not found"), add one with an optional
// first administrator, record opening and leaving it, request and cancel its removal. Every
// change leaves its security audit entry.
import type { EntityManager } from '@mikro-orm/core';
import { accessibleOrganization, holdsInPortal, type Principal } from '../access/principal.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { AppError, type FieldErrors, fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization, IUser, OrganizationKind } from '../identity/entities.ts';
import { Organization, User } from '../identity/entities.ts';
import { heldOutOfReach, inviteUser, type UserServiceContext, userInputSchema } from '../identity/users.ts';
import { defaultForNewAccounts, setOrganizationLocation } from '../storage-locations/assignment.ts';
import type { IStorageLocation } from '../storage-locations/entities.ts';
import { findAvailableLocation } from '../storage-locations/locations.ts';
import {
  CHILD_KINDS,
  createOrganization,
  isWithin,
  KIND_LABELS,
  type NewOrganization,
  newOrganizationSchema,
} from './organizations.ts';
import { cancelRemoval, requestRemoval } from './removal.ts';

/** An account strictly under `current` that the principal may reach; otherwise a 404. */
export async function findPortalAccount(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  id: string,
): Promise<IOrganization> {
  const org = await accessibleOrganization(em, principal, id).catch(() => null);
  if (!org || org.id === current.id || !isWithin(org, current)) throw new NotFoundError('There is no such account.');
  return org;
}

/** The organization or one of its reachable descendants; otherwise a 404. For filters. */
export async function findWithin(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  id: string,
): Promise<IOrganization> {
  const org = await accessibleOrganization(em, principal, id).catch(() => null);
  if (!org || !isWithin(org, current)) throw new NotFoundError('There is no such account.');
  return org;
}

/**
 * The organization or one below it in the principal's portal, including a customer that removed
 * its partner's access (its row and usage figures stay the partner's); otherwise a 404.
 */
export async function findHeldWithin(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  id: string,
): Promise<IOrganization> {
  const org = typeof id === 'string' && id.length <= 36 ? await em.findOne(Organization, { id }) : null;
  if (!org || !holdsInPortal(principal, org) || !isWithin(org, current)) {
    throw new NotFoundError('There is no such account.');
  }
  return org;
}

export type NewAccountInput = NewOrganization & {
  /** Email of the account's first administrator, invited by mail; empty: none. */
  adminEmail?: string | undefined;
  /** Where the account's backups go (a location the portal may use); empty: the portal's default. */
  storageLocationId?: string | undefined;
};

export interface AddedAccount {
  account: IOrganization;
  admin: IUser | null;
  /** Set when the account was created but its administrator could not be invited. */
  inviteFailure?: string;
}

async function emailTaken(em: EntityManager, email: string): Promise<boolean> {
  return (await em.count(User, { $or: [{ email }, { pendingEmail: email }] })) > 0;
}

/** Checks every field at once, so the form shows all its messages together. */
async function validateNewAccount(
  em: EntityManager,
  principal: Principal,
  parent: IOrganization,
  input: NewAccountInput,
): Promise<{ adminEmail: string | null; location: IStorageLocation | null }> {
  const errors: FieldErrors = {};
  const parsed = newOrganizationSchema.safeParse(input);
  if (!parsed.success) Object.assign(errors, fieldErrorsFrom(parsed.error.issues));
  const kind = input.kind as OrganizationKind;
  if (Object.hasOwn(KIND_LABELS, kind) && !CHILD_KINDS[parent.kind].includes(kind)) {
    errors.kind = `${parent.name} cannot hold a ${KIND_LABELS[kind].toLowerCase()}.`;
  }
  let adminEmail: string | null = null;
  if (input.adminEmail?.trim()) {
    const email = userInputSchema.shape.email.safeParse(input.adminEmail);
    if (!email.success) errors.adminEmail = email.error.issues[0]?.message ?? 'Enter a valid email address.';
    else if (!principal.isAdministrator) errors.adminEmail = 'Only administrators can add an administrator.';
    // One held out of reach is not reported: the invitation is answered as any other (inviteUser).
    else if ((await emailTaken(em, email.data)) && !(await heldOutOfReach(em, principal, email.data))) {
      errors.adminEmail = 'A user with this email address already exists.';
    } else adminEmail = email.data;
  }
  let location: IStorageLocation | null = null;
  if (input.storageLocationId) {
    location = await findAvailableLocation(em, parent, input.storageLocationId).catch(() => null);
    if (!location) errors.storageLocationId = `Choose a storage location available to ${parent.name}.`;
  }
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  return { adminEmail, location };
}

export async function addAccount(
  ctx: UserServiceContext,
  principal: Principal,
  parent: IOrganization,
  input: NewAccountInput,
  actor: AuditActor,
): Promise<AddedAccount> {
  const { adminEmail, location } = await validateNewAccount(ctx.em, principal, parent, input);
  const account = await createOrganization(ctx.em, parent, input);
  // The chosen location (or the portal's current default) becomes the account's own, so a later
  // change of the portal's default does not move it.
  const storage = location ?? (await defaultForNewAccounts(ctx.em, parent)).location;
  await setOrganizationLocation(ctx.em, account, storage.id, null);
  await recordAudit(ctx.em, {
    organization: parent,
    activity: 'Account added',
    account: account.name,
    description: `Added the ${KIND_LABELS[account.kind].toLowerCase()} ${account.name} (storage: ${storage.name})`,
    actor,
  });
  if (!adminEmail) return { account, admin: null };
  try {
    const admin = await inviteUser(ctx, account, { email: adminEmail, role: 'administrator' }, principal);
    await recordAudit(ctx.em, {
      organization: account,
      activity: 'User added',
      account: admin.email,
      description: `Invited ${admin.email} as the first administrator of ${account.name}`,
      actor,
    });
    return { account, admin };
  } catch (err) {
    // Only a race (the address taken meanwhile) gets here: the account stays, without its admin.
    if (!(err instanceof AppError)) throw err;
    return { account, admin: null, inviteFailure: err.fields?.email ?? err.message };
  }
}

/** "Account accessed" in the log of the opened account and of the portal it was opened from. */
export async function recordAccountOpened(
  em: EntityManager,
  portal: IOrganization,
  account: IOrganization,
  actor: AuditActor,
): Promise<void> {
  await recordAudit(em, {
    organization: account,
    activity: 'Account accessed',
    account: account.name,
    description: `Opened ${account.name} from the portal of ${portal.name}`,
    actor,
  });
  await recordAudit(em, {
    organization: portal,
    activity: 'Account accessed',
    account: account.name,
    description: `Opened ${account.name}`,
    actor,
  });
}

/** Leaving an opened account for one's own organization is recorded in that organization's log. */
export async function recordAccountLeft(
  em: EntityManager,
  left: IOrganization,
  home: IOrganization,
  actor: AuditActor,
): Promise<void> {
  await recordAudit(em, {
    organization: home,
    activity: 'Account accessed',
    account: home.name,
    description: `Returned to ${home.name} from ${left.name}`,
    actor,
  });
}

/**
 * Starts the removal grace period of an account under `portal`. Recorded in the portal's log,
 * which outlives the account. Returns when the account will be purged.
 */
export async function removeAccount(
  em: EntityManager,
  portal: IOrganization,
  account: IOrganization,
  approved: boolean,
  actor: AuditActor,
  now: Date,
): Promise<Date> {
  const alreadyPending = account.status === 'removal_pending';
  const purgeAfter = await requestRemoval(em, account, approved, now);
  if (!alreadyPending) {
    await recordAudit(em, {
      organization: portal,
      activity: 'Account removal requested',
      account: account.name,
      description: `Requested the removal of ${account.name}; it will be purged after ${purgeAfter.toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      actor,
    });
  }
  return purgeAfter;
}

export async function restoreAccount(
  em: EntityManager,
  portal: IOrganization,
  account: IOrganization,
  actor: AuditActor,
): Promise<void> {
  if (account.status !== 'removal_pending') {
    throw new AppError('not_being_removed', `${account.name} is not being removed.`, 409);
  }
  await cancelRemoval(em, account);
  await recordAudit(em, {
    organization: portal,
    activity: 'Account restored',
    account: account.name,
    description: `Cancelled the removal of ${account.name}`,
    actor,
  });
}
