// The MSP's billing pages (issue 24; the work is done in core/billing/): Billing — its plans, its
// default plan, the invoices of a month (prepare the drafts, issue, mark paid), the CSV exports —
// the plan form, an invoice as HTML and PDF, and an account's Billing page (its settings and its
// History). Viewing needs view_dashboard; changing anything add_accounts. An invoice, plan or
// account outside the organization being worked in is a 404; an invoice is also readable (page and
// PDF) by the account it is addressed to once issued. The recipient's tabs: billing-received.ts.
import type { Context, MiddlewareHandler } from 'hono';
import { Hono } from 'hono';
import { hasPermission } from '../access/principal.ts';
import { saveAccountBilling, setDefaultPlan } from '../billing/account-billing.ts';
import { previousMonth } from '../billing/billable-days.ts';
import { billingTiles } from '../billing/billing-status.ts';
import { BillingAccount, type IInvoice, Invoice, MEASURES } from '../billing/entities.ts';
import { INVOICE_CSV_HEADER, invoiceCsvRows, LINE_CSV_HEADER, lineCsvRows } from '../billing/invoice-csv.ts';
import { invoiceTitle } from '../billing/invoice-pdf.ts';
import {
  findIssuedBy,
  invoicePdfOf,
  issueInvoice,
  markInvoicePaid,
  type ShownStatus,
  STATUS_LABELS,
  shownStatus,
} from '../billing/invoice-status.ts';
import { draftInvoicesOf, invoiceLines } from '../billing/invoices.ts';
import { GENERIC_METERS, KIND_METER_PREFIX, meterLabel, recordedKinds } from '../billing/meters.ts';
import { centsDecimal, formatMoney } from '../billing/money.ts';
import { invoiceParties } from '../billing/payment-details.ts';
import { PLAN_FORM_METERS, planFormValues, planInputOf } from '../billing/plan-form.ts';
import { billingOf, createPlan, effectivePlan, findPlan, listPlans, updatePlan } from '../billing/plans.ts';
import { findVisibleTo } from '../billing/received-invoices.ts';
import { DEFAULT_TRIAL_DAYS, TRIAL_STATUS_LABELS, trialStatus } from '../billing/trials.ts';
import { AppError, NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import { csvResponse } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import type { IOrganization } from '../identity/entities.ts';
import { CHILD_KINDS } from '../tenancy/organizations.ts';
import { findPortalAccount } from '../tenancy/portal-accounts.ts';
import { billingTabs } from './billing-received.ts';
import { formFields } from './forms.ts';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;
const SHOWN: readonly ShownStatus[] = ['draft', 'issued', 'overdue', 'paid'];
const BADGES: Record<ShownStatus, string> = {
  draft: 'badge-none',
  issued: 'badge-warning',
  overdue: 'badge-danger',
  paid: 'badge-success',
};

/** Billing exists where accounts can be held. */
const portalOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (CHILD_KINDS[organizationOf(c).kind].length === 0) throw new NotFoundError('There is nothing at this address.');
  await next();
};

const accountsNote = (n: number) => `${n} account${n === 1 ? '' : 's'}`;

function invoiceRow(invoice: IInvoice, now: Date) {
  const status = shownStatus(invoice, now);
  return {
    id: invoice.id,
    title: invoiceTitle(invoice),
    number: invoice.number,
    period: invoice.period,
    accountName: (invoice.account as IOrganization).name,
    accountId: invoice.account.id,
    issuerName: (invoice.issuer as IOrganization).name,
    planName: invoice.planName,
    total: formatMoney(invoice.totalCents, invoice.currency),
    status,
    statusLabel: STATUS_LABELS[status],
    badge: BADGES[status],
    dueAt: invoice.dueAt,
    issuedAt: invoice.issuedAt,
    paidAt: invoice.paidAt,
  };
}

/** The meters the plan form offers: the generic ones and every entity kind the usage history has seen. */
async function meterChoices(c: Context<AppEnv>, extra: readonly string[] = []) {
  const kinds = new Set([...(await recordedKinds(c.get('em'))), ...extra]);
  return [
    ...Object.keys(GENERIC_METERS).map((value) => ({ value, label: meterLabel(value) })),
    ...[...kinds].map((kind) => ({
      value: `${KIND_METER_PREFIX}${kind}`,
      label: meterLabel(`${KIND_METER_PREFIX}${kind}`),
    })),
  ];
}

export function billingRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/billing', requireUser(deps));
  app.use('/billing/*', requireUser(deps));
  app.use('/portal/accounts/:id/billing', requireUser(deps));
  const canView = requirePermission('view_dashboard');
  const canManage = requirePermission('add_accounts');

  // A customer account has no Status tab (it invoices nobody): its Billing opens at History.
  const customersToHistory: MiddlewareHandler<AppEnv> = async (c, next) => {
    if (CHILD_KINDS[organizationOf(c).kind].length === 0) return c.redirect('/billing/history', 303);
    await next();
  };

  app.get('/billing', canView, customersToHistory, async (c) => {
    const em = c.get('em');
    const org = organizationOf(c);
    const now = deps.now();
    const period = MONTH.test(c.req.query('period') ?? '') ? (c.req.query('period') as string) : previousMonth(now);
    const wanted = c.req.query('status') ?? '';
    // The Billing Status tiles link here: Current lists the paid, Due the issued, Overdue the overdue.
    const filter = (wanted === 'current' ? 'paid' : wanted === 'due' ? 'issued' : wanted) as ShownStatus | '';
    const status = SHOWN.includes(filter as ShownStatus) ? (filter as ShownStatus) : '';
    const invoices = await em.find(
      Invoice,
      { issuer: org.id, ...(status && status !== 'draft' ? {} : { period }) },
      { populate: ['account', 'issuer'], orderBy: { period: 'desc', account: { name: 'asc' } }, limit: 1000 },
    );
    const rows = invoices.map((i) => invoiceRow(i, now)).filter((r) => !status || r.status === status);
    const plans = await listPlans(em, org);
    const own = await em.findOne(BillingAccount, { organization: org.id });
    const tiles = await billingTiles(em, org, now);
    const amounts = (a: Record<string, number>) =>
      Object.entries(a)
        .map(([currency, cents]) => formatMoney(cents, currency))
        .join(' · ') || 'None';
    return renderPage(c, deps, 'pages/billing/billing.njk', {
      title: 'Billing',
      organizationName: org.name,
      billingTabs: billingTabs('/billing', org),
      canManage: hasPermission(principalOf(c), 'add_accounts'),
      period,
      status,
      statuses: SHOWN.map((value) => ({ value, label: STATUS_LABELS[value] })),
      rows,
      tiles: [
        { value: 'current', label: 'Current', figure: String(tiles.current), note: 'accounts paid up' },
        { value: 'due', label: 'Due', figure: amounts(tiles.due.amounts), note: accountsNote(tiles.due.accounts) },
        {
          value: 'overdue',
          label: 'Overdue',
          figure: amounts(tiles.overdue.amounts),
          note: accountsNote(tiles.overdue.accounts),
        },
      ],
      totals: Object.entries(
        invoices.reduce<Record<string, number>>((sum, i) => {
          sum[i.currency] = (sum[i.currency] ?? 0) + i.totalCents;
          return sum;
        }, {}),
      ).map(([currency, cents]) => formatMoney(cents, currency)),
      plans: plans.map((p) => ({
        id: p.id,
        name: p.name,
        currency: p.currency,
        period: p.period === 'monthly' ? 'Monthly' : 'Annual',
        meters: p.meters.map((m) => meterLabel(m.meter)).join(', '),
        minimum: p.minimumCents ? formatMoney(p.minimumCents, p.currency) : '—',
        isDefault: own?.defaultPlan?.id === p.id,
      })),
      hasAnnualPlan: plans.some((p) => p.period === 'annual'),
      defaultPlanId: own?.defaultPlan?.id ?? '',
    });
  });

  app.post('/billing/prepare', canManage, portalOnly, async (c) => {
    const form = await formFields(c);
    const period = form.period ?? '';
    if (!MONTH.test(period))
      return redirectWithFlash(c, deps, '/billing', 'Choose a month such as 2026-11.', 'failure');
    const drafts = await draftInvoicesOf(c.get('em'), organizationOf(c), period, deps.now());
    const n = drafts.length;
    return redirectWithFlash(
      c,
      deps,
      `/billing?period=${period}`,
      n
        ? `${n} invoice${n === 1 ? '' : 's'} of ${period} prepared (drafts recomputed from the usage history; issued ones kept).`
        : `No account was billable in ${period}: give accounts a plan (or set a default plan) first.`,
      n ? 'notice' : 'failure',
    );
  });

  app.post('/billing/default', canManage, portalOnly, async (c) => {
    const form = await formFields(c);
    try {
      await setDefaultPlan(c.get('em'), organizationOf(c), form.planId ?? '', auditActorOf(c, deps), deps.now());
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      return redirectWithFlash(c, deps, '/billing', 'Choose one of your plans.', 'failure');
    }
    return redirectWithFlash(c, deps, '/billing', 'The default plan has been saved.');
  });

  const planPage = async (
    c: Context<AppEnv>,
    planId: number | null,
    values: Record<string, string>,
    errors: Record<string, string>,
    status: 200 | 422 = 200,
  ) => {
    const used = Object.entries(values)
      .filter(([k, v]) => k.startsWith('meter') && v.startsWith(KIND_METER_PREFIX))
      .map(([, v]) => v.slice(KIND_METER_PREFIX.length));
    return renderPage(
      c,
      deps,
      'pages/billing/plan.njk',
      {
        title: planId ? `Plan ${values.name ?? ''}` : 'New plan',
        organizationName: organizationOf(c).name,
        planId,
        values: { currency: 'EUR', period: 'monthly', minimum: '0.00', measure0: 'max', ...values },
        errors,
        meterRows: [...Array(PLAN_FORM_METERS).keys()],
        meters: await meterChoices(c, used),
        measures: MEASURES.map((value) => ({
          value,
          label: value === 'max' ? 'Maximum over the month' : 'Average of the days sampled',
        })),
      },
      status,
    );
  };

  app.get('/billing/plans/new', canManage, portalOnly, (c) => planPage(c, null, {}, {}));

  app.post('/billing/plans/new', canManage, portalOnly, async (c) => {
    const form = await formFields(c);
    try {
      const plan = await createPlan(c.get('em'), organizationOf(c), planInputOf(form), deps.now());
      return redirectWithFlash(c, deps, '/billing', `The plan "${plan.name}" has been added.`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return planPage(c, null, form, err.fields ?? {}, 422);
    }
  });

  app.get('/billing/plans/:id', canManage, portalOnly, async (c) => {
    const plan = await findPlan(c.get('em'), organizationOf(c), c.req.param('id'));
    return planPage(c, plan.id, planFormValues(plan), {});
  });

  app.post('/billing/plans/:id', canManage, portalOnly, async (c) => {
    const em = c.get('em');
    const plan = await findPlan(em, organizationOf(c), c.req.param('id'));
    const form = await formFields(c);
    try {
      await updatePlan(em, plan, planInputOf(form), deps.now());
      return redirectWithFlash(c, deps, '/billing', `The plan "${plan.name}" has been saved.`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return planPage(c, plan.id, form, err.fields ?? {}, 422);
    }
  });

  const csvSelection = (c: Context<AppEnv>) => {
    const period = c.req.query('period') ?? '';
    return { issuer: organizationOf(c), period: MONTH.test(period) ? period : undefined };
  };

  app.get('/billing/invoices.csv', canView, portalOnly, (c) => {
    const selection = csvSelection(c);
    return csvResponse(c, {
      fileName: `invoices${selection.period ? `-${selection.period}` : ''}.csv`,
      header: INVOICE_CSV_HEADER,
      rows: invoiceCsvRows(c.get('em').fork(), selection, deps.now()),
      bom: true,
    });
  });

  app.get('/billing/invoice-lines.csv', canView, portalOnly, (c) => {
    const selection = csvSelection(c);
    return csvResponse(c, {
      fileName: `invoice-lines${selection.period ? `-${selection.period}` : ''}.csv`,
      header: LINE_CSV_HEADER,
      rows: lineCsvRows(c.get('em').fork(), selection),
      bom: true,
    });
  });

  const invoiceOf = async (c: Context<AppEnv>) => {
    const invoice = await findIssuedBy(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
    if (!invoice) throw new NotFoundError('There is no such invoice.');
    return invoice;
  };
  // Reading: the issuer, or the account it is addressed to once issued (core/billing/received-invoices.ts).
  const visibleInvoiceOf = async (c: Context<AppEnv>) => {
    const invoice = await findVisibleTo(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
    if (!invoice) throw new NotFoundError('There is no such invoice.');
    return invoice;
  };

  app.get('/billing/invoices/:id', canView, async (c) => {
    const em = c.get('em');
    const invoice = await visibleInvoiceOf(c);
    const issuedHere = invoice.issuer.id === organizationOf(c).id;
    const { issuer, account } = await invoiceParties(em, invoice);
    const lines = await invoiceLines(em, invoice);
    const money = (cents: number) => formatMoney(cents, invoice.currency);
    return renderPage(c, deps, 'pages/billing/invoice.njk', {
      title: invoiceTitle(invoice),
      organizationName: organizationOf(c).name,
      canManage: issuedHere && hasPermission(principalOf(c), 'add_accounts'),
      issuedHere,
      invoice: invoiceRow(invoice, deps.now()),
      issuer,
      account,
      billableDays: invoice.billableDays,
      monthDays: invoice.monthDays,
      lines: lines.map((l) => ({ description: l.description, quantity: l.quantity, amount: money(l.amountCents) })),
      subtotal: money(invoice.subtotalCents),
      taxRate: (invoice.taxRateBasisPoints / 100).toFixed(2),
      tax: money(invoice.taxCents),
      total: money(invoice.totalCents),
      mailedTo: invoice.mailedTo,
      // Who marked it paid is the issuer's business (its staff or keys), not the recipient's.
      paidBy: issuedHere ? invoice.paidBy : null,
    });
  });

  app.get('/billing/invoices/:id/pdf', canView, async (c) => {
    const invoice = await visibleInvoiceOf(c);
    const pdf = await invoicePdfOf(c.get('em'), invoice);
    const name = invoice.number ?? `draft-${invoice.period}-${invoice.id.slice(0, 8)}`;
    return c.body(new Uint8Array(pdf), 200, {
      'Content-Type': 'application/pdf',
      'Content-Disposition': `attachment; filename="${name}.pdf"`,
      'Cache-Control': 'no-store',
    });
  });

  for (const action of ['issue', 'paid'] as const) {
    app.post(`/billing/invoices/:id/${action}`, canManage, portalOnly, async (c) => {
      const em = c.get('em');
      const invoice = await invoiceOf(c);
      const back = `/billing/invoices/${invoice.id}`;
      try {
        if (action === 'issue') await issueInvoice(em, invoice, deps.now(), auditActorOf(c, deps));
        else await markInvoicePaid(em, invoice, deps.now(), auditActorOf(c, deps));
      } catch (err) {
        if (!(err instanceof AppError) || err.status !== 409) throw err;
        return redirectWithFlash(c, deps, back, err.message, 'failure');
      }
      const done =
        action === 'issue'
          ? `Issued as ${invoice.number}${invoice.mailedTo ? ` and mailed to ${invoice.mailedTo}` : ' (no billing contact: not mailed)'}.`
          : `Marked paid.`;
      return redirectWithFlash(c, deps, back, done);
    });
  }

  const accountBillingPage = async (
    c: Context<AppEnv>,
    account: IOrganization,
    values: Record<string, string> | null,
    errors: Record<string, string>,
    status: 200 | 422 = 200,
  ) => {
    const em = c.get('em');
    const org = organizationOf(c);
    const now = deps.now();
    const billing = await billingOf(em, account, now);
    const issuedHere = account.parent?.id === org.id;
    const plan = await effectivePlan(em, account);
    const trial = trialStatus(billing, now);
    const history = await em.find(
      Invoice,
      { account: account.id },
      { populate: ['account', 'issuer'], orderBy: { period: 'desc' }, limit: 120 },
    );
    const visible = history.filter((i) => i.issuer.id === org.id);
    return renderPage(
      c,
      deps,
      'pages/billing/account-billing.njk',
      {
        title: `Billing of ${account.name}`,
        organizationName: org.name,
        account: { id: account.id, name: account.name, contactEmail: account.contactEmail },
        canManage: hasPermission(principalOf(c), 'add_accounts') && issuedHere,
        issuedHere,
        parentName: (account.parent as IOrganization | null)?.name ?? '',
        plans: issuedHere ? await listPlans(em, org) : [],
        plan: plan ? { name: plan.name, inherited: billing.plan?.id !== plan.id } : null,
        trial: trial
          ? { label: TRIAL_STATUS_LABELS[trial], status: trial, endsAt: billing.trialEndsAt }
          : billing.subscribedAt
            ? { label: 'Subscribed', status: 'subscribed', endsAt: null, subscribedAt: billing.subscribedAt }
            : null,
        hold: account.backupHold,
        defaultTrialDays: DEFAULT_TRIAL_DAYS,
        values: values ?? {
          planId: billing.plan ? String(billing.plan.id) : '',
          taxRate: billing.taxRateBasisPoints ? centsDecimal(billing.taxRateBasisPoints).replace(/\.?0+$/, '') : '',
          billingEmail: billing.billingEmail ?? '',
          paymentTermsDays: String(billing.paymentTermsDays),
          trialEndsOn:
            billing.trialEndsAt && !billing.subscribedAt ? billing.trialEndsAt.toISOString().slice(0, 10) : '',
        },
        errors,
        history: visible.map((i) => invoiceRow(i, now)),
      },
      status,
    );
  };

  app.get('/portal/accounts/:id/billing', canView, portalOnly, async (c) => {
    const em = c.get('em');
    const account = await findPortalAccount(em, principalOf(c), organizationOf(c), c.req.param('id'));
    await em.populate(account, ['parent']);
    return accountBillingPage(c, account, null, {});
  });

  app.post('/portal/accounts/:id/billing', canManage, portalOnly, async (c) => {
    const em = c.get('em');
    const org = organizationOf(c);
    const account = await findPortalAccount(em, principalOf(c), org, c.req.param('id'));
    await em.populate(account, ['parent']);
    const form = await formFields(c);
    // Only the account's parent invoices it: deeper accounts are billed by their own partner.
    if (account.parent?.id !== org.id) {
      return redirectWithFlash(
        c,
        deps,
        `/portal/accounts/${account.id}/billing`,
        `${(account.parent as IOrganization).name} invoices this account.`,
        'failure',
      );
    }
    const values = {
      planId: form.planId ?? '',
      taxRate: form.taxRate ?? '',
      billingEmail: form.billingEmail ?? '',
      paymentTermsDays: form.paymentTermsDays ?? '',
      trialEndsOn: form.trialEndsOn ?? '',
    };
    try {
      await saveAccountBilling(em, org, account, values, auditActorOf(c, deps), deps.now());
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return accountBillingPage(c, account, values, err.fields ?? {}, 422);
    }
    return redirectWithFlash(
      c,
      deps,
      `/portal/accounts/${account.id}/billing`,
      'The billing settings have been saved.',
    );
  });

  return app;
}
