// Settings › Users: the users of the organization being worked in. Guarded by "manage users";
// a user id from anywhere else is a 404.
import { type Context, Hono } from 'hono';
import { ForbiddenError } from '../../access/errors.ts';
import type { Principal } from '../../access/principal.ts';
import { recordAudit } from '../../audit/audit-service.ts';
import { AppError, ValidationError } from '../../errors.ts';
import { clientIp } from '../../http/client.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf, requirePermission } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import type { IUser } from '../../identity/entities.ts';
import { BACKUP_OPERATOR_PERMISSIONS, heldPermissions, PERMISSION_LABELS } from '../../identity/permissions.ts';
import { endUserSessions } from '../../identity/session-service.ts';
import type { ISsoProvider } from '../../identity/sso/entities.ts';
import { credentialTypesOf, linkedIdentitiesOf, removeLinkedIdentity } from '../../identity/sso/linked-identities.ts';
import { PRESET_LABELS } from '../../identity/sso/providers.ts';
import { resetTwoFactor } from '../../identity/two-factor.ts';
import {
  deleteUser,
  findUser,
  inviteUser,
  listUsers,
  resendConfirmation,
  setUserActive,
  type UserInput,
  type UserServiceContext,
  updateUser,
} from '../../identity/users.ts';
import { mailLinkOrigin } from '../../system/public-url.ts';
import { formFields, formLists } from '../forms.ts';
import { grantFieldsContext, grantFromForm } from '../grant-form.ts';

function inputFrom(form: Record<string, string>, lists: Record<string, string[]>): UserInput {
  return {
    email: form.email ?? '',
    displayName: form.displayName ?? '',
    ...(grantFromForm(form, lists) as Pick<
      UserInput,
      'role' | 'permissions' | 'accessibleAccounts' | 'accessibleOrganizationIds'
    >),
  };
}

const OWN_GRANT_LOCKED =
  'You cannot change your own role, permissions or accessible accounts. Ask another administrator.';

function actorFor(c: Context<AppEnv>, deps: AppDeps, principal: Principal) {
  return {
    label: principal.label,
    id: principal.user?.id ?? null,
    ip: clientIp(c, deps.config),
    userAgent: c.req.header('user-agent'),
  };
}

export function userRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/settings/users', requirePermission('manage_users'));
  app.use('/settings/users/*', requirePermission('manage_users'));

  const ctxOf = (c: Context<AppEnv>): UserServiceContext => ({
    em: c.get('em'),
    mailer: deps.mailer,
    now: deps.now(),
    linkOrigin: () => mailLinkOrigin(c.get('em'), deps.config.publicUrl),
  });

  /** The users list's rows, with how each user signs in (E-mail, Microsoft, Google, Okta, SAML). */
  const userRows = async (c: Context<AppEnv>, users: IUser[]) => {
    const credentials = await credentialTypesOf(c.get('em'), users);
    return users.map((u) => ({
      id: u.id,
      email: u.email,
      displayName: u.displayName,
      role: u.role === 'administrator' ? 'Administrator' : 'Custom',
      status: u.status,
      twoFactor: Boolean(u.totpEnabledAt),
      pendingEmail: u.pendingEmail,
      lastLoginAt: u.lastLoginAt ?? null,
      isSelf: u.id === principalOf(c).user?.id,
      credentials: credentials.get(u.id) ?? [],
    }));
  };

  const formPage = async (
    c: Context<AppEnv>,
    user: IUser | null,
    values: Record<string, unknown>,
    errors: Record<string, string>,
    status: 200 | 403 | 409 | 422 = 200,
    failure?: string,
  ) => {
    const isSelf = user !== null && user.id === principalOf(c).user?.id;
    return renderPage(
      c,
      deps,
      'pages/settings/user-form.njk',
      {
        title: user ? `Edit ${user.email}` : 'Add user',
        editing: user
          ? {
              id: user.id,
              email: user.email,
              status: user.status,
              pendingEmail: user.pendingEmail,
              isSelf,
              identities: (await linkedIdentitiesOf(c.get('em'), user)).map((link) => {
                const provider = link.provider as ISsoProvider;
                return {
                  id: link.id,
                  provider: provider.name,
                  type: PRESET_LABELS[provider.preset] ?? provider.preset,
                  email: link.email ?? link.subject,
                  lastSignInAt: link.lastSignInAt ?? null,
                };
              }),
            }
          : null,
        values,
        errors,
        failure,
        ...(await grantFieldsContext(c, principalOf(c), organizationOf(c), user?.accessibleOrganizationIds)),
        locked: isSelf ? OWN_GRANT_LOCKED : undefined,
        focus: Object.keys(errors)[0] ?? 'email',
      },
      status,
    );
  };

  app.get('/settings/users', async (c) => {
    const org = organizationOf(c);
    const users = await listUsers(c.get('em'), org);
    return renderPage(c, deps, 'pages/settings/users.njk', {
      title: 'Users',
      users: await userRows(c, users),
    });
  });

  app.get('/settings/users/new', (c) => {
    // A backup operator's permissions, as far as the inviter may grant them.
    const principal = principalOf(c);
    const permissions = BACKUP_OPERATOR_PERMISSIONS.filter(
      (p) => principal.isAdministrator || principal.permissions.has(p),
    );
    return formPage(c, null, { role: 'custom', accessibleAccounts: 'all', permissions, accounts: [] }, {});
  });

  app.post('/settings/users/new', async (c) => {
    const form = await formFields(c);
    const input = inputFrom(form, await formLists(c, ['permissions', 'accounts']));
    const principal = principalOf(c);
    const org = organizationOf(c);
    try {
      const user = await inviteUser(ctxOf(c), org, input, principal);
      await recordAudit(c.get('em'), {
        organization: org,
        activity: 'User added',
        account: user.email,
        description: `Invited ${user.email} as ${user.role === 'administrator' ? 'an administrator' : `a custom user (${user.permissions.length} permissions)`}`,
        actor: actorFor(c, deps, principal),
      });
      return redirectWithFlash(
        c,
        deps,
        '/settings/users',
        deps.config.smtpUrl
          ? `Invitation sent to ${user.email}. The link works for 24 hours.`
          : `Invitation waiting in the Outbox (no mail server is configured): pass the link in Settings › Outbox to ${user.email}. It works for 24 hours.`,
      );
    } catch (err) {
      if (err instanceof ValidationError)
        return formPage(c, null, { ...input, accounts: input.accessibleOrganizationIds }, err.fields ?? {}, 422);
      if (err instanceof AppError && err.status === 403) {
        return formPage(c, null, { ...input, accounts: input.accessibleOrganizationIds }, {}, 403, err.message);
      }
      throw err;
    }
  });

  app.get('/settings/users/:id', async (c) => {
    const user = await findUser(c.get('em'), organizationOf(c), c.req.param('id'));
    return formPage(
      c,
      user,
      {
        email: user.pendingEmail ?? user.email,
        displayName: user.displayName ?? '',
        role: user.role,
        permissions: user.permissions,
        accessibleAccounts: user.accessibleAccounts,
        accounts: user.accessibleOrganizationIds,
      },
      {},
    );
  });

  app.post('/settings/users/:id', async (c) => {
    const org = organizationOf(c);
    const principal = principalOf(c);
    const user = await findUser(c.get('em'), org, c.req.param('id'));
    const form = await formFields(c);
    let input = inputFrom(form, await formLists(c, ['permissions', 'accounts']));
    if (form.role === undefined && user.id === principal.user?.id) {
      // One's own grant is shown disabled, so the browser does not send it: it stays as it is.
      input = {
        ...input,
        role: user.role,
        permissions: user.permissions,
        accessibleAccounts: user.accessibleAccounts,
        accessibleOrganizationIds: user.accessibleOrganizationIds,
      };
    }
    try {
      const changes = await updateUser(ctxOf(c), org, user, input, principal);
      const actor = actorFor(c, deps, principal);
      if (changes.permissionsChanged) {
        await recordAudit(c.get('em'), {
          organization: org,
          activity: 'Permissions changed',
          account: user.email,
          description: `Role ${
            user.role === 'administrator'
              ? 'Administrator'
              : `Custom: ${
                  heldPermissions(user.permissions)
                    .map((p) => PERMISSION_LABELS[p].label)
                    .join(', ') || 'no permissions'
                }`
          }; accounts: ${user.accessibleAccounts === 'all' ? 'all' : `${user.accessibleOrganizationIds.length} selected`}`,
          actor,
        });
      }
      const other = changes.fields.filter((f) => f !== 'permissions');
      if (other.length > 0) {
        await recordAudit(c.get('em'), {
          organization: org,
          activity: 'Settings changed',
          account: user.email,
          description: `User ${other.join(' and ')} changed${changes.emailChangePending ? `; confirmation sent to ${user.pendingEmail}` : ''}`,
          actor,
        });
      }
      const notice = changes.emailChangePending
        ? `Saved. ${user.pendingEmail} must confirm the new address before it is used.`
        : changes.fields.length
          ? `Saved changes to ${user.email}.`
          : 'Nothing changed.';
      return redirectWithFlash(c, deps, '/settings/users', notice);
    } catch (err) {
      const values = { ...input, accounts: input.accessibleOrganizationIds };
      if (err instanceof ValidationError) return formPage(c, user, values, err.fields ?? {}, 422);
      if (err instanceof AppError && (err.status === 403 || err.status === 409)) {
        return formPage(c, user, values, {}, err.status, err.message);
      }
      throw err;
    }
  });

  app.post('/settings/users/:id/identities/:identityId/delete', async (c) => {
    const org = organizationOf(c);
    const user = await findUser(c.get('em'), org, c.req.param('id'));
    const link = await removeLinkedIdentity(c.get('em'), user, c.req.param('identityId'));
    const provider = link.provider as ISsoProvider;
    const principal = principalOf(c);
    await recordAudit(c.get('em'), {
      organization: org,
      activity: 'External identity removed',
      account: user.email,
      description: `${provider.name} identity ${link.email ?? link.subject} unlinked from ${user.email}; its sessions ended`,
      actor: {
        label: principal.label,
        id: principal.user?.id ?? null,
        ip: clientIp(c, deps.config),
        userAgent: c.req.header('user-agent'),
      },
    });
    return redirectWithFlash(
      c,
      deps,
      `/settings/users/${user.id}`,
      `The ${provider.name} identity is no longer linked.`,
    );
  });

  const statusAction = (path: string, run: (c: Context<AppEnv>, user: IUser) => Promise<string>) =>
    app.post(`/settings/users/:id/${path}`, async (c) => {
      const user = await findUser(c.get('em'), organizationOf(c), c.req.param('id'));
      try {
        const notice = await run(c, user);
        return redirectWithFlash(c, deps, '/settings/users', notice);
      } catch (err) {
        if (err instanceof AppError && err.status < 500) {
          const users = await listUsers(c.get('em'), organizationOf(c));
          return renderPage(
            c,
            deps,
            'pages/settings/users.njk',
            {
              title: 'Users',
              users: await userRows(c, users),
              failure: err.message,
            },
            err.status as 403 | 409,
          );
        }
        throw err;
      }
    });

  statusAction('deactivate', async (c, user) => {
    const principal = principalOf(c);
    await setUserActive(c.get('em'), organizationOf(c), user, false, principal);
    await recordAudit(c.get('em'), {
      organization: organizationOf(c),
      activity: 'User deactivated',
      account: user.email,
      description: `${user.email} deactivated; their sessions were ended`,
      actor: actorFor(c, deps, principal),
    });
    return `${user.email} is deactivated and signed out.`;
  });

  statusAction('activate', async (c, user) => {
    const principal = principalOf(c);
    await setUserActive(c.get('em'), organizationOf(c), user, true, principal);
    await recordAudit(c.get('em'), {
      organization: organizationOf(c),
      activity: 'User activated',
      account: user.email,
      description: `${user.email} activated again`,
      actor: actorFor(c, deps, principal),
    });
    return `${user.email} can sign in again.`;
  });

  statusAction('delete', async (c, user) => {
    const principal = principalOf(c);
    const email = user.email;
    await deleteUser(c.get('em'), organizationOf(c), user, principal);
    await recordAudit(c.get('em'), {
      organization: organizationOf(c),
      activity: 'User removed',
      account: email,
      description: `${email} deleted`,
      actor: actorFor(c, deps, principal),
    });
    return `${email} is deleted.`;
  });

  statusAction('reset-two-factor', async (c, user) => {
    const principal = principalOf(c);
    if (principal.user?.id === user.id) {
      throw new AppError('self_reset', 'Turn off your own two-factor authentication under Settings › Security.', 409);
    }
    if (!principal.isAdministrator)
      throw new ForbiddenError('Only administrators can reset two-factor authentication.');
    await resetTwoFactor(c.get('em'), user);
    await endUserSessions(c.get('em'), user.id);
    await recordAudit(c.get('em'), {
      organization: organizationOf(c),
      activity: 'Two-factor changed',
      account: user.email,
      description: `Two-factor authentication of ${user.email} reset by an administrator; their sessions were ended`,
      actor: actorFor(c, deps, principal),
    });
    await deps.mailer.send(c.get('em'), {
      to: user.email,
      subject: 'Your Holdfast two-factor authentication was reset',
      text: `An administrator (${principal.label}) turned off two-factor authentication for ${user.email}.\n\nSign in with your password and set it up again under Settings › Security. If you did not ask for this, contact your administrator.`,
    });
    return `Two-factor authentication of ${user.email} is reset.`;
  });

  statusAction('resend', async (c, user) => {
    const to = await resendConfirmation(ctxOf(c), organizationOf(c), user);
    return deps.config.smtpUrl
      ? `A new confirmation link was sent to ${to}.`
      : `A new confirmation link for ${to} is waiting in the Outbox (no mail server is configured).`;
  });

  return app;
}
