// The accounts list's pencil (issue 20): the account's profile edited in place. With htmx the
// row is swapped for a form and back (GET …/edit, POST …/edit, GET …/row); without it the same
// form is a page of its own and saving returns to the account's details. The account is found
// as every portal route finds it: another tenant's, or a customer that removed its partner's
// access, is a 404.

import type { Context } from 'hono';
import { Hono } from 'hono';
import { recordAudit } from '../audit/audit-service.ts';
import { forecasts } from '../billing/billing-status.ts';
import { formatMoney } from '../billing/money.ts';
import { TRIAL_STATUS_LABELS, trialStatusesOf } from '../billing/trials.ts';
import { ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import type { IOrganization } from '../identity/entities.ts';
import { BACKUP_STATUS_LABELS, listAccountHealth, TASK_STATUS_LABELS } from '../tenancy/account-health.ts';
import { COUNTRIES } from '../tenancy/countries.ts';
import { CHILD_KINDS, KIND_LABELS, updateOrganization } from '../tenancy/organizations.ts';
import { findPortalAccount } from '../tenancy/portal-accounts.ts';
import { formFields } from './forms.ts';

const PROFILE_FIELDS = ['name', 'contactName', 'contactEmail', 'phone', 'address', 'country'] as const;

/** `?cols=partner`: the list the row sits in has the Accounts column (a partner list). */
function columnsOf(c: Context<AppEnv>): { partnerList: boolean; rowQuery: string; colspan: number } {
  const partnerList = c.req.query('cols') === 'partner';
  return { partnerList, rowQuery: partnerList ? '?cols=partner' : '', colspan: partnerList ? 11 : 10 };
}

function profileValues(org: IOrganization): Record<string, string> {
  return {
    name: org.name,
    contactName: org.contactName ?? '',
    contactEmail: org.contactEmail ?? '',
    phone: org.phone ?? '',
    address: org.address ?? '',
    country: org.country ?? '',
  };
}

export function portalEditRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/portal/accounts/:id/edit', requireUser(deps));
  app.use('/portal/accounts/:id/row', requireUser(deps));
  const canView = requirePermission('view_dashboard');
  const canManage = requirePermission('add_accounts');

  const find = (c: Context<AppEnv>) =>
    findPortalAccount(c.get('em'), principalOf(c), organizationOf(c), c.req.param('id') ?? '');

  /** The account's row as the list shows it. */
  const row = async (c: Context<AppEnv>, account: IOrganization) => {
    const current = organizationOf(c);
    const found = await listAccountHealth(
      c.get('em'),
      { id: account.id },
      { sort: 'name', descending: false, limit: 1, offset: 0 },
    );
    const r = found.rows[0];
    if (!r) throw new Error('the edited account left the list');
    // The row's billing cells, as the list shows them (core/billing/).
    const now = deps.now();
    const trial = (await trialStatusesOf(c.get('em'), [r.id], now)).get(r.id);
    const amount = (await forecasts(c.get('em'), [r.id], now)).get(r.id);
    const a = {
      ...r,
      trial: trial ? { ...trial, label: TRIAL_STATUS_LABELS[trial.status] } : null,
      amount: amount ? formatMoney(amount.totalCents, amount.currency) : null,
      kindLabel: KIND_LABELS[r.kind],
      backupLabel: BACKUP_STATUS_LABELS[r.backupStatus],
      taskStatusLabel: TASK_STATUS_LABELS[r.taskStatus],
      parentName: r.parentId && r.parentId !== current.id ? r.parentName : null,
      holdsAccounts: CHILD_KINDS[r.kind].length > 0,
    };
    return renderFragment(c, deps.views, 'partials/portal/account-row.njk', {
      a,
      canManage: true,
      ...columnsOf(c),
    });
  };

  const form = (
    c: Context<AppEnv>,
    account: IOrganization,
    values: Record<string, string>,
    errors: Record<string, string>,
    status: 200 | 422 = 200,
  ) => {
    const context = {
      account: { id: account.id, name: account.name, code: account.code, kind: KIND_LABELS[account.kind] },
      values,
      errors,
      countries: COUNTRIES,
      ...columnsOf(c),
    };
    if (wantsFragment(c)) {
      c.status(status);
      return renderFragment(c, deps.views, 'partials/portal/account-edit-row.njk', context);
    }
    return renderPage(c, deps, 'pages/portal/edit-account.njk', { title: `Edit ${account.name}`, ...context }, status);
  };

  app.get('/portal/accounts/:id/edit', canManage, async (c) => {
    const account = await find(c);
    return form(c, account, profileValues(account), {});
  });

  app.get('/portal/accounts/:id/row', canView, async (c) => row(c, await find(c)));

  app.post('/portal/accounts/:id/edit', canManage, async (c) => {
    const account = await find(c);
    const fields = await formFields(c);
    // A field the form did not send keeps its value (a form always sends them all).
    const current = profileValues(account);
    const values = Object.fromEntries(PROFILE_FIELDS.map((k) => [k, fields[k] ?? current[k] ?? ''])) as Record<
      string,
      string
    >;
    let changed: string[];
    try {
      changed = await updateOrganization(c.get('em'), account, { ...values, name: values.name ?? '' });
    } catch (err) {
      if (err instanceof ValidationError) return form(c, account, values, err.fields ?? {}, 422);
      throw err;
    }
    if (changed.length) {
      const actor = auditActorOf(c, deps);
      const description = `Account details of ${account.name} changed: ${changed.join(', ')}`;
      for (const organization of [account, organizationOf(c)]) {
        await recordAudit(c.get('em'), {
          organization,
          activity: 'Settings changed',
          account: account.name,
          description,
          actor,
        });
      }
    }
    if (wantsFragment(c)) return row(c, account);
    return redirectWithFlash(
      c,
      deps,
      `/portal/accounts/${account.id}`,
      changed.length ? 'Account details saved.' : 'Nothing changed.',
    );
  });

  return app;
}
