// Settings › Integrations › a PSA integration › an account's company: searches the PSA's
// companies (its own list, through the integration's credentials) and stores the one chosen for
// the account, or removes the mapping. Mounted inside the integrations router (its "Manage
// integrations" check applies). Two ways in: the integration's own page (the account must be one
// it covers), and a customer account's Settings › Integrations for a PSA integration of a
// partner or distributor above it (the account must be the one worked in, and only someone who
// may manage that owner changes it: the account's own administrators get a 403).
import { type Context, Hono } from 'hono';
import { ForbiddenError } from '../../access/errors.ts';
import { NotFoundError, ValidationError } from '../../errors.ts';
import { auditActorOf } from '../../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf, principalOf } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { IntegrationCompany } from '../../integrations/entities.ts';
import { integrationKind } from '../../integrations/kinds.ts';
import { coveredAccount, mapCompany, PsaUnavailableError, unmapCompany } from '../../integrations/psa-companies.ts';
import {
  findPsaIntegrationCovering,
  mayMapCompanies,
  ownerOf,
  searchPsaCompanies,
} from '../../integrations/psa-inherited.ts';
import { formFields } from '../forms.ts';

const BASE = '/settings/integrations';

export function integrationCompanyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const context = async (c: Context<AppEnv>) => {
    const em = c.get('em');
    const org = organizationOf(c);
    const i = await findPsaIntegrationCovering(em, org, c.req.param('id') ?? '');
    const owner = ownerOf(i);
    const kind = integrationKind(i.kind);
    if (!kind) throw new NotFoundError('This integration has no company mapping.');
    const inherited = owner.id !== org.id;
    // From below, only the account worked in; from the owner, any account it covers.
    const accountId = c.req.param('accountId') ?? '';
    if (inherited && accountId !== org.id) throw new NotFoundError('No such account.');
    const account = await coveredAccount(em, owner, accountId);
    if (inherited && !mayMapCompanies(principalOf(c), i)) {
      throw new ForbiddenError(`Only ${owner.name}’s users who manage its integrations can change this company.`);
    }
    const back = inherited ? `${BASE}#psa-companies` : `${BASE}/${i.id}#companies`;
    return { owner, i, kind, account: { id: account.id, name: account.name }, back };
  };

  app.get(`${BASE}/:id/companies/:accountId`, async (c) => {
    const { i, kind, account, back } = await context(c);
    const q = (c.req.query('q') ?? '').trim().slice(0, 100);
    const mapped = await c.get('em').findOne(IntegrationCompany, { integration: i.id, account: account.id });
    const found = await searchPsaCompanies(c.get('em'), deps.credentials, i, q, {
      allowPrivate: deps.config.webhooksAllowPrivate,
      now: deps.now(),
    });
    const action = `${BASE}/${i.id}/companies/${account.id}`;
    return renderPage(c, deps, 'pages/settings/integration-company.njk', {
      title: `${kind.label} company of ${account.name}`,
      integration: { id: i.id, label: kind.label },
      account,
      current: mapped ? { id: mapped.companyId, name: mapped.companyName } : null,
      back: { url: back, label: back.includes('#companies') ? 'Back to the integration' : 'Back to Integrations' },
      picker: {
        label: kind.label,
        q,
        search: { action, method: 'get', name: 'q', carry: [] },
        choose: { action, carry: [], target: account.name },
        currentId: mapped?.companyId ?? null,
        companies: found.companies,
        error: found.error,
      },
    });
  });

  app.post(`${BASE}/:id/companies/:accountId`, async (c) => {
    const { owner, i, kind, account, back } = await context(c);
    const fields = await formFields(c);
    let company: { id: string; name: string };
    try {
      company = await mapCompany(
        c.get('em'),
        owner,
        i,
        account.id,
        fields.companyId ?? '',
        { cipher: deps.credentials, allowPrivate: deps.config.webhooksAllowPrivate },
        auditActorOf(c, deps),
        deps.now(),
      );
    } catch (err) {
      if (!(err instanceof ValidationError || err instanceof PsaUnavailableError)) throw err;
      return redirectWithFlash(
        c,
        deps,
        `${BASE}/${i.id}/companies/${account.id}`,
        Object.values(err.fields ?? {})[0] ?? err.message,
        'failure',
      );
    }
    return redirectWithFlash(c, deps, back, `${account.name}: tickets go to ${company.name} in ${kind.label}.`);
  });

  app.post(`${BASE}/:id/companies/:accountId/delete`, async (c) => {
    const { owner, i, account, back } = await context(c);
    await unmapCompany(c.get('em'), owner, i, account.id, auditActorOf(c, deps));
    return redirectWithFlash(c, deps, back, `${account.name}: company mapping removed.`);
  });

  return app;
}
