// Settings › Profile: what the signed-in user sets for themselves alone (the time zone their
// pages show dates in). Reached from the e-mail address in the top bar.
import { type Context, Hono } from 'hono';
import { getCookie } from 'hono/cookie';
import { ForbiddenError } from '../../access/errors.ts';
import { ValidationError } from '../../errors.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { renderPage } from '../../http/page.ts';
import { TIME_ZONE_COOKIE } from '../../http/time-zone.ts';
import type { IUser } from '../../identity/entities.ts';
import { isKnownTimeZone, setUserTimeZone, timeZoneChoices } from '../../identity/time-zone.ts';
import { formFields } from '../forms.ts';

export function profileRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const signedInUser = (c: Context<AppEnv>): IUser => {
    const user = c.get('user');
    if (!user) throw new ForbiddenError('Only a signed-in user has a profile.');
    return user;
  };

  const page = (c: Context<AppEnv>, value: string, errors: Record<string, string> = {}, status: 200 | 422 = 200) => {
    const user = signedInUser(c);
    const browserZone = getCookie(c, TIME_ZONE_COOKIE);
    return renderPage(
      c,
      deps,
      'pages/settings/profile.njk',
      {
        title: 'Profile',
        profile: { email: user.email, displayName: user.displayName },
        browserZone: browserZone && isKnownTimeZone(browserZone) ? browserZone : null,
        zones: timeZoneChoices(),
        values: { timeZone: value },
        errors,
      },
      status,
    );
  };

  app.get('/settings/profile', (c) => page(c, signedInUser(c).timeZone ?? ''));

  app.post('/settings/profile', async (c) => {
    const user = signedInUser(c);
    const form = await formFields(c);
    const value = form.timeZone ?? '';
    try {
      const changed = await setUserTimeZone(c.get('em'), user, value);
      const text = !changed
        ? 'Nothing changed.'
        : user.timeZone
          ? `Dates are now shown in ${user.timeZone}.`
          : "Dates are now shown in your browser's time zone.";
      return redirectWithFlash(c, deps, '/settings/profile', text);
    } catch (err) {
      if (err instanceof ValidationError) return page(c, value, err.fields ?? {}, 422);
      throw err;
    }
  });

  return app;
}
