// GET /accounts/search: the options of an account picker (views/partials/account-picker.njk) as
// an htmx fragment — the organization worked in and the accounts under it the caller may reach,
// matching the typed text, at most ACCOUNT_SEARCH_LIMIT of them.
import { Hono } from 'hono';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requireUser } from '../http/middleware.ts';
import { searchAccounts } from '../tenancy/account-search.ts';

export function accountPickerRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/accounts/search', requireUser(deps));
  app.get('/accounts/search', async (c) => {
    const text = c.req.query('account_search') ?? c.req.query('q') ?? '';
    // grant: check-boxes to add to a user's or key's accessible accounts (views/partials/grant-fields.njk).
    const grant = c.req.query('mode') === 'grant';
    const result = await searchAccounts(c.get('em'), principalOf(c), organizationOf(c), text, { onlyBelow: grant });
    return renderFragment(c, deps.views, 'partials/account-options.njk', { ...result, text, grant });
  });
  return app;
}
