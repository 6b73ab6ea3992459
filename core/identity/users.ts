// Users of an organization: invite, edit, deactivate, delete, and the links sent by mail.
// Rules that hold whatever the caller:
// - an email address names one user on the whole appliance;
// - an organization always keeps an active administrator (the last one cannot be demoted,
//   deactivated or deleted), and nobody deactivates or deletes themselves;
// - nobody grants a role, permissions or accounts they do not hold themselves (a Custom user
//   makes no administrators; someone limited to some accounts grants only those), and nobody
//   changes their own role, permissions or accounts (an API key counts as its creator), so
//   managing users is not a way to gain rights or reach;
// - an invitation to an address held by a user out of the inviter's reach is answered as any
//   other (nothing is stored; the holder gets a notice), so inviting cannot probe other tenants.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { ForbiddenError } from '../access/errors.ts';
import { beyondHolder, type Grant, validateReach } from '../access/grants.ts';
import { accountableUser, canReach, type Principal } from '../access/principal.ts';
import { AppError, fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import type { Mailer } from '../mail/mailer.ts';
import { type IOrganization, type IUser, USER_ROLES, User } from './entities.ts';
import { issueToken } from './one-time-tokens.ts';
import { heldPermissions, keepPlanned, PERMISSIONS, type Permission } from './permissions.ts';
import { endUserSessions } from './session-service.ts';

export const userInputSchema = z.object({
  email: z
    .string({ error: 'Enter an email address.' })
    .trim()
    .toLowerCase()
    .pipe(z.email({ error: 'Enter a valid email address, like jane@example.com.' }).max(320)),
  displayName: z
    .string()
    .trim()
    .max(200, { error: 'Use at most 200 characters.' })
    .transform((v) => (v === '' ? null : v))
    .nullable()
    .optional(),
  role: z.enum(USER_ROLES, { error: 'Choose a role.' }),
  permissions: z.array(z.enum(PERMISSIONS, { error: 'Unknown permission.' })).default([]),
  accessibleAccounts: z
    .enum(['all', 'selected'], { error: 'Choose which accounts the user can reach.' })
    .default('all'),
  accessibleOrganizationIds: z.array(z.string().max(36)).max(1000).default([]),
});
export type UserInput = z.input<typeof userInputSchema>;

export interface UserServiceContext {
  em: EntityManager;
  mailer: Mailer;
  now: Date;
  /** Base URL for links in mail, e.g. https://backup.example.com (never from request headers: system/public-url.ts). */
  linkOrigin: () => Promise<string>;
}

export async function listUsers(em: EntityManager, org: IOrganization): Promise<IUser[]> {
  return em.find(User, { organization: org.id }, { orderBy: { email: 'asc' } });
}

/** The user with this id in this organization; anything else is a 404. */
export async function findUser(em: EntityManager, org: IOrganization, id: string): Promise<IUser> {
  const user =
    typeof id === 'string' && id.length <= 36
      ? await em.findOne(User, { id, organization: org.id }, { populate: ['organization'] })
      : null;
  if (!user) throw new NotFoundError('There is no such user.');
  return user;
}

function parseInput(input: UserInput) {
  const parsed = userInputSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  const data = parsed.data;
  return {
    ...data,
    displayName: data.displayName ?? null,
    permissions: data.role === 'administrator' ? [] : [...new Set(data.permissions)],
    accessibleOrganizationIds: data.accessibleAccounts === 'all' ? [] : [...new Set(data.accessibleOrganizationIds)],
  };
}

type ParsedInput = ReturnType<typeof parseInput>;

/** Refuses (403) what the actor does not hold; with `already`, only what the change adds counts. */
async function checkGrant(
  em: EntityManager,
  org: IOrganization,
  input: ParsedInput,
  actor: Principal,
  already?: Grant,
): Promise<void> {
  await validateReach(em, org, input);
  const beyond = await beyondHolder(em, actor, org, input, already);
  if (beyond.length === 0) return;
  if (beyond.includes('the Administrator role'))
    throw new ForbiddenError('Only administrators can make administrators.');
  throw new ForbiddenError(`You cannot grant what you do not hold: ${beyond.join(', ')}.`);
}

function grantOf(user: IUser): Grant {
  return {
    role: user.role,
    permissions: user.permissions,
    accessibleAccounts: user.accessibleAccounts,
    accessibleOrganizationIds: user.accessibleOrganizationIds,
  };
}

async function ensureEmailFree(em: EntityManager, email: string, exceptUserId?: string): Promise<void> {
  const taken = await em.count(User, {
    $or: [{ email }, { pendingEmail: email }],
    ...(exceptUserId ? { id: { $ne: exceptUserId } } : {}),
  });
  if (taken > 0) throw new ValidationError({ email: 'A user with this email address already exists.' });
}

/** True when users hold (or are confirming) this address, none of them within the actor's reach. */
export async function heldOutOfReach(em: EntityManager, actor: Principal, email: string): Promise<boolean> {
  const holders = await em.find(User, { $or: [{ email }, { pendingEmail: email }] }, { populate: ['organization'] });
  return holders.length > 0 && !holders.some((holder) => canReach(actor, holder.organization as IOrganization));
}

async function otherActiveAdministrators(em: EntityManager, org: IOrganization, user: IUser): Promise<number> {
  return em.count(User, { organization: org.id, role: 'administrator', status: 'active', id: { $ne: user.id } });
}

async function guardLastAdministrator(em: EntityManager, org: IOrganization, user: IUser, action: string) {
  if (
    user.role === 'administrator' &&
    user.status === 'active' &&
    (await otherActiveAdministrators(em, org, user)) === 0
  ) {
    throw new AppError(
      'last_administrator',
      `${user.email} is the only active administrator of ${org.name} and cannot be ${action}. Make another user an administrator first.`,
      409,
    );
  }
}

function guardSelf(user: IUser, actor: Principal, action: string) {
  if (actor.user?.id === user.id) throw new AppError('self_lockout', `You cannot ${action} yourself.`, 409);
}

async function sendConfirmation(
  ctx: UserServiceContext,
  origin: string,
  user: IUser,
  org: IOrganization,
  email: string,
  isInvite: boolean,
) {
  const token = await issueToken(ctx.em, user, 'confirm_email', ctx.now, email);
  const link = `${origin}/confirm-email/${token}`;
  await ctx.mailer.send(ctx.em, {
    to: email,
    subject: isInvite
      ? `You have been invited to ${org.name} on Holdfast`
      : 'Confirm your new email address for Holdfast',
    text: isInvite
      ? `You have been added as a user of ${org.name} on Holdfast.\n\nConfirm your email address and choose a password here (the link works once, for 24 hours):\n${link}\n\nIf you did not expect this, ignore this message.`
      : `Confirm that ${email} is your new address for Holdfast (the link works once, for 24 hours):\n${link}\n\nUntil you confirm, your old address stays in use.`,
  });
}

export async function inviteUser(
  ctx: UserServiceContext,
  org: IOrganization,
  input: UserInput,
  actor: Principal,
): Promise<IUser> {
  const data = parseInput(input);
  await checkGrant(ctx.em, org, data, actor);
  // Known before anything is written: without it the invitation could not be mailed.
  const origin = await ctx.linkOrigin();
  const fields = {
    organization: org,
    email: data.email,
    displayName: data.displayName,
    passwordHash: null,
    passwordChangedAt: null,
    role: data.role,
    permissions: data.permissions,
    accessibleAccounts: data.accessibleAccounts,
    accessibleOrganizationIds: data.accessibleOrganizationIds,
    status: 'pending' as const,
    emailConfirmedAt: null,
    lastLoginAt: null,
  };
  if (await heldOutOfReach(ctx.em, actor, data.email)) {
    // The reply must not tell that the address has an account in another tenant: the
    // caller gets what a new invitation returns (a user that is not stored), the address's
    // holder a notice without a link.
    await ctx.mailer.send(ctx.em, {
      to: data.email,
      subject: `You have been invited to ${org.name} on Holdfast`,
      text: `Someone invited ${data.email} to ${org.name} on Holdfast, but this address already belongs to a Holdfast user, so nothing was changed.\n\nIf you expected this invitation, ask them to invite another address.`,
    });
    const unsaved = { ...fields, id: randomUUID(), createdAt: ctx.now, updatedAt: ctx.now, pendingEmail: null };
    return ctx.em.create(User, unsaved, { persist: false });
  }
  await ensureEmailFree(ctx.em, data.email);
  const user = ctx.em.create(User, fields);
  await ctx.em.flush();
  await sendConfirmation(ctx, origin, user, org, user.email, true);
  return user;
}

export interface UserChanges {
  /** Names of changed fields. */
  fields: string[];
  permissionsChanged: boolean;
  emailChangePending: boolean;
}

export async function updateUser(
  ctx: UserServiceContext,
  org: IOrganization,
  user: IUser,
  input: UserInput,
  actor: Principal,
): Promise<UserChanges> {
  const data = parseInput(input);
  const origin = data.email !== user.email ? await ctx.linkOrigin() : '';
  if (!actor.isAdministrator && user.role === 'administrator') {
    throw new ForbiddenError('Only administrators can change an administrator.');
  }
  if (user.role === 'administrator' && data.role !== 'administrator') {
    await guardLastAdministrator(ctx.em, org, user, 'demoted');
  }
  const before = JSON.stringify([
    user.role,
    heldPermissions(user.permissions).sort(),
    user.accessibleAccounts,
    [...user.accessibleOrganizationIds].sort(),
  ]);
  const after = JSON.stringify([
    data.role,
    [...data.permissions].sort(),
    data.accessibleAccounts,
    [...data.accessibleOrganizationIds].sort(),
  ]);
  const fields: string[] = [];
  let permissionsChanged = false;
  if (before !== after && accountableUser(actor)?.id === user.id) {
    throw new ForbiddenError(
      'You cannot change your own role, permissions or accessible accounts. Ask another administrator.',
    );
  }
  await checkGrant(ctx.em, org, data, actor, grantOf(user));
  if (user.displayName !== data.displayName) {
    user.displayName = data.displayName;
    fields.push('name');
  }
  if (before !== after) {
    user.role = data.role;
    user.permissions = keepPlanned(data.permissions as Permission[], user.permissions);
    user.accessibleAccounts = data.accessibleAccounts;
    user.accessibleOrganizationIds = data.accessibleOrganizationIds;
    permissionsChanged = true;
    fields.push('permissions');
  }
  let emailChangePending = false;
  if (data.email !== user.email) {
    await ensureEmailFree(ctx.em, data.email, user.id);
    if (user.status === 'pending') {
      // Not confirmed yet: the invitation simply goes to the corrected address.
      user.email = data.email;
      await ctx.em.flush();
      await sendConfirmation(ctx, origin, user, org, user.email, true);
    } else {
      user.pendingEmail = data.email;
      await ctx.em.flush();
      await sendConfirmation(ctx, origin, user, org, data.email, false);
      emailChangePending = true;
    }
    fields.push('email');
  }
  await ctx.em.flush();
  return { fields, permissionsChanged, emailChangePending };
}

export async function setUserActive(
  em: EntityManager,
  org: IOrganization,
  user: IUser,
  active: boolean,
  actor: Principal,
): Promise<void> {
  if (!active) {
    guardSelf(user, actor, 'deactivate');
    if (!actor.isAdministrator && user.role === 'administrator') {
      throw new ForbiddenError('Only administrators can deactivate an administrator.');
    }
    await guardLastAdministrator(em, org, user, 'deactivated');
    if (user.status === 'deactivated') return;
    user.status = 'deactivated';
    await em.flush();
    await endUserSessions(em, user.id);
    return;
  }
  if (user.status !== 'deactivated') return;
  user.status = user.passwordHash ? 'active' : 'pending';
  await em.flush();
}

export async function deleteUser(em: EntityManager, org: IOrganization, user: IUser, actor: Principal): Promise<void> {
  guardSelf(user, actor, 'delete');
  if (!actor.isAdministrator && user.role === 'administrator') {
    throw new ForbiddenError('Only administrators can delete an administrator.');
  }
  await guardLastAdministrator(em, org, user, 'deleted');
  await endUserSessions(em, user.id);
  em.remove(user);
  await em.flush();
}

export async function resendConfirmation(ctx: UserServiceContext, org: IOrganization, user: IUser): Promise<string> {
  if (user.status === 'pending') {
    await sendConfirmation(ctx, await ctx.linkOrigin(), user, org, user.email, true);
    return user.email;
  }
  if (user.pendingEmail) {
    await sendConfirmation(ctx, await ctx.linkOrigin(), user, org, user.pendingEmail, false);
    return user.pendingEmail;
  }
  throw new AppError('nothing_to_confirm', `${user.email} has no unconfirmed email address.`, 409);
}

export async function userCount(em: EntityManager, org: IOrganization): Promise<number> {
  return em.count(User, { organization: org.id });
}
