// /api/v1/organizations/{id}/users: the users of an organization. Inviting mails a
// confirmation link; the user service enforces the rules (unique email, last administrator,
// no granting beyond one's own rights, no changing one's own). Needs "Manage users".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { type IOrganization, type IUser, USER_ROLES, USER_STATUSES } from '../identity/entities.ts';
import { heldPermissions, PERMISSIONS } from '../identity/permissions.ts';
import {
  deleteUser,
  findUser,
  inviteUser,
  listUsers,
  setUserActive,
  type UserServiceContext,
  updateUser,
} from '../identity/users.ts';
import { mailLinkOrigin } from '../system/public-url.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const UserSchema = z
  .object({
    id: z.string(),
    email: z.string().openapi({ format: 'email' }),
    displayName: z.string().nullable(),
    role: z.enum(USER_ROLES),
    permissions: z.array(z.enum(PERMISSIONS)).openapi({ description: 'For custom roles; administrators hold all.' }),
    accessibleAccounts: z.enum(['all', 'selected']),
    accessibleOrganizationIds: z.array(z.string()),
    status: z.enum(USER_STATUSES),
    pendingEmail: z.string().nullable().openapi({ description: 'A changed address awaiting confirmation.' }),
    twoFactorEnabled: z.boolean(),
    createdAt: z.string().openapi({ format: 'date-time' }),
    lastLoginAt: z.string().nullable().openapi({ format: 'date-time' }),
  })
  .openapi('User');

const grantFields = {
  displayName: z.string().max(200).nullable().optional(),
  role: z.enum(USER_ROLES),
  permissions: z.array(z.enum(PERMISSIONS)).optional(),
  accessibleAccounts: z.enum(['all', 'selected']).optional(),
  accessibleOrganizationIds: z.array(z.string().max(36)).max(1000).optional(),
};

const NewUserSchema = z.object({ email: z.string().max(320), ...grantFields }).openapi('NewUser');

const UserChangesSchema = z
  .object({
    email: z.string().max(320).optional(),
    ...grantFields,
    role: grantFields.role.optional(),
    status: z
      .enum(['active', 'deactivated'])
      .optional()
      .openapi({ description: 'deactivated: kept, but cannot sign in; active: reactivates.' }),
  })
  .openapi('UserChanges');

const UserParams = OrganizationIdParams.extend({
  userId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'userId', in: 'path' } }),
});

const tags = ['Users'];
const middleware = [...guarded('manage_users'), inReach()];
const userMiddleware = [
  ...guarded('manage_users'),
  inReach((em, org, c) => findUser(em, org, c.req.param('userId') ?? '')),
];

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/users',
  tags,
  summary: 'List users',
  description: 'The users of an organization, by email.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(z.array(UserSchema), 'Users'), ...errorResponses(401, 403, 404) },
});

const inviteRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/users',
  tags,
  summary: 'Invite a user',
  description:
    'Creates a pending user and mails a confirmation link (valid 24 hours) where they choose a password. Only a role, permissions and accessible accounts the caller holds can be granted (403 otherwise).',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(NewUserSchema) },
  responses: { 201: jsonResponse(UserSchema, 'The invited user'), ...errorResponses(401, 403, 404, 422) },
});

const updateRoute = createRoute({
  method: 'patch',
  path: '/organizations/{id}/users/{userId}',
  tags,
  summary: 'Change a user',
  description:
    'Fields left out keep their value. A changed email takes effect once confirmed from the new address. The last active administrator cannot be demoted or deactivated (409). Nobody changes their own role, permissions or accessible accounts (an API key counts as its creator), and a change may add only what the caller holds (403).',
  security: SECURED,
  middleware: userMiddleware,
  request: { params: UserParams, ...jsonBody(UserChangesSchema) },
  responses: { 200: jsonResponse(UserSchema, 'The user'), ...errorResponses(401, 403, 404, 409, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/users/{userId}',
  tags,
  summary: 'Delete a user',
  description: 'The last active administrator cannot be deleted, nor can callers delete themselves (409).',
  security: SECURED,
  middleware: userMiddleware,
  request: { params: UserParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404, 409) },
});

function userJson(user: IUser): z.infer<typeof UserSchema> {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName ?? null,
    role: user.role,
    permissions: user.role === 'administrator' ? [...PERMISSIONS] : heldPermissions(user.permissions),
    accessibleAccounts: user.accessibleAccounts,
    accessibleOrganizationIds: user.accessibleOrganizationIds,
    status: user.status,
    pendingEmail: user.pendingEmail ?? null,
    twoFactorEnabled: Boolean(user.totpEnabledAt),
    createdAt: user.createdAt.toISOString(),
    lastLoginAt: user.lastLoginAt?.toISOString() ?? null,
  };
}

export function usersApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);
  const serviceContext = (c: Context<AppEnv>): UserServiceContext => ({
    em: c.get('em'),
    mailer: deps.mailer,
    now: deps.now(),
    linkOrigin: () => mailLinkOrigin(c.get('em'), deps.config.publicUrl),
  });
  const audit = (
    c: Context<AppEnv>,
    org: IOrganization,
    activity: Parameters<typeof recordAudit>[1]['activity'],
    account: string,
    description: string,
  ) => recordAudit(c.get('em'), { organization: org, activity, account, description, actor: auditActor(c, deps) });

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json((await listUsers(c.get('em'), org)).map(userJson), 200);
  });

  api.openapi(inviteRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const user = await inviteUser(serviceContext(c), org, c.req.valid('json'), principalOf(c));
    await audit(
      c,
      org,
      'User added',
      user.email,
      `${user.email} invited as ${user.role === 'administrator' ? 'an administrator' : 'a custom user'}`,
    );
    return c.json(userJson(user), 201);
  });

  api.openapi(updateRoute, async (c) => {
    const { id, userId } = c.req.valid('param');
    const org = await organization(c, id);
    const user = await findUser(c.get('em'), org, userId);
    const body = c.req.valid('json');
    const principal = principalOf(c);
    const grantsGiven =
      body.email !== undefined ||
      body.displayName !== undefined ||
      body.role !== undefined ||
      body.permissions !== undefined ||
      body.accessibleAccounts !== undefined ||
      body.accessibleOrganizationIds !== undefined;
    if (grantsGiven) {
      const changes = await updateUser(
        serviceContext(c),
        org,
        user,
        {
          email: body.email ?? user.email,
          displayName: body.displayName === undefined ? user.displayName : body.displayName,
          role: body.role ?? user.role,
          permissions: body.permissions ?? heldPermissions(user.permissions),
          accessibleAccounts: body.accessibleAccounts ?? user.accessibleAccounts,
          accessibleOrganizationIds: body.accessibleOrganizationIds ?? user.accessibleOrganizationIds,
        },
        principal,
      );
      if (changes.permissionsChanged) {
        await audit(c, org, 'Permissions changed', user.email, `Role and permissions of ${user.email} changed`);
      }
      const other = changes.fields.filter((f) => f !== 'permissions');
      if (other.length > 0) {
        const pending = changes.emailChangePending ? ` (new email ${user.pendingEmail} awaits confirmation)` : '';
        await audit(
          c,
          org,
          'Settings changed',
          user.email,
          `User ${user.email} changed: ${other.join(', ')}${pending}`,
        );
      }
    }
    if (body.status && body.status !== (user.status === 'deactivated' ? 'deactivated' : 'active')) {
      const activate = body.status === 'active';
      await setUserActive(c.get('em'), org, user, activate, principal);
      await audit(
        c,
        org,
        activate ? 'User activated' : 'User deactivated',
        user.email,
        `${user.email} ${activate ? 'activated' : 'deactivated'}`,
      );
    }
    return c.json(userJson(user), 200);
  });

  api.openapi(deleteRoute, async (c) => {
    const { id, userId } = c.req.valid('param');
    const org = await organization(c, id);
    const user = await findUser(c.get('em'), org, userId);
    const email = user.email;
    await deleteUser(c.get('em'), org, user, principalOf(c));
    await audit(c, org, 'User removed', email, `${email} deleted`);
    return c.body(null, 204);
  });

  return api;
}
