// First-run setup page. Exists only while no administrator does; afterwards it redirects
// to the login page, for the loser of a race too.
import { Hono } from 'hono';
import { ValidationError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderPage } from '../http/page.ts';
import { completeSetup, SetupAlreadyCompleteError } from '../identity/setup-service.ts';
import { formFields } from './forms.ts';

const fieldOrder = ['organizationName', 'email', 'password', 'confirmPassword'];

/** The form again, focused on the first field that needs attention. */
function setupForm(errors: Record<string, string>, values: Record<string, string>) {
  const focus = fieldOrder.find((f) => errors[f]) ?? 'organizationName';
  return { title: 'Set up Holdfast', values, errors, focus };
}

export function setupRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/setup', (c) => {
    if (deps.setupState.complete) return c.redirect('/login', 303);
    return renderPage(c, deps, 'pages/setup.njk', setupForm({}, {}));
  });

  app.post('/setup', async (c) => {
    if (deps.setupState.complete) return c.redirect('/login', 303);
    const form = await formFields(c);
    const values = { organizationName: form.organizationName ?? '', email: form.email ?? '' };
    if ((form.password ?? '') !== (form.confirmPassword ?? '')) {
      return renderPage(
        c,
        deps,
        'pages/setup.njk',
        setupForm({ confirmPassword: 'The two passwords do not match.' }, values),
        422,
      );
    }
    try {
      const { user } = await completeSetup(c.get('em'), { ...values, password: form.password ?? '' });
      deps.setupState.complete = true;
      c.get('log').info({ userId: user.id }, 'first-run setup completed');
      return c.redirect('/login?setup=done', 303);
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
