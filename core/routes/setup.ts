// First-run setup page. Exists only while no administrator does; afterwards it redirects
// to the login page, for the loser of a race too. Without HOLDFAST_PUBLIC_URL it also asks for
// the public address links in mail use, suggesting the one the browser used.
import { Hono } from 'hono';
import { ValidationError } from '../errors.ts';
import { clientIp, requestOrigin } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderPage } from '../http/page.ts';
import { User } from '../identity/entities.ts';
import { completeSetup, SetupAlreadyCompleteError } from '../identity/setup-service.ts';
import { ensureConfiguredDefaultStorage } from '../storage-locations/configured-default.ts';
import { PUBLIC_URL_HINT } from '../system/public-url.ts';
import { beginSession } from './auth.ts';
import { formFields } from './forms.ts';

const fieldOrder = ['organizationName', 'email', 'password', 'confirmPassword', 'publicUrl'];

export function setupRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  // Without HOLDFAST_PUBLIC_URL the page asks where users reach the appliance (links in mail).
  const asksPublicUrl = !deps.config.publicUrl;

  /** The form again, focused on the first field that needs attention. */
  const setupForm = (errors: Record<string, string>, values: Record<string, string>) => {
    const focus = fieldOrder.find((f) => errors[f]) ?? 'organizationName';
    return { title: 'Set up Holdfast', values, errors, focus, asksPublicUrl };
  };

  app.get('/setup', (c) => {
    if (deps.setupState.complete) return c.redirect('/login', 303);
    // A suggestion for the operator to confirm: the address their browser used for this page.
    return renderPage(c, deps, 'pages/setup.njk', setupForm({}, { publicUrl: requestOrigin(c, deps.config) }));
  });

  app.post('/setup', async (c) => {
    if (deps.setupState.complete) return c.redirect('/login', 303);
    const form = await formFields(c);
    const values = {
      organizationName: form.organizationName ?? '',
      email: form.email ?? '',
      // A form without the field (a script) pins the origin setup was completed from.
      publicUrl: asksPublicUrl ? (form.publicUrl ?? requestOrigin(c, deps.config)) : '',
    };
    const errors: Record<string, string> = {};
    if ((form.password ?? '') !== (form.confirmPassword ?? ''))
      errors.confirmPassword = 'The two passwords do not match.';
    if (asksPublicUrl && !values.publicUrl.trim()) errors.publicUrl = PUBLIC_URL_HINT;
    if (Object.keys(errors).length > 0) return renderPage(c, deps, 'pages/setup.njk', setupForm(errors, values), 422);
    try {
      const { user } = await completeSetup(c.get('em'), { ...values, password: form.password ?? '' });
      deps.setupState.complete = true;
      // The installation's own default storage (docker compose's MinIO), now that the root exists.
      await ensureConfiguredDefaultStorage({ ...deps, em: c.get('em'), log: c.get('log'), now: deps.now() });
      c.get('log').info({ userId: user.id }, 'first-run setup completed');
      // The password was just chosen here: sign the administrator in as a sign-in would.
      const administrator = await c.get('em').findOneOrFail(User, user.id, { populate: ['organization'] });
      administrator.lastLoginAt = deps.now();
      return beginSession(c, deps, administrator, '/', {
        label: administrator.email,
        ip: clientIp(c, deps.config),
        userAgent: c.req.header('user-agent'),
      });
    } catch (err) {
      if (err instanceof SetupAlreadyCompleteError) {
        deps.setupState.complete = true;
        return c.redirect('/login', 303);
      }
      if (err instanceof ValidationError) {
        return renderPage(c, deps, 'pages/setup.njk', setupForm(err.fields ?? {}, values), 422);
      }
      throw err;
    }
  });

  return app;
}
