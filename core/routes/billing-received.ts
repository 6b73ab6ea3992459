// The Billing tabs an organization sees as the one invoiced (seed 000 §4.2–4.4, seed 003): History
// (the invoices its parent issued to it, PDF per invoice), Unpaid bills (issued and overdue, with
// the total due) and Payment details (whom its invoices are addressed to; never card data —
// payment is collected by the issuing MSP's own accounting tool or PSA). Every organization has
// these, customer accounts included; the Status tab (core/routes/billing.ts) is a portal's.
// Reading needs view_dashboard; changing the payment details an administrator.
import type { Context } from 'hono';
import { Hono } from 'hono';
import type { IInvoice } from '../billing/entities.ts';
import { invoiceTitle } from '../billing/invoice-pdf.ts';
import { STATUS_LABELS, shownStatus } from '../billing/invoice-status.ts';
import { formatMoney } from '../billing/money.ts';
import { paymentDetailsValues, savePaymentDetails } from '../billing/payment-details.ts';
import { billingOf } from '../billing/plans.ts';
import { receivedInvoices, unpaidSummary } from '../billing/received-invoices.ts';
import { AppError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import type { IOrganization } from '../identity/entities.ts';
import { CHILD_KINDS } from '../tenancy/organizations.ts';
import { formFields } from './forms.ts';

const PAGE_SIZE = 50;
const BADGES = { draft: 'badge-none', issued: 'badge-warning', overdue: 'badge-danger', paid: 'badge-success' };

/** The Billing tabs: Status only where accounts can be held (it lists the invoices issued to them). */
export function billingTabs(path: string, org: IOrganization) {
  return [
    ...(CHILD_KINDS[org.kind].length ? [{ label: 'Status', href: '/billing' }] : []),
    { label: 'History', href: '/billing/history' },
    { label: 'Payment details', href: '/billing/payment-details' },
    { label: 'Unpaid bills', href: '/billing/unpaid' },
  ].map((t) => ({ ...t, current: t.href === '/billing' ? path === '/billing' : path.startsWith(t.href) }));
}

function receivedRow(invoice: IInvoice, now: Date) {
  const status = shownStatus(invoice, now);
  return {
    id: invoice.id,
    title: invoiceTitle(invoice),
    number: invoice.number,
    period: invoice.period,
    issuerName: (invoice.issuer as IOrganization).name,
    planName: invoice.planName,
    total: formatMoney(invoice.totalCents, invoice.currency),
    status,
    statusLabel: STATUS_LABELS[status],
    badge: BADGES[status],
    issuedAt: invoice.issuedAt,
    dueAt: invoice.dueAt,
    paidAt: invoice.paidAt,
  };
}

export function billingReceivedRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  for (const path of ['/billing/history', '/billing/unpaid', '/billing/payment-details']) {
    app.use(path, requireUser(deps));
  }
  const canView = requirePermission('view_dashboard');
  const common = (c: Context<AppEnv>) => {
    const org = organizationOf(c);
    return {
      organizationName: org.name,
      billingTabs: billingTabs(new URL(c.req.url).pathname, org),
      parentName: (org.parent as IOrganization | null)?.name ?? '',
    };
  };

  app.get('/billing/history', canView, async (c) => {
    const em = c.get('em');
    const org = organizationOf(c);
    await em.populate(org, ['parent']);
    const page = Math.max(1, Math.min(10_000, Number.parseInt(c.req.query('page') ?? '1', 10) || 1));
    const { invoices, total } = await receivedInvoices(em, org, { limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE });
    const now = deps.now();
    return renderPage(c, deps, 'pages/billing/history.njk', {
      title: 'Billing history',
      ...common(c),
      rows: invoices.map((i) => receivedRow(i, now)),
      page,
      pageCount: Math.max(1, Math.ceil(total / PAGE_SIZE)),
      total,
    });
  });

  app.get('/billing/unpaid', canView, async (c) => {
    const em = c.get('em');
    const org = organizationOf(c);
    await em.populate(org, ['parent']);
    const now = deps.now();
    const summary = await unpaidSummary(em, org, now);
    const { invoices } = await receivedInvoices(em, org, { unpaid: true, limit: 500 });
    return renderPage(c, deps, 'pages/billing/unpaid.njk', {
      title: 'Unpaid bills',
      ...common(c),
      rows: invoices
        .map((i) => receivedRow(i, now))
        .sort((a, b) => (a.dueAt?.getTime() ?? 0) - (b.dueAt?.getTime() ?? 0)),
      totals: summary.totals.map((t) => ({
        total: formatMoney(t.totalCents, t.currency),
        due: formatMoney(t.dueCents, t.currency),
        overdue: formatMoney(t.overdueCents, t.currency),
      })),
      open: summary.open,
      overdue: summary.overdue,
    });
  });

  const detailsPage = async (
    c: Context<AppEnv>,
    values: Record<string, string> | null,
    errors: Record<string, string>,
    status: 200 | 422 = 200,
  ) => {
    const em = c.get('em');
    const org = organizationOf(c);
    await em.populate(org, ['parent']);
    const billing = await billingOf(em, org, deps.now());
    return renderPage(
      c,
      deps,
      'pages/billing/payment-details.njk',
      {
        title: 'Payment details',
        ...common(c),
        canEdit: principalOf(c).isAdministrator,
        contactEmail: org.contactEmail,
        address: org.address,
        paymentTermsDays: billing.paymentTermsDays,
        values: values ?? paymentDetailsValues(billing),
        errors,
      },
      status,
    );
  };

  app.get('/billing/payment-details', canView, (c) => detailsPage(c, null, {}));

  app.post('/billing/payment-details', canView, async (c) => {
    if (!principalOf(c).isAdministrator) {
      throw new AppError('administrators_only', 'Only administrators change the payment details.', 403);
    }
    const form = await formFields(c);
    const values = {
      billingName: form.billingName ?? '',
      billingEmail: form.billingEmail ?? '',
      billingAddress: form.billingAddress ?? '',
      taxId: form.taxId ?? '',
    };
    try {
      await savePaymentDetails(c.get('em'), organizationOf(c), values, auditActorOf(c, deps), deps.now());
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return detailsPage(c, values, err.fields ?? {}, 422);
    }
    return redirectWithFlash(c, deps, '/billing/payment-details', 'The payment details have been saved.');
  });

  return app;
}
