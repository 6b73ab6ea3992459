// The steps of signing in after the password (see identity/sign-in-steps.ts): a two-factor
// code, two-factor enrolment when the organization enforces it, a new password when the old
// one has expired. Each page opens only for a session at its own stage; finishing a step
// gives the session a new token and the next stage, until it is a full ('active') session.
import { type Context, Hono } from 'hono';
import { recordAudit } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
import { clientIp } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { STAGE_PAGES, safeNext, sessionPolicy } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { writeSessionCookie } from '../http/session-cookie.ts';
import type { IOrganization, ISession, IUser, SessionStage } from '../identity/entities.ts';
import { replaceExpiredPassword } from '../identity/password-change.ts';
import { checkSecondFactor } from '../identity/second-factor-login.ts';
import { endUserSessions, rotateSession } from '../identity/session-service.ts';
import { stageAfterSecondFactor } from '../identity/sign-in-steps.ts';
import {
  confirmEnrolment,
  groupedSecret,
  otpauthUri,
  pendingEnrolment,
  qrCodeSvg,
  twoFactorEnabled,
} from '../identity/two-factor.ts';
import { formFields } from './forms.ts';
import {
  actorFor,
  announceTwoFactorChange,
  mailSecurityChange,
  newPasswordFeedback,
  recoveryCodesDownload,
} from './security-events.ts';

/** The session when it is at this stage of signing in, else undefined. */
function sessionAt(c: Context<AppEnv>, stage: SessionStage): ISession | undefined {
  const session = c.get('session');
  return session?.stage === stage ? session : undefined;
}

function withNext(path: string, next: string): string {
  return next === '/' ? path : `${path}?next=${encodeURIComponent(next)}`;
}

/** The link between the code form and the recovery-code form. */
function switchHref(mode: 'code' | 'recovery', next: string): string {
  const query = new URLSearchParams();
  if (mode === 'code') query.set('mode', 'recovery');
  if (next !== '/') query.set('next', next);
  const text = query.toString();
  return text ? `/login/two-factor?${text}` : '/login/two-factor';
}

function retryMessage(seconds: number): string {
  const minutes = Math.max(1, Math.ceil(seconds / 60));
  return `Too many wrong codes. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`;
}

export function signInStepRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  /**
   * Moves the session on to the stage after this step, with a new token in the cookie; returns
   * where the browser goes next. A session that becomes active is audited as the sign-in.
   */
  async function finishStep(
    c: Context<AppEnv>,
    session: ISession,
    next: string,
    how: string,
  ): Promise<{ target: string; session: ISession }> {
    const user = session.user as IUser;
    const stage = session.stage === 'new_password' ? 'active' : stageAfterSecondFactor(user, deps.now());
    const rotated = await rotateSession(c.get('em'), session, { stage }, sessionPolicy(deps), deps.now());
    await writeSessionCookie(c, deps, rotated.token, rotated.session.expiresAt);
    c.get('log').info({ userId: user.id, stage }, 'sign-in step completed');
    if (stage !== 'active') {
      return {
        target: withNext(STAGE_PAGES[stage as Exclude<SessionStage, 'active'>], next),
        session: rotated.session,
      };
    }
    await recordAudit(c.get('em'), {
      organization: user.organization as IOrganization,
      activity: 'Sign-in',
      account: user.email,
      description: `Signed in ${how} from ${clientIp(c, deps.config) ?? 'an unknown address'}`,
      actor: actorFor(c, deps, user),
    });
    return { target: next, session: rotated.session };
  }

  // ---- A code from the app, or a recovery code ----------------------------------------

  const codePage = (
    c: Context<AppEnv>,
    next: string,
    mode: 'code' | 'recovery',
    status: 200 | 401 | 422 | 429 = 200,
    failure?: string,
    errors: Record<string, string> = {},
  ) =>
    renderPage(
      c,
      deps,
      'pages/login-two-factor.njk',
      {
        title: 'Two-factor authentication',
        next,
        mode,
        failure,
        errors,
        values: {},
        focus: 'code',
        switchHref: switchHref(mode, next),
      },
      status,
    );

  app.get('/login/two-factor', (c) => {
    if (!sessionAt(c, 'second_factor')) return c.redirect('/login', 303);
    return codePage(c, safeNext(c.req.query('next')), c.req.query('mode') === 'recovery' ? 'recovery' : 'code');
  });

  app.post('/login/two-factor', async (c) => {
    const session = sessionAt(c, 'second_factor');
    if (!session) return c.redirect('/login', 303);
    const form = await formFields(c);
    const next = safeNext(form.next);
    const method = form.method === 'recovery_code' ? 'recovery_code' : 'code';
    const mode = method === 'code' ? 'code' : 'recovery';
    const code = (form.code ?? '').trim();
    if (!code) {
      return codePage(c, next, mode, 422, undefined, {
        code: method === 'code' ? 'Enter the 6-digit code from your app.' : 'Enter one of your recovery codes.',
      });
    }
    const user = session.user as IUser;
    const ip = clientIp(c, deps.config);
    const outcome = await checkSecondFactor(c.get('em'), user, deps.credentials, { code, method }, ip, deps.now());
    if (outcome.kind === 'throttled' || outcome.kind === 'failed') {
      c.get('log').info({ userId: user.id, outcome: outcome.kind }, 'two-factor code refused');
      await recordAudit(c.get('em'), {
        organization: user.organization as IOrganization,
        activity: 'Sign-in',
        status: 'failed',
        account: user.email,
        description: `Sign-in failed (${outcome.kind === 'throttled' ? 'too many wrong codes' : method === 'code' ? 'wrong two-factor code' : 'wrong recovery code'}) from ${ip ?? 'an unknown address'}`,
        actor: actorFor(c, deps, user),
      });
      if (outcome.kind === 'throttled') {
        c.header('Retry-After', String(outcome.retryAfterSeconds));
        return codePage(c, next, mode, 429, retryMessage(outcome.retryAfterSeconds));
      }
      return codePage(
        c,
        next,
        mode,
        401,
        method === 'code'
          ? 'That code is not right. Enter the code your app shows now.'
          : 'That recovery code is not right, or it has been used already.',
      );
    }
    if (outcome.method === 'recovery_code') {
      await announceTwoFactorChange(
        c,
        deps,
        user,
        `Recovery code used to sign in; ${outcome.recoveryCodesLeft} left`,
        'recovery_code_used',
        {
          recoveryCodesLeft: outcome.recoveryCodesLeft,
        },
      );
    }
    const { target } = await finishStep(
      c,
      session,
      next,
      outcome.method === 'code' ? 'with a two-factor code' : 'with a recovery code',
    );
    return c.redirect(target, 303);
  });

  // ---- Enrolment required by the organization -------------------------------------------

  async function enrolPage(
    c: Context<AppEnv>,
    user: IUser,
    next: string,
    status: 200 | 422 = 200,
    errors: Record<string, string> = {},
  ): Promise<Response> {
    const secret = await pendingEnrolment(c.get('em'), user, deps.credentials);
    return renderPage(
      c,
      deps,
      'pages/login-two-factor-setup.njk',
      {
        title: 'Set up two-factor authentication',
        next,
        enrolment: {
          action: '/login/two-factor/setup',
          qrSvg: await qrCodeSvg(otpauthUri(secret, user.email)),
          secret: groupedSecret(secret),
          email: user.email,
        },
        organizationName: (user.organization as IOrganization).name,
        errors,
        values: {},
        focus: 'code',
      },
      status,
    );
  }

  // Enrolled meanwhile (in another browser): this sign-in starts over and asks for a code.
  const enrolling = (c: Context<AppEnv>) => {
    const session = sessionAt(c, 'enrol_second_factor');
    return session && !twoFactorEnabled(session.user as IUser) ? session : undefined;
  };

  app.get('/login/two-factor/setup', async (c) => {
    const session = enrolling(c);
    if (!session) return c.redirect('/login', 303);
    return enrolPage(c, session.user as IUser, safeNext(c.req.query('next')));
  });

  app.post('/login/two-factor/setup', async (c) => {
    const session = enrolling(c);
    if (!session) return c.redirect('/login', 303);
    const form = await formFields(c);
    const next = safeNext(form.next);
    const user = session.user as IUser;
    let codes: string[];
    try {
      codes = await confirmEnrolment(c.get('em'), user, deps.credentials, form.code ?? '', deps.now());
    } catch (err) {
      if (err instanceof ValidationError) return enrolPage(c, user, next, 422, err.fields ?? {});
      throw err;
    }
    await announceTwoFactorChange(
      c,
      deps,
      user,
      'Two-factor authentication turned on at sign-in (required by the organization)',
      'two_factor_enabled',
    );
    const { target } = await finishStep(c, session, next, 'after setting up two-factor authentication');
    return renderPage(c, deps, 'pages/login-recovery-codes.njk', {
      title: 'Save your recovery codes',
      codes,
      download: recoveryCodesDownload(user.email, codes),
      continueHref: target,
    });
  });

  // ---- New password when the old one has expired ----------------------------------------

  const passwordPage = (
    c: Context<AppEnv>,
    user: IUser,
    next: string,
    status: 200 | 422 = 200,
    errors: Record<string, string> = {},
  ) => {
    const days = (user.organization as IOrganization).passwordExpiryDays;
    return renderPage(
      c,
      deps,
      'pages/login-new-password.njk',
      {
        title: 'Choose a new password',
        next,
        days,
        errors,
        values: {},
        focus: errors.confirmPassword && !errors.newPassword ? 'confirmPassword' : 'newPassword',
      },
      status,
    );
  };

  app.get('/login/new-password', (c) => {
    const session = sessionAt(c, 'new_password');
    if (!session) return c.redirect('/login', 303);
    return passwordPage(c, session.user as IUser, safeNext(c.req.query('next')));
  });

  app.post('/login/new-password/strength', async (c) => {
    const session = sessionAt(c, 'new_password');
    if (!session) return c.body(null, 403);
    const form = await formFields(c);
    return newPasswordFeedback(c, deps, session.user as IUser, form.newPassword ?? '');
  });

  app.post('/login/new-password', async (c) => {
    const session = sessionAt(c, 'new_password');
    if (!session) return c.redirect('/login', 303);
    const form = await formFields(c);
    const next = safeNext(form.next);
    const user = session.user as IUser;
    try {
      await replaceExpiredPassword(c.get('em'), user, form, deps.now());
    } catch (err) {
      if (err instanceof ValidationError) return passwordPage(c, user, next, 422, err.fields ?? {});
      throw err;
    }
    await recordAudit(c.get('em'), {
      organization: user.organization as IOrganization,
      activity: 'Password changed',
      account: user.email,
      description: 'Expired password replaced at sign-in',
      actor: actorFor(c, deps, user),
    });
    await mailSecurityChange(c, deps, user, 'password_changed');
    const finished = await finishStep(c, session, next, 'with a new password');
    // Anyone else still holding a session of this user knew only the old password.
    const ended = await endUserSessions(c.get('em'), user.id, finished.session);
    c.get('log').info({ userId: user.id, endedSessions: ended }, 'expired password replaced');
    return c.redirect(finished.target, 303);
  });

  return app;
}
