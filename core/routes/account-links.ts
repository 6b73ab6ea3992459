// Public pages behind the links sent by mail: confirm an address (choosing a first password
// when invited), ask for a password reset, and reset. Answers never reveal whether an address
// has an account.
import { type Context, Hono } from 'hono';
import { recordAudit } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
import { clientIp } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderPage } from '../http/page.ts';
import { confirmEmail, requestPasswordReset, resetPassword } from '../identity/account-links.ts';
import type { IOrganization, IUser } from '../identity/entities.ts';
import { peekToken } from '../identity/one-time-tokens.ts';
import { mailLinkOrigin, PublicUrlMissingError } from '../system/public-url.ts';
import { formFields } from './forms.ts';

export function accountLinkRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const actorOf = (c: Context<AppEnv>, user: IUser) => ({
    label: user.email,
    id: user.id,
    ip: clientIp(c, deps.config),
    userAgent: c.req.header('user-agent'),
  });

  app.get('/confirm-email/:token', async (c) => {
    const row = await peekToken(c.get('em'), c.req.param('token'), 'confirm_email', deps.now());
    if (!row) return renderPage(c, deps, 'pages/link-expired.njk', { title: 'Link expired' }, 410);
    const user = row.user as IUser;
    return renderPage(c, deps, 'pages/confirm-email.njk', {
      title: user.status === 'pending' ? 'Activate your account' : 'Confirm your email address',
      invite: user.status === 'pending',
      email: row.email ?? user.email,
      organizationName: (user.organization as IOrganization).name,
      errors: {},
    });
  });

  app.post('/confirm-email/:token', async (c) => {
    const form = await formFields(c);
    const token = c.req.param('token');
    const row = await peekToken(c.get('em'), token, 'confirm_email', deps.now());
    if (!row) return renderPage(c, deps, 'pages/link-expired.njk', { title: 'Link expired' }, 410);
    const invite = (row.user as IUser).status === 'pending';
    try {
      const result = await confirmEmail(
        c.get('em'),
        token,
        invite ? { password: form.password ?? '', confirm: form.confirmPassword ?? '' } : null,
        deps.now(),
      );
      await recordAudit(c.get('em'), {
        organization: result.user.organization as IOrganization,
        activity: 'Email confirmed',
        account: result.user.email,
        description:
          result.kind === 'activated'
            ? `${result.user.email} confirmed their address and activated their account`
            : `Email address changed from ${result.previous} to ${result.user.email}`,
        actor: actorOf(c, result.user),
      });
      return c.redirect(`/login?${result.kind === 'activated' ? 'activated=1' : 'emailChanged=1'}`, 303);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      if (err.fields?.token) {
        return renderPage(c, deps, 'pages/link-expired.njk', { title: 'Link expired', message: err.fields.token }, 410);
      }
      return renderPage(
        c,
        deps,
        'pages/confirm-email.njk',
        {
          title: 'Activate your account',
          invite,
          email: row.email ?? (row.user as IUser).email,
          organizationName: ((row.user as IUser).organization as IOrganization).name,
          errors: err.fields ?? {},
        },
        422,
      );
    }
  });

  app.get('/forgot-password', (c) =>
    renderPage(c, deps, 'pages/forgot-password.njk', { title: 'Reset your password', values: {}, errors: {} }),
  );

  app.post('/forgot-password', async (c) => {
    const form = await formFields(c);
    const email = (form.email ?? '').trim();
    if (!email) {
      return renderPage(
        c,
        deps,
        'pages/forgot-password.njk',
        { title: 'Reset your password', values: {}, errors: { email: 'Enter your email address.' } },
        422,
      );
    }
    try {
      const linkOrigin = () => mailLinkOrigin(c.get('em'), deps.config.publicUrl);
      const user = await requestPasswordReset(c.get('em'), deps.mailer, email, linkOrigin, deps.now());
      if (user) c.get('log').info({ userId: user.id }, 'password reset requested');
    } catch (err) {
      // The same answer as when it was mailed: the page never says whether the address exists.
      if (!(err instanceof PublicUrlMissingError)) throw err;
      c.get('log').warn('no reset link mailed: set HOLDFAST_PUBLIC_URL (links in mail never use the request Host)');
    }
    return renderPage(c, deps, 'pages/forgot-password.njk', {
      title: 'Check your mail',
      sent: true,
      values: { email },
    });
  });

  app.get('/reset-password/:token', async (c) => {
    const row = await peekToken(c.get('em'), c.req.param('token'), 'reset_password', deps.now());
    if (!row) return renderPage(c, deps, 'pages/link-expired.njk', { title: 'Link expired' }, 410);
    return renderPage(c, deps, 'pages/reset-password.njk', {
      title: 'Choose a new password',
      email: (row.user as IUser).email,
      errors: {},
    });
  });

  app.post('/reset-password/:token', async (c) => {
    const form = await formFields(c);
    const token = c.req.param('token');
    const row = await peekToken(c.get('em'), token, 'reset_password', deps.now());
    if (!row) return renderPage(c, deps, 'pages/link-expired.njk', { title: 'Link expired' }, 410);
    try {
      const user = await resetPassword(c.get('em'), token, form.password ?? '', form.confirmPassword ?? '', deps.now());
      await recordAudit(c.get('em'), {
        organization: user.organization as IOrganization,
        activity: 'Password reset',
        account: user.email,
        description: 'Password reset through an emailed link; all sessions ended',
        actor: actorOf(c, user),
      });
      return c.redirect('/login?reset=done', 303);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return renderPage(
        c,
        deps,
        'pages/reset-password.njk',
        { title: 'Choose a new password', email: (row.user as IUser).email, errors: err.fields ?? {} },
        422,
      );
    }
  });

  return app;
}
