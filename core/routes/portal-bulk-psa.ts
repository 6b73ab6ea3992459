// The Accounts list's bulk "Map to PSA company…" (docs/INTEGRATIONS.md): the ticked accounts and
// a PSA integration (the portal's own or one above it that the caller may manage) lead to the
// shared company picker, which searches the PSA's own companies; choosing one maps every ticked
// customer account to it, each audited as "Integration changed", and the list says how many.
// POST throughout: up to 500 ticked ids travel in the form, not the address.
import { type Context, Hono } from 'hono';
import { ForbiddenError } from '../access/errors.ts';
import { ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { integrationKind } from '../integrations/kinds.ts';
import { PsaUnavailableError } from '../integrations/psa-companies.ts';
import {
  findPsaIntegrationCovering,
  mapAccountsToCompany,
  mayMapCompanies,
  ownerOf,
  searchPsaCompanies,
} from '../integrations/psa-inherited.ts';
import { tickedAccounts } from '../tenancy/bulk-actions.ts';
import { formLists } from './forms.ts';
import { LIST_FIELDS, listUrl } from './portal-bulk.ts';

const BASE = '/portal/bulk/psa-company';

/** The ticked accounts named in the page's sentence before "and N more". */
const NAMED = 10;

export function portalBulkPsaRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use(BASE, requireUser(deps));
  app.use(`${BASE}/*`, requireUser(deps));
  const guards = [requirePermission('add_accounts'), requirePermission('manage_integrations')] as const;

  /** The ticked accounts and the integration (404 for either outside the portal), and the list to return to. */
  const selection = async (c: Context<AppEnv>) => {
    const em = c.get('em');
    const principal = principalOf(c);
    const current = organizationOf(c);
    const lists = await formLists(c, ['account', 'integration', 'company', 'companyId', 'companyName', ...LIST_FIELDS]);
    const back = listUrl(lists);
    const accounts = await tickedAccounts(em, principal, current, lists.account ?? []);
    const integrationId = lists.integration?.[0] ?? '';
    if (!integrationId)
      throw new ValidationError({ integration: 'Choose the PSA integration to map the accounts in.' });
    const i = await findPsaIntegrationCovering(em, current, integrationId);
    if (!mayMapCompanies(principal, i)) {
      throw new ForbiddenError(`Only ${ownerOf(i).name}’s users who manage its integrations can map its companies.`);
    }
    const carry: [string, string][] = [
      ...accounts.map((a): [string, string] => ['account', a.id]),
      ['integration', i.id],
      ...LIST_FIELDS.flatMap((name): [string, string][] => {
        const value = lists[name]?.[0];
        return value ? [[name, value.slice(0, 200)]] : [];
      }),
    ];
    return { lists, back, accounts, i, carry };
  };

  /** A refusal of the request's input: back to the list with the sentence. */
  const refused = async (c: Context<AppEnv>, err: unknown) => {
    if (!(err instanceof ValidationError || err instanceof PsaUnavailableError)) throw err;
    const lists = await formLists(c, [...LIST_FIELDS]);
    return redirectWithFlash(c, deps, listUrl(lists), Object.values(err.fields ?? {})[0] ?? err.message, 'failure');
  };

  app.post(BASE, ...guards, async (c) => {
    let chosen: Awaited<ReturnType<typeof selection>>;
    try {
      chosen = await selection(c);
    } catch (err) {
      return refused(c, err);
    }
    const { lists, back, accounts, i, carry } = chosen;
    const kind = integrationKind(i.kind);
    const label = kind?.label ?? i.kind;
    // Not `q`: that is the list's own search, carried back to it.
    const q = (lists.company?.[0] ?? '').trim().slice(0, 100);
    const found = await searchPsaCompanies(c.get('em'), deps.credentials, i, q, {
      allowPrivate: deps.config.webhooksAllowPrivate,
      now: deps.now(),
    });
    const names = accounts.map((a) => a.name);
    const target = `${names.length} ticked account${names.length === 1 ? '' : 's'}`;
    return renderPage(c, deps, 'pages/portal/bulk-psa-company.njk', {
      title: 'Map to PSA company',
      integration: { label, target: kind ? kind.target(i.settings as never) : '', owner: ownerOf(i).name },
      named: names.slice(0, NAMED),
      more: Math.max(0, names.length - NAMED),
      count: names.length,
      back,
      picker: {
        label,
        q,
        search: { action: BASE, method: 'post', name: 'company', carry },
        choose: { action: `${BASE}/map`, carry, target },
        currentId: null,
        companies: found.companies,
        error: found.error,
      },
    });
  });

  app.post(`${BASE}/map`, ...guards, async (c) => {
    try {
      const { lists, back, accounts, i } = await selection(c);
      const outcome = await mapAccountsToCompany(
        c.get('em'),
        principalOf(c),
        i,
        accounts,
        lists.companyId?.[0] ?? '',
        { cipher: deps.credentials, allowPrivate: deps.config.webhooksAllowPrivate },
        auditActorOf(c, deps),
        deps.now(),
      );
      const { company } = outcome;
      const n = outcome.done.length;
      const label = integrationKind(i.kind)?.label ?? i.kind;
      const parts = [
        n === 0
          ? 'No account changed.'
          : `Mapped ${n} account${n === 1 ? '' : 's'} to ${company.name} (id ${company.id}) in ${label}.`,
        ...outcome.skipped.map((s) => `${s.name} left as it was: ${s.reason}.`),
      ];
      return redirectWithFlash(c, deps, back, parts.join(' '), n === 0 ? 'failure' : 'notice');
    } catch (err) {
      return refused(c, err);
    }
  });

  return app;
}
