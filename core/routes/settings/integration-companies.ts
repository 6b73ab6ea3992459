// Settings › Integrations › a PSA integration › an account's company: searches the PSA's
// companies (its own list, through the integration's credentials) and stores the one chosen for
// the account, or removes the mapping. Mounted inside the integrations router (its "Manage
// integrations" check applies); the account must be one the integration covers.
import { type Context, Hono } from 'hono';
import { NotFoundError, ValidationError } from '../../errors.ts';
import { auditActorOf } from '../../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../../http/env.ts';
import { redirectWithFlash } from '../../http/flash.ts';
import { organizationOf } from '../../http/middleware.ts';
import { renderPage } from '../../http/page.ts';
import { IntegrationSendError } from '../../integrations/contract.ts';
import { IntegrationCompany } from '../../integrations/entities.ts';
import { findIntegration, integrationSecret } from '../../integrations/integrations.ts';
import { integrationKind } from '../../integrations/kinds.ts';
import type { PsaCompany } from '../../integrations/psa.ts';
import { coveredAccount, mapCompany, psaClientOf, unmapCompany } from '../../integrations/psa-companies.ts';
import { formFields } from '../forms.ts';

const BASE = '/settings/integrations';

export function integrationCompanyRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  const context = async (c: Context<AppEnv>) => {
    const org = organizationOf(c);
    const i = await findIntegration(c.get('em'), org, c.req.param('id') ?? '');
    const kind = integrationKind(i.kind);
    if (!kind?.psa) throw new NotFoundError('This integration has no company mapping.');
    const account = await coveredAccount(c.get('em'), org, c.req.param('accountId') ?? '');
    return { org, i, kind, account: { id: account.id, name: account.name } };
  };

  app.get(`${BASE}/:id/companies/:accountId`, async (c) => {
    const { org, i, kind, account } = await context(c);
    const q = (c.req.query('q') ?? '').trim().slice(0, 100);
    const mapped = await c.get('em').findOne(IntegrationCompany, { integration: i.id, account: account.id });
    let companies: PsaCompany[] = [];
    let searchError: string | null = null;
    try {
      const client = psaClientOf(i, {
        integrationId: i.id,
        organizationId: org.id,
        settings: i.settings,
        secret: integrationSecret(deps.credentials, i),
        allowPrivate: deps.config.webhooksAllowPrivate,
        em: c.get('em'),
        now: deps.now(),
      });
      companies = await client.companies(q);
    } catch (err) {
      if (!(err instanceof IntegrationSendError)) throw err;
      searchError = err.message;
    }
    return renderPage(c, deps, 'pages/settings/integration-company.njk', {
      title: `${kind.label} company of ${account.name}`,
      integration: { id: i.id, label: kind.label },
      account,
      current: mapped ? { id: mapped.companyId, name: mapped.companyName } : null,
      q,
      companies,
      searchError,
    });
  });

  app.post(`${BASE}/:id/companies/:accountId`, async (c) => {
    const { org, i, kind, account } = await context(c);
    const fields = await formFields(c);
    try {
      await mapCompany(
        c.get('em'),
        org,
        i,
        account.id,
        { id: fields.companyId ?? '', name: fields.companyName ?? '' },
        auditActorOf(c, deps),
        deps.now(),
      );
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return redirectWithFlash(
        c,
        deps,
        `${BASE}/${i.id}/companies/${account.id}`,
        Object.values(err.fields ?? {})[0] ?? err.message,
        'failure',
      );
    }
    return redirectWithFlash(
      c,
      deps,
      `${BASE}/${i.id}#companies`,
      `${account.name}: tickets go to ${fields.companyName || fields.companyId} in ${kind.label}.`,
    );
  });

  app.post(`${BASE}/:id/companies/:accountId/delete`, async (c) => {
    const { org, i, account } = await context(c);
    await unmapCompany(c.get('em'), org, i, account.id, auditActorOf(c, deps));
    return redirectWithFlash(c, deps, `${BASE}/${i.id}#companies`, `${account.name}: company mapping removed.`);
  });

  return app;
}
