// Sign in and sign out with a password. The full identity system (throttling, 2FA, resets)
// builds on these routes.
import { Hono } from 'hono';
import { clientIp } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { safeNext } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { clearSessionCookie, writeSessionCookie } from '../http/session-cookie.ts';
import { authenticate } from '../identity/login-service.ts';
import { createSession, endSession } from '../identity/session-service.ts';
import { formFields } from './forms.ts';

export function authRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/login', (c) => {
    if (c.get('user')) return c.redirect(safeNext(c.req.query('next')), 303);
    return renderPage(c, deps, 'pages/login.njk', {
      title: 'Sign in',
      next: safeNext(c.req.query('next')),
      notice:
        c.req.query('setup') === 'done'
          ? 'Your administrator account is ready. Sign in to continue.'
          : c.req.query('signedOut') === '1'
            ? 'You have signed out.'
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
    if (!email) errors.email = 'Enter your email address.';
    if (!form.password) errors.password = 'Enter your password.';
    const user = Object.keys(errors).length === 0 ? await authenticate(c.get('em'), email, form.password ?? '') : null;
    if (!user) {
      c.get('log').info({ email: email.slice(0, 320) }, 'login failed');
      return renderPage(
        c,
        deps,
        'pages/login.njk',
        {
          title: 'Sign in',
          next,
          values: { email },
          errors,
          focus: email ? 'password' : 'email',
          failure: Object.keys(errors).length === 0 ? 'The email address or password is incorrect.' : undefined,
        },
        Object.keys(errors).length === 0 ? 401 : 422,
      );
    }
    const { token, expiresAt } = await createSession(c.get('em'), user, deps.config.sessionMaxAgeHours, {
      ip: clientIp(c, deps.config),
      userAgent: c.req.header('user-agent'),
    });
    await writeSessionCookie(c, deps, token, expiresAt);
    c.get('log').info({ userId: user.id }, 'login succeeded');
    return c.redirect(next, 303);
  });

  app.post('/logout', async (c) => {
    const token = c.get('sessionToken');
    if (token) await endSession(c.get('em'), token);
    clearSessionCookie(c);
    return c.redirect('/login?signedOut=1', 303);
  });

  return app;
}
