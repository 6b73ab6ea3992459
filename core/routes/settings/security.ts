// Settings › Security. Every signed-in user manages their own password and two-factor
// authentication here; users with "Manage security" also set the policies of the organization
// they act on (enforce two-factor, password expiration). Each change is audited, and a change
// to a user's own credentials is mailed to them.
import { type Context, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { accessibleOrganization, hasPermission } from '../../access/principal.ts';
import { recordAudit } from '../../audit/audit-service.ts';
import { ConflictError, ValidationError } from '../../errors.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf, requirePermission, sessionPolicy } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { writeSessionCookie } from '../../http/session-cookie.ts';
import { TooManyAttemptsError } from '../../identity/current-password.ts';
import { type IOrganization, type IUser, Session } from '../../identity/entities.ts';
import { changePassword } from '../../identity/password-change.ts';
import { PASSWORD_EXPIRY_MAX_DAYS, updateSecurityPolicy } from '../../identity/security-policy.ts';
import { endUserSessions, rotateSession } from '../../identity/session-service.ts';
import { listProviders, PRESET_LABELS } from '../../identity/sso/providers.ts';
import { signInMethodStates } from '../../identity/sso/sign-in-policy.ts';
import {
  confirmEnrolment,
  disableTwoFactor,
  groupedSecret,
  otpauthUri,
  pendingEnrolment,
  qrCodeSvg,
  recoveryCodesLeft,
  regenerateRecoveryCodes,
  twoFactorEnabled,
} from '../../identity/two-factor.ts';
import { formFields } from '../forms.ts';
import {
  actorFor,
  announceTwoFactorChange,
  mailSecurityChange,
  newPasswordFeedback,
  recoveryCodesDownload,
} from '../security-events.ts';

type FormState = { values?: Record<string, string>; errors?: Record<string, string> };

interface SecurityPageState {
  notice?: string | undefined;
  failure?: string | undefined;
  password?: FormState;
  disable?: FormState;
  regenerate?: FormState;
  policies?: FormState;
  focus?: string;
}

const NOTICES = {
  password: 'Your password has been changed. Your other sessions have been signed out.',
  sessions: 'You are signed out everywhere else.',
  'two-factor-off': 'Two-factor authentication is off.',
  policies: 'The security policies have been saved.',
  'policies-unchanged': 'Nothing was changed.',
} as const;

/** Field errors of a service, renamed to this page's field names (ids are unique per page). */
function renamed(fields: Record<string, string> | undefined, names: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, message] of Object.entries(fields ?? {})) out[names[key] ?? key] = message;
  return out;
}

function userOf(c: Context<AppEnv>): IUser {
  const user = principalOf(c).user;
  if (!user) throw new ConflictError('not_a_user', 'Only a signed-in user has security settings.');
  return user;
}

/** A short browser name for the sessions list (the full user agent is noise to people). */
function browserName(userAgent: string | null | undefined): string {
  if (!userAgent) return 'Unknown browser';
  const match = /(Edg|OPR|Firefox|Chrome|Safari)\//.exec(userAgent);
  const name = match
    ? (({ Edg: 'Edge', OPR: 'Opera' } as Record<string, string>)[match[1] as string] ?? match[1])
    : 'Other';
  const os = /Windows|Mac OS X|Android|iPhone|iPad|Linux/.exec(userAgent)?.[0]?.replace('Mac OS X', 'macOS');
  return os ? `${name} on ${os}` : (name as string);
}

export function securitySettingsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  async function securityPage(
    c: Context<AppEnv>,
    state: SecurityPageState = {},
    status: ContentfulStatusCode = 200,
  ): Promise<Response> {
    const user = userOf(c);
    const principal = principalOf(c);
    const org = organizationOf(c);
    const home = user.organization as IOrganization;
    const enabled = twoFactorEnabled(user);
    const expiryDays = home.passwordExpiryDays ?? null;
    const changed = user.passwordChangedAt ?? user.createdAt;
    return renderPage(
      c,
      deps,
      'pages/settings-security.njk',
      {
        title: 'Security',
        notice: state.notice,
        failure: state.failure,
        focus: state.focus,
        passwordForm: { values: {}, errors: {}, ...state.password },
        disableForm: { values: {}, errors: {}, ...state.disable },
        regenerateForm: { values: {}, errors: {}, ...state.regenerate },
        policiesForm: { values: {}, errors: {}, ...state.policies },
        password: {
          changedAt: user.passwordChangedAt ?? null,
          expiresAt: expiryDays ? new Date(changed.getTime() + expiryDays * 86_400_000) : null,
        },
        twoFactor: {
          enabled,
          since: user.totpEnabledAt ?? null,
          recoveryCodesLeft: enabled ? await recoveryCodesLeft(c.get('em'), user) : 0,
          required: home.enforceTwoFactor,
        },
        sessions: (
          await c
            .get('em')
            .find(
              Session,
              { user: user.id, stage: 'active', expiresAt: { $gt: deps.now() } },
              { orderBy: { lastSeenAt: 'desc' }, limit: 50 },
            )
        ).map((s) => ({
          current: s.id === c.get('session')?.id,
          since: s.createdAt,
          lastSeen: s.lastSeenAt,
          ip: s.ip ?? 'unknown',
          browser: browserName(s.userAgent),
        })),
        policies: hasPermission(principal, 'manage_security')
          ? {
              organizationId: org.id,
              organizationName: org.name,
              enforceTwoFactor: org.enforceTwoFactor,
              passwordExpiryDays: org.passwordExpiryDays ?? null,
              maxDays: PASSWORD_EXPIRY_MAX_DAYS,
              signInMethods: signInMethodStates(org, await listProviders(c.get('em'), org), PRESET_LABELS),
            }
          : null,
      },
      status,
    );
  }

  app.get('/settings/security', (c) => securityPage(c, {}));

  // ---- Sessions: sign out everywhere else -------------------------------------------------

  app.post('/settings/security/sessions/end-others', async (c) => {
    const user = userOf(c);
    const ended = await endUserSessions(c.get('em'), user.id, c.get('session'));
    await recordAudit(c.get('em'), {
      organization: user.organization as IOrganization,
      activity: 'Sign-out',
      account: user.email,
      description: `Signed out of ${ended} other session${ended === 1 ? '' : 's'} from Settings › Security`,
      actor: actorFor(c, deps, user),
    });
    return redirectWithFlash(c, deps, '/settings/security', NOTICES.sessions);
  });

  // ---- Password -----------------------------------------------------------------------

  app.post('/settings/security/password', async (c) => {
    const user = userOf(c);
    const form = await formFields(c);
    try {
      await changePassword(c.get('em'), user, form, deps.now());
    } catch (err) {
      if (err instanceof ValidationError) {
        const errors = err.fields ?? {};
        const focus = ['currentPassword', 'newPassword', 'confirmPassword'].find((name) => errors[name]);
        return securityPage(c, { password: { errors }, ...(focus ? { focus } : {}) }, 422);
      }
      if (err instanceof TooManyAttemptsError) {
        c.header('Retry-After', String(err.retryAfterSeconds));
        return securityPage(c, { failure: err.message }, 429);
      }
      throw err;
    }
    // A new token for this browser, and every other session of the user ends.
    const session = c.get('session');
    if (session) {
      const rotated = await rotateSession(c.get('em'), session, {}, sessionPolicy(deps), deps.now());
      await writeSessionCookie(c, deps, rotated.token, rotated.session.expiresAt);
      await endUserSessions(c.get('em'), user.id, rotated.session);
    }
    await recordAudit(c.get('em'), {
      organization: user.organization as IOrganization,
      activity: 'Password changed',
      account: user.email,
      description: 'Password changed in Settings › Security; other sessions signed out',
      actor: actorFor(c, deps, user),
    });
    await mailSecurityChange(c, deps, user, 'password_changed');
    c.get('log').info({ userId: user.id }, 'password changed');
    return redirectWithFlash(c, deps, '/settings/security', NOTICES.password);
  });

  app.post('/settings/security/password/strength', async (c) => {
    const form = await formFields(c);
    return newPasswordFeedback(c, deps, userOf(c), form.newPassword ?? '');
  });

  // ---- Two-factor: enrol ----------------------------------------------------------------

  async function enrolPage(c: Context<AppEnv>, status: 200 | 422 = 200, errors: Record<string, string> = {}) {
    const user = userOf(c);
    const secret = await pendingEnrolment(c.get('em'), user, deps.credentials);
    return renderPage(
      c,
      deps,
      'pages/settings-two-factor.njk',
      {
        title: 'Set up two-factor authentication',
        enrolment: {
          action: '/settings/security/two-factor',
          qrSvg: await qrCodeSvg(otpauthUri(secret, user.email)),
          secret: groupedSecret(secret),
          email: user.email,
        },
        errors,
        values: {},
        focus: 'code',
      },
      status,
    );
  }

  app.get('/settings/security/two-factor', async (c) => {
    if (twoFactorEnabled(userOf(c))) return c.redirect('/settings/security', 303);
    return enrolPage(c);
  });

  app.post('/settings/security/two-factor', async (c) => {
    const user = userOf(c);
    if (twoFactorEnabled(user)) return c.redirect('/settings/security', 303);
    const form = await formFields(c);
    let codes: string[];
    try {
      codes = await confirmEnrolment(c.get('em'), user, deps.credentials, form.code ?? '', deps.now());
    } catch (err) {
      if (err instanceof ValidationError) return enrolPage(c, 422, err.fields ?? {});
      throw err;
    }
    await announceTwoFactorChange(c, deps, user, 'Two-factor authentication turned on', 'two_factor_enabled');
    return renderPage(c, deps, 'pages/settings-recovery-codes.njk', {
      title: 'Save your recovery codes',
      heading: 'Two-factor authentication is on',
      codes,
      download: recoveryCodesDownload(user.email, codes),
    });
  });

  // ---- Two-factor: turn off, new recovery codes ------------------------------------------

  app.post('/settings/security/two-factor/disable', async (c) => {
    const user = userOf(c);
    if (!twoFactorEnabled(user)) return c.redirect('/settings/security', 303);
    const form = await formFields(c);
    try {
      await disableTwoFactor(c.get('em'), user, form.disablePassword ?? '', deps.now());
    } catch (err) {
      if (err instanceof ValidationError) {
        return securityPage(
          c,
          { disable: { errors: renamed(err.fields, { password: 'disablePassword' }) }, focus: 'disablePassword' },
          422,
        );
      }
      if (err instanceof TooManyAttemptsError) {
        c.header('Retry-After', String(err.retryAfterSeconds));
        return securityPage(c, { failure: err.message }, 429);
      }
      throw err;
    }
    await announceTwoFactorChange(c, deps, user, 'Two-factor authentication turned off', 'two_factor_disabled');
    return redirectWithFlash(c, deps, '/settings/security', NOTICES['two-factor-off']);
  });

  app.post('/settings/security/two-factor/recovery-codes', async (c) => {
    const user = userOf(c);
    if (!twoFactorEnabled(user)) return c.redirect('/settings/security', 303);
    const form = await formFields(c);
    let codes: string[];
    try {
      codes = await regenerateRecoveryCodes(
        c.get('em'),
        user,
        deps.credentials,
        { code: form.regenerateCode, password: form.regeneratePassword },
        deps.now(),
      );
    } catch (err) {
      if (err instanceof ValidationError) {
        const errors = renamed(err.fields, { code: 'regenerateCode', password: 'regeneratePassword' });
        return securityPage(c, { regenerate: { errors }, focus: Object.keys(errors)[0] ?? 'regenerateCode' }, 422);
      }
      if (err instanceof TooManyAttemptsError) {
        c.header('Retry-After', String(err.retryAfterSeconds));
        return securityPage(c, { failure: err.message }, 429);
      }
      throw err;
    }
    await announceTwoFactorChange(
      c,
      deps,
      user,
      'Recovery codes regenerated; the previous ones no longer work',
      'recovery_codes_regenerated',
    );
    return renderPage(c, deps, 'pages/settings-recovery-codes.njk', {
      title: 'Save your recovery codes',
      heading: 'New recovery codes',
      codes,
      download: recoveryCodesDownload(user.email, codes),
    });
  });

  // ---- Organization policies -------------------------------------------------------------

  app.post('/settings/security/policies', requirePermission('manage_security'), async (c) => {
    const principal = principalOf(c);
    const form = await formFields(c);
    // The form names the organization it was shown for: outside the caller's reach it does not
    // exist (404); another reachable account (opened in another tab since) is a conflict.
    const target = await accessibleOrganization(c.get('em'), principal, form.organizationId ?? '');
    const org = organizationOf(c);
    if (target.id !== org.id) {
      throw new ConflictError(
        'organization_changed',
        'This form was for another account than the one you are working in now. Reload the page and try again.',
      );
    }
    let changes: string[];
    try {
      changes = await updateSecurityPolicy(c.get('em'), org, {
        enforceTwoFactor: form.enforceTwoFactor === 'on',
        passwordExpiry: form.passwordExpiry === 'days' ? 'days' : 'off',
        passwordExpiryDays: form.passwordExpiryDays,
      });
    } catch (err) {
      if (err instanceof ValidationError) {
        return securityPage(
          c,
          {
            policies: {
              values: {
                enforceTwoFactor: form.enforceTwoFactor === 'on' ? 'on' : '',
                passwordExpiry: form.passwordExpiry === 'days' ? 'days' : 'off',
                passwordExpiryDays: form.passwordExpiryDays ?? '',
              },
              errors: err.fields ?? {},
            },
            failure: 'The security policies were not saved: check the password expiration below.',
            focus: 'passwordExpiryDays',
          },
          422,
        );
      }
      throw err;
    }
    if (changes.length === 0) return redirectWithFlash(c, deps, '/settings/security', NOTICES['policies-unchanged']);
    await recordAudit(c.get('em'), {
      organization: org,
      activity: 'Security settings changed',
      account: org.name,
      description: changes.join('; '),
      actor: { ...actorFor(c, deps, userOf(c)), label: principal.label },
    });
    return redirectWithFlash(c, deps, '/settings/security', NOTICES.policies);
  });

  return app;
}
