// The MSP's invoices through the API (issue 24, core/billing/): the invoices an organization
// issued (by month and status), one with its lines, the CSV exports for accounting tools (the
// layout of docs/BILLING.md), issuing a draft, and marking one paid — by hand elsewhere, here by
// an accounting tool or a PSA integration (`paidBy` names the key). Reading needs "View
// dashboard", changing "Add accounts"; an invoice of another issuer is a 404.
import { createRoute, z } from '@hono/zod-openapi';
import type { EntityManager } from '@mikro-orm/core';
import type { Context } from 'hono';
import { type IInvoice, Invoice } from '../billing/entities.ts';
import { INVOICE_CSV_HEADER, invoiceCsvRows, LINE_CSV_HEADER, lineCsvRows } from '../billing/invoice-csv.ts';
import { issueInvoice, markInvoicePaid, type ShownStatus, shownStatus } from '../billing/invoice-status.ts';
import { invoiceLines } from '../billing/invoices.ts';
import { centsDecimal } from '../billing/money.ts';
import { NotFoundError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import { csvResponse } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { inReach, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

export const STATUSES = ['draft', 'issued', 'overdue', 'paid'] as const;

export const InvoiceSchema = z
  .object({
    id: z.string(),
    number: z.string().nullable().openapi({ description: 'The issuer’s running number, once issued.' }),
    accountId: z.string(),
    accountName: z.string(),
    period: z.string().openapi({ example: '2026-11' }),
    plan: z.string(),
    currency: z.string().openapi({ example: 'EUR' }),
    status: z.enum(STATUSES).openapi({ description: 'Overdue: issued and past its due date.' }),
    subtotal: z.string().openapi({ example: '45.98', description: 'Decimal amount, two places.' }),
    taxRatePercent: z.string().openapi({ example: '20.00' }),
    tax: z.string(),
    total: z.string(),
    billableDays: z.number().int(),
    monthDays: z.number().int(),
    issuedAt: z.string().nullable(),
    dueAt: z.string().nullable(),
    paidAt: z.string().nullable(),
    paidBy: z.string().nullable(),
  })
  .openapi('Invoice');

export const InvoiceLineSchema = z
  .object({
    position: z.number().int(),
    meter: z.string().openapi({
      description: 'What is priced: protected, protected:<entity kind>, stored_gib, logical_gib, or minimum.',
    }),
    description: z.string(),
    quantity: z.string().openapi({ example: '4.75' }),
    amount: z.string().openapi({ example: '0.48' }),
  })
  .openapi('InvoiceLine');

export const InvoiceParams = OrganizationIdParams.extend({
  invoiceId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'invoiceId', in: 'path' }, description: 'Invoice id.' }),
});

const ListQuery = z.object({
  period: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/)
    .optional()
    .openapi({ description: 'The month invoiced, YYYY-MM.' }),
  status: z.enum(STATUSES).optional(),
});

const CsvQuery = ListQuery.pick({ period: true });

export function invoiceJson(invoice: IInvoice, now: Date) {
  return {
    id: invoice.id,
    number: invoice.number ?? null,
    accountId: invoice.account.id,
    accountName: (invoice.account as IOrganization).name,
    period: invoice.period,
    plan: invoice.planName,
    currency: invoice.currency,
    status: shownStatus(invoice, now),
    subtotal: centsDecimal(invoice.subtotalCents),
    taxRatePercent: (invoice.taxRateBasisPoints / 100).toFixed(2),
    tax: centsDecimal(invoice.taxCents),
    total: centsDecimal(invoice.totalCents),
    billableDays: invoice.billableDays,
    monthDays: invoice.monthDays,
    issuedAt: invoice.issuedAt?.toISOString() ?? null,
    dueAt: invoice.dueAt?.toISOString() ?? null,
    paidAt: invoice.paidAt?.toISOString() ?? null,
    paidBy: invoice.paidBy ?? null,
  };
}

/** An invoice's lines as the API shows them (positions from 1). */
export async function linesJson(em: EntityManager, invoice: IInvoice) {
  return (await invoiceLines(em, invoice)).map((l) => ({
    position: l.position + 1,
    meter: l.meter,
    description: l.description,
    quantity: l.quantity,
    amount: centsDecimal(l.amountCents),
  }));
}

/** The invoice issued by the organization in the path, else a 404. */
async function findInvoice(c: Context<AppEnv>) {
  const id = c.req.param('invoiceId') ?? '';
  const invoice =
    id.length <= 36
      ? await c.get('em').findOne(Invoice, { id, issuer: c.req.param('id') ?? '' }, { populate: ['account'] })
      : null;
  if (!invoice) throw new NotFoundError('There is no such invoice.');
  return invoice;
}

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/invoices',
  tags: ['Billing'],
  summary: 'Invoices an organization issued',
  description:
    'The invoices the organization issued to the accounts directly under it (at most 1000, newest month first), by month and status. Needs "View dashboard".',
  security: SECURED,
  middleware: [...guarded('view_dashboard'), inReach()],
  request: { params: OrganizationIdParams, query: ListQuery },
  responses: {
    200: jsonResponse(z.object({ invoices: z.array(InvoiceSchema) }).openapi('InvoiceList'), 'The invoices'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const csvRoute = (path: string, summary: string, description: string) =>
  createRoute({
    method: 'get',
    path,
    tags: ['Billing'],
    summary,
    description,
    security: SECURED,
    middleware: [...guarded('view_dashboard'), inReach()],
    request: { params: OrganizationIdParams, query: CsvQuery },
    responses: {
      200: { description: 'CSV (RFC 4180)', content: { 'text/csv': { schema: z.string() } } },
      ...errorResponses(401, 403, 404, 422),
    },
  });

const invoicesCsvRoute = csvRoute(
  '/organizations/{id}/invoices.csv',
  'Export invoices as CSV',
  'One row per invoice the organization issued, in the layout of docs/BILLING.md. Needs "View dashboard".',
);
const linesCsvRoute = csvRoute(
  '/organizations/{id}/invoice-lines.csv',
  'Export invoice lines as CSV',
  'One row per invoice line, with its invoice’s id and number, in the layout of docs/BILLING.md. Needs "View dashboard".',
);

const getRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/invoices/{invoiceId}',
  tags: ['Billing'],
  summary: 'An invoice and its lines',
  security: SECURED,
  middleware: [...guarded('view_dashboard'), inReach(async (_em, _org, c) => findInvoice(c))],
  request: { params: InvoiceParams },
  responses: {
    200: jsonResponse(
      InvoiceSchema.extend({ lines: z.array(InvoiceLineSchema) }).openapi('InvoiceWithLines'),
      'The invoice',
    ),
    ...errorResponses(401, 403, 404),
  },
});

const actionRoute = (action: 'issue' | 'paid', summary: string, description: string) =>
  createRoute({
    method: 'post',
    path: `/organizations/{id}/invoices/{invoiceId}/${action}`,
    tags: ['Billing'],
    summary,
    description,
    security: SECURED,
    middleware: [...guarded('add_accounts'), inReach(async (_em, _org, c) => findInvoice(c))],
    request: { params: InvoiceParams },
    responses: { 200: jsonResponse(InvoiceSchema, 'The invoice'), ...errorResponses(401, 403, 404, 409) },
  });

const issueRoute = actionRoute(
  'issue',
  'Issue a draft invoice',
  'Numbers the draft (per issuer), sets its due date from the account’s payment terms and mails it with its PDF to the account’s billing contact. 409 if it was issued already. Needs "Add accounts".',
);
const paidRoute = actionRoute(
  'paid',
  'Mark an invoice paid',
  'For accounting tools and PSA integrations: the invoice is Paid from now, marked by the caller. Idempotent for a paid invoice; 409 for a draft. Needs "Add accounts".',
);

export function invoicesApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openapi(listRoute, async (c) => {
    const { period, status } = c.req.valid('query');
    const now = deps.now();
    const invoices = await c
      .get('em')
      .find(
        Invoice,
        { issuer: c.req.valid('param').id, ...(period ? { period } : {}) },
        { populate: ['account'], orderBy: { period: 'desc', sequence: 'asc', id: 'asc' }, limit: 1000 },
      );
    const rows = invoices
      .map((i) => invoiceJson(i, now))
      .filter((r) => !status || r.status === (status as ShownStatus));
    return c.json({ invoices: rows }, 200);
  });

  const selection = async (c: Context<AppEnv>, period: string | undefined) => ({
    issuer: await c.get('em').findOneOrFail(Organization, { id: c.req.param('id') ?? '' }),
    period,
  });

  api.openapi(invoicesCsvRoute, async (c) => {
    const { period } = c.req.valid('query');
    return csvResponse(c, {
      fileName: `invoices${period ? `-${period}` : ''}.csv`,
      header: INVOICE_CSV_HEADER,
      rows: invoiceCsvRows(c.get('em').fork(), await selection(c, period), deps.now()),
    }) as never;
  });

  api.openapi(linesCsvRoute, async (c) => {
    const { period } = c.req.valid('query');
    return csvResponse(c, {
      fileName: `invoice-lines${period ? `-${period}` : ''}.csv`,
      header: LINE_CSV_HEADER,
      rows: lineCsvRows(c.get('em').fork(), await selection(c, period)),
    }) as never;
  });

  api.openapi(getRoute, async (c) => {
    const invoice = await findInvoice(c);
    return c.json({ ...invoiceJson(invoice, deps.now()), lines: await linesJson(c.get('em'), invoice) }, 200);
  });

  api.openapi(issueRoute, async (c) => {
    const invoice = await findInvoice(c);
    await issueInvoice(c.get('em'), invoice, deps.now(), auditActor(c, deps));
    return c.json(invoiceJson(invoice, deps.now()), 200);
  });

  api.openapi(paidRoute, async (c) => {
    const invoice = await findInvoice(c);
    await markInvoicePaid(c.get('em'), invoice, deps.now(), auditActor(c, deps));
    return c.json(invoiceJson(invoice, deps.now()), 200);
  });

  return api;
}
