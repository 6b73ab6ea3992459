// Sign in and sign out with a password. After the password, a session may still need a step
// (a two-factor code, two-factor enrolment, a new password): it gets a session of that stage,
// which opens only that step's page.
import { type Context, Hono } from 'hono';
import { recordAudit } from '../audit/audit-service.ts';
import { clientIp, requestOrigin } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { STAGE_PAGES, safeNext, sessionPolicy } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { clearSessionCookie, writeSessionCookie } from '../http/session-cookie.ts';
import type { IOrganization, IUser, SessionStage } from '../identity/entities.ts';
import { authenticate } from '../identity/login-service.ts';
import { createSession, endSession } from '../identity/session-service.ts';
import { stageAfterPassword } from '../identity/sign-in-steps.ts';
import { passwordSignInAllowed } from '../identity/sso/sign-in-policy.ts';
import { providerSignOutUrl } from '../identity/sso/single-logout.ts';
import { browserOf } from './browser-of.ts';
import { formFields } from './forms.ts';
import { loginRealm } from './sso.ts';

/** "10 seconds" under a minute (an account slowed by guesses from many addresses), else minutes. */
function waitText(seconds: number): string {
  if (seconds < 60) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minute${minutes === 1 ? '' : 's'}`;
}

/**
 * After a password was accepted (a sign-in, or the password just chosen at setup): a session at
 * the stage the user's organization requires (two-factor code or enrolment, a new password),
 * its cookie, the audit record, and the redirect to the next page or that stage's page.
 */
export async function beginSession(
  c: Context<AppEnv>,
  deps: AppDeps,
  user: IUser,
  next: string,
  actor: { label: string; ip: string | undefined; userAgent: string | undefined },
): Promise<Response> {
  const { ip, userAgent } = actor;
  const stage: SessionStage = stageAfterPassword(user, deps.now());
  const { token, session } = await createSession(
    c.get('em'),
    user,
    sessionPolicy(deps),
    { ip, userAgent },
    stage,
    deps.now(),
  );
  await writeSessionCookie(c, deps, token, session.expiresAt);
  await recordAudit(c.get('em'), {
    organization: user.organization as IOrganization,
    activity: 'Sign-in',
    account: user.email,
    description:
      stage === 'active'
        ? `Signed in with ${browserOf(userAgent)} from ${ip ?? 'an unknown address'}`
        : `Password accepted with ${browserOf(userAgent)} from ${ip ?? 'an unknown address'}; ${stage === 'second_factor' ? 'two-factor code required' : stage === 'enrol_second_factor' ? 'two-factor enrolment required' : 'password expired'}`,
    actor: { ...actor, id: user.id },
  });
  c.get('log').info({ userId: user.id, stage }, 'login succeeded');
  if (stage !== 'active') {
    const target = STAGE_PAGES[stage as Exclude<SessionStage, 'active'>];
    return c.redirect(next === '/' ? target : `${target}?next=${encodeURIComponent(next)}`, 303);
  }
  return c.redirect(next, 303);
}

export function authRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/login', (c) => {
    if (c.get('user')) return c.redirect(safeNext(c.req.query('next')), 303);
    return renderPage(c, deps, 'pages/login.njk', {
      title: 'Sign in',
      // ?password=1: straight to the password (the break-glass administrator under Require SSO,
      // whose domain's discovery would send them to the identity provider).
      step: c.req.query('password') === '1' ? 'password' : 'email',
      passwordAllowed: true,
      next: safeNext(c.req.query('next')),
      notice:
        c.req.query('setup') === 'done'
          ? 'Your administrator account is ready. Sign in to continue.'
          : c.req.query('signedOut') === '1'
            ? 'You have signed out.'
            : c.req.query('reset') === 'done'
              ? 'Your password has been changed. Sign in with the new one.'
              : c.req.query('activated') === '1'
                ? 'Your account is active. Sign in with your new password.'
                : c.req.query('emailChanged') === '1'
                  ? 'Your new email address is confirmed. Sign in with it.'
                  : undefined,
      values: {},
      errors: {},
      focus: 'email',
    });
  });

  app.post('/login', async (c) => {
    const form = await formFields(c);
    const email = (form.email ?? '').trim();
    const next = safeNext(form.next);
    const errors: Record<string, string> = {};
    // The first step asks only for the e-mail: home-realm discovery picks SSO or the password.
    if (form.step === 'email') {
      if (!email) {
        errors.email = 'Enter your email address.';
        return renderPage(
          c,
          deps,
          'pages/login.njk',
          { title: 'Sign in', step: 'email', next, values: { email }, errors, focus: 'email' },
          422,
        );
      }
      const realm = await loginRealm(c.get('em'), email, next);
      // Sent on by the page itself, not a redirect: a form post may not redirect to another site (CSP form-action).
      return renderPage(c, deps, 'pages/login.njk', {
        autoContinue: realm.redirect,
        passwordAllowed: !realm.redirect,
        title: 'Sign in',
        step: 'password',
        next,
        values: { email },
        errors,
        focus: 'password',
        providers: realm.providers,
      });
    }
    if (!email) errors.email = 'Enter your email address.';
    if (!form.password) errors.password = 'Enter your password.';
    const page = async (status: 401 | 403 | 422 | 429, failure?: string, passwordAllowed = true) =>
      renderPage(
        c,
        deps,
        'pages/login.njk',
        {
          title: 'Sign in',
          step: 'password',
          next,
          values: { email },
          errors,
          focus: email ? 'password' : 'email',
          failure,
          providers: email ? (await loginRealm(c.get('em'), email, next)).providers : [],
          passwordAllowed,
        },
        status,
      );
    if (Object.keys(errors).length > 0) return page(422);

    const ip = clientIp(c, deps.config);
    const userAgent = c.req.header('user-agent');
    const actor = { label: email.toLowerCase().slice(0, 320), ip, userAgent };
    const outcome = await authenticate(c.get('em'), email, form.password ?? '', ip, deps.now());
    if (outcome.kind === 'throttled') {
      c.header('Retry-After', String(outcome.retryAfterSeconds));
      c.get('log').warn({ ip }, 'login throttled');
      return page(
        429,
        `Too many failed sign-in attempts. Try again in ${waitText(outcome.retryAfterSeconds)}, or reset your password.`,
      );
    }
    if (outcome.kind === 'failed') {
      c.get('log').info({ reason: outcome.reason }, 'login failed');
      await recordAudit(c.get('em'), {
        organization: (outcome.user?.organization as IOrganization | undefined) ?? null,
        activity: 'Sign-in',
        status: 'failed',
        account: outcome.user?.email ?? null,
        description: `Sign-in failed (${outcome.reason === 'unknown email' ? 'unknown account' : outcome.reason === 'wrong password' ? 'wrong password' : 'account not active'}) with ${browserOf(userAgent)} from ${ip ?? 'an unknown address'}`,
        actor: { ...actor, id: outcome.user?.id ?? null },
      });
      return page(401, 'The email address or password is incorrect.');
    }
    if (outcome.kind === 'address_denied') {
      await recordAudit(c.get('em'), {
        organization: outcome.user.organization as IOrganization,
        activity: 'Access denied',
        status: 'failed',
        account: outcome.user.email,
        description: `Sign-in refused: ${ip ?? 'an unknown address'} is not a trusted IP address`,
        actor: { ...actor, id: outcome.user.id },
      });
      return renderPage(c, deps, 'pages/access-denied.njk', { title: 'Access denied', ip }, 403);
    }
    if (!passwordSignInAllowed(outcome.user)) {
      const org = outcome.user.organization as IOrganization;
      await recordAudit(c.get('em'), {
        organization: org,
        activity: 'Sign-in',
        status: 'failed',
        account: outcome.user.email,
        description: `Password sign-in refused: ${org.name} requires single sign-on (with ${browserOf(userAgent)} from ${ip ?? 'an unknown address'})`,
        actor: { ...actor, id: outcome.user.id },
      });
      return page(
        403,
        `${org.name} requires single sign-on: sign in with your organization's identity provider.`,
        false,
      );
    }
    return beginSession(c, deps, outcome.user, next, actor);
  });

  app.post('/logout', async (c) => {
    const token = c.get('sessionToken');
    const session = c.get('session');
    const user = session?.user as IUser | undefined;
    // Begun through a provider with single logout (SAML): sign out there too, after here.
    const atProvider = session
      ? await providerSignOutUrl(c.get('em'), session, {
          cipher: deps.credentials,
          allowLoopback: deps.config.ssoAllowLoopback,
          baseUrl: requestOrigin(c, deps.config),
          now: deps.now(),
        })
      : null;
    if (token) await endSession(c.get('em'), token);
    clearSessionCookie(c);
    if (user) {
      await recordAudit(c.get('em'), {
        organization: user.organization as IOrganization,
        activity: 'Sign-out',
        account: user.email,
        description: atProvider ? 'Signed out, and sent to the identity provider to sign out there' : 'Signed out',
        actor: { label: user.email, id: user.id, ip: clientIp(c, deps.config), userAgent: c.req.header('user-agent') },
      });
    }
    return c.redirect(atProvider ?? '/login?signedOut=1', 303);
  });

  return app;
}
