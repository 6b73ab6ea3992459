// The invoices and their lines as CSV for accounting tools (layout in docs/BILLING.md): one row
// per invoice, or one row per line with its invoice's number; amounts as plain decimals with a
// dot ("1234.50"), dates as YYYY-MM-DD, the shown status (overdue included). Read in pages of
// the invoice id, so an export of any size holds one page in memory; written by the one CSV
// writer (core/plugins/csv.ts).
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import { type IInvoice, Invoice, InvoiceLine } from './entities.ts';
import { shownStatus } from './invoice-status.ts';
import { centsDecimal } from './money.ts';

export const INVOICE_CSV_HEADER = [
  'invoice_id',
  'number',
  'issuer',
  'account',
  'account_id',
  'period',
  'plan',
  'currency',
  'status',
  'issued_on',
  'due_on',
  'paid_on',
  'billable_days',
  'month_days',
  'subtotal',
  'tax_rate_percent',
  'tax',
  'total',
] as const;

export const LINE_CSV_HEADER = [
  'invoice_id',
  'number',
  'account',
  'period',
  'position',
  'meter',
  'description',
  'quantity',
  'currency',
  'amount',
] as const;

export interface InvoiceSelection {
  /** Invoices issued by this organization. */
  issuer: IOrganization;
  accountId?: string | undefined;
  period?: string | undefined;
}

const PAGE = 200;
const day = (d: Date | null | undefined) => (d ? d.toISOString().slice(0, 10) : '');

export function selectionWhere(selection: InvoiceSelection): FilterQuery<IInvoice> {
  const where: FilterQuery<IInvoice> & Record<string, unknown> = { issuer: selection.issuer.id };
  if (selection.accountId) where.account = selection.accountId;
  if (selection.period) where.period = selection.period;
  return where;
}

/** The selected invoices, by period then number, a page at a time. */
export async function* selectedInvoices(em: EntityManager, selection: InvoiceSelection): AsyncGenerator<IInvoice> {
  let offset = 0;
  for (;;) {
    const page = await em.find(Invoice, selectionWhere(selection), {
      populate: ['issuer', 'account'],
      orderBy: { period: 'desc', sequence: 'asc', id: 'asc' },
      limit: PAGE,
      offset,
    });
    yield* page;
    if (page.length < PAGE) return;
    offset += PAGE;
    em.clear();
  }
}

export function invoiceCsvRow(invoice: IInvoice, now: Date): string[] {
  return [
    invoice.id,
    invoice.number ?? '',
    (invoice.issuer as IOrganization).name,
    (invoice.account as IOrganization).name,
    invoice.account.id,
    invoice.period,
    invoice.planName,
    invoice.currency,
    shownStatus(invoice, now),
    day(invoice.issuedAt),
    day(invoice.dueAt),
    day(invoice.paidAt),
    String(invoice.billableDays),
    String(invoice.monthDays),
    centsDecimal(invoice.subtotalCents),
    (invoice.taxRateBasisPoints / 100).toFixed(2),
    centsDecimal(invoice.taxCents),
    centsDecimal(invoice.totalCents),
  ];
}

export async function* invoiceCsvRows(
  em: EntityManager,
  selection: InvoiceSelection,
  now: Date,
): AsyncGenerator<string[]> {
  for await (const invoice of selectedInvoices(em, selection)) yield invoiceCsvRow(invoice, now);
}

export async function* lineCsvRows(em: EntityManager, selection: InvoiceSelection): AsyncGenerator<string[]> {
  for await (const invoice of selectedInvoices(em, selection)) {
    const lines = await em.find(InvoiceLine, { invoice: invoice.id }, { orderBy: { position: 'asc' } });
    for (const line of lines) {
      yield [
        invoice.id,
        invoice.number ?? '',
        (invoice.account as IOrganization).name,
        invoice.period,
        String(line.position + 1),
        line.meter,
        line.description,
        line.quantity,
        invoice.currency,
        centsDecimal(line.amountCents),
      ];
    }
  }
}
