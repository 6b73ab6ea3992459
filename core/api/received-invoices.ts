// The invoices addressed to an organization, through the API (issue 24; the pages are Billing ›
// History and Unpaid bills): a distributor's wholesale invoices from the appliance owner, a
// partner's from its distributor, a customer's from its partner — listed by month and status, one
// with its lines, and its PDF. Only issued and paid ones: a draft addressed to the organization,
// or anyone else's invoice, is a 404 (core/billing/received-invoices.ts). Who marked one paid is
// the issuer's business and is not shown. Reading needs "View dashboard".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type IInvoice, Invoice } from '../billing/entities.ts';
import { invoicePdfOf } from '../billing/invoice-status.ts';
import { NotFoundError } from '../errors.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import type { IOrganization } from '../identity/entities.ts';
import { inReach, jsonResponse, OrganizationIdParams } from './common.ts';
import { InvoiceLineSchema, InvoiceParams, InvoiceSchema, invoiceJson, linesJson, STATUSES } from './invoices.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const RECEIVED_STATUSES = STATUSES.filter((s) => s !== 'draft') as ['issued', 'overdue', 'paid'];

const ReceivedInvoiceSchema = InvoiceSchema.omit({ paidBy: true })
  .extend({
    status: z.enum(RECEIVED_STATUSES).openapi({ description: 'Overdue: issued and past its due date.' }),
    issuerId: z.string().openapi({ description: 'The organization that issued it (the recipient’s parent).' }),
    issuerName: z.string(),
  })
  .openapi('ReceivedInvoice');

const ReceivedQuery = z.object({
  period: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])$/)
    .optional()
    .openapi({ description: 'The month invoiced, YYYY-MM.' }),
  status: z.enum(RECEIVED_STATUSES).optional(),
});

function receivedJson(invoice: IInvoice, now: Date) {
  const { paidBy: _issuersBusiness, ...shown } = invoiceJson(invoice, now);
  return {
    ...shown,
    status: shown.status as (typeof RECEIVED_STATUSES)[number],
    issuerId: invoice.issuer.id,
    issuerName: (invoice.issuer as IOrganization).name,
  };
}

/** An issued or paid invoice addressed to the organization in the path, else a 404. */
async function findReceived(c: Context<AppEnv>): Promise<IInvoice> {
  const id = c.req.param('invoiceId') ?? '';
  const invoice =
    id.length <= 36
      ? await c
          .get('em')
          .findOne(
            Invoice,
            { id, account: c.req.param('id') ?? '', status: { $in: ['issued', 'paid'] } },
            { populate: ['account', 'issuer'] },
          )
      : null;
  if (!invoice) throw new NotFoundError('There is no such invoice.');
  return invoice;
}

const tags = ['Billing'];
const reading = [...guarded('view_dashboard')];

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/received-invoices',
  tags,
  summary: 'Invoices addressed to an organization',
  description:
    'The issued and paid invoices the organization’s parent addressed to it (at most 1000, most recently issued first), by month and status (Billing › History and Unpaid bills). Needs "View dashboard".',
  security: SECURED,
  middleware: [...reading, inReach()],
  request: { params: OrganizationIdParams, query: ReceivedQuery },
  responses: {
    200: jsonResponse(
      z.object({ invoices: z.array(ReceivedInvoiceSchema) }).openapi('ReceivedInvoiceList'),
      'The invoices',
    ),
    ...errorResponses(401, 403, 404, 422),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/received-invoices/{invoiceId}',
  tags,
  summary: 'An invoice addressed to an organization, with its lines',
  description: 'A draft addressed to the organization, or an invoice addressed to another, is a 404.',
  security: SECURED,
  middleware: [...reading, inReach(async (_em, _org, c) => findReceived(c))],
  request: { params: InvoiceParams },
  responses: {
    200: jsonResponse(
      ReceivedInvoiceSchema.extend({ lines: z.array(InvoiceLineSchema) }).openapi('ReceivedInvoiceWithLines'),
      'The invoice',
    ),
    ...errorResponses(401, 403, 404),
  },
});

const pdfRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/received-invoices/{invoiceId}/pdf',
  tags,
  summary: 'The PDF of an invoice addressed to an organization',
  description:
    'The same PDF the issuer mailed (issuer, "Bill to", lines, subtotal, tax and total), as a file named after the invoice number. A draft or another organization’s invoice is a 404.',
  security: SECURED,
  middleware: [...reading, inReach(async (_em, _org, c) => findReceived(c))],
  request: { params: InvoiceParams },
  responses: {
    200: {
      description: 'The PDF',
      content: { 'application/pdf': { schema: z.string().openapi({ format: 'binary' }) } },
    },
    ...errorResponses(401, 403, 404),
  },
});

export function receivedInvoicesApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openapi(listRoute, async (c) => {
    const { period, status } = c.req.valid('query');
    const now = deps.now();
    const invoices = await c.get('em').find(
      Invoice,
      {
        account: c.req.valid('param').id,
        status: status === 'paid' ? 'paid' : status ? 'issued' : { $in: ['issued', 'paid'] },
        ...(period ? { period } : {}),
      },
      { populate: ['account', 'issuer'], orderBy: { issuedAt: 'desc', id: 'asc' }, limit: 1000 },
    );
    const rows = invoices.map((i) => receivedJson(i, now)).filter((r) => !status || r.status === status);
    return c.json({ invoices: rows }, 200);
  });

  api.openapi(getRoute, async (c) => {
    const invoice = await findReceived(c);
    return c.json({ ...receivedJson(invoice, deps.now()), lines: await linesJson(c.get('em'), invoice) }, 200);
  });

  api.openapi(pdfRoute, async (c) => {
    const invoice = await findReceived(c);
    const pdf = await invoicePdfOf(c.get('em'), invoice);
    return c.body(new Uint8Array(pdf), 200, {
      'Content-Type': 'application/pdf',
      'Content-Disposition': `attachment; filename="${invoice.number}.pdf"`,
      'Cache-Control': 'no-store',
    }) as never;
  });

  return api;
}
