// Issuing an invoice (numbered per issuer, due after the account's payment terms, mailed with its
// PDF to the account's billing contact through the outbox), marking it paid (by hand, the API or
// an integration: `paidBy` says which), and the status a reader sees: an issued invoice past its
// due date reads Overdue.
import type { EntityManager } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { AppError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { MailFile, MailMessage } from '../mail/entities.ts';
import { BillingAccount, type IInvoice, Invoice } from './entities.ts';
import { invoicePdf, invoiceTitle } from './invoice-pdf.ts';
import { invoiceLines } from './invoices.ts';
import { formatMoney } from './money.ts';
import { invoiceParties } from './payment-details.ts';

export type ShownStatus = 'draft' | 'issued' | 'paid' | 'overdue';

export const STATUS_LABELS: Record<ShownStatus, string> = {
  draft: 'Draft',
  issued: 'Issued',
  paid: 'Paid',
  overdue: 'Overdue',
};

export function shownStatus(invoice: IInvoice, now: Date): ShownStatus {
  if (invoice.status === 'issued' && invoice.dueAt && invoice.dueAt.getTime() < now.getTime()) return 'overdue';
  return invoice.status;
}

/** The issuer's next running number: `<issuer code>-<year>-<00001>`, one sequence per issuer. */
async function nextNumber(em: EntityManager, issuer: IOrganization, now: Date) {
  const rows = (await em
    .getConnection()
    .execute(
      'select coalesce(max(sequence), 0) + 1 as next from invoices where issuer_id = ?',
      [issuer.id],
      'all',
    )) as {
    next: number;
  }[];
  const sequence = Number(rows[0]?.next ?? 1);
  return { sequence, number: `${issuer.code ?? 'INV'}-${now.getUTCFullYear()}-${String(sequence).padStart(5, '0')}` };
}

export async function invoicePdfOf(em: EntityManager, invoice: IInvoice): Promise<Buffer> {
  const parties = await invoiceParties(em, invoice);
  return invoicePdf({ invoice, lines: await invoiceLines(em, invoice), ...parties });
}

export async function issueInvoice(
  em: EntityManager,
  invoice: IInvoice,
  now: Date,
  actor: AuditActor,
): Promise<IInvoice> {
  if (invoice.status !== 'draft') throw new AppError('invoice_issued', 'This invoice has been issued already.', 409);
  const issuer = await em.findOneOrFail(Organization, { id: invoice.issuer.id });
  const account = await em.findOneOrFail(Organization, { id: invoice.account.id });
  const billing = await em.findOne(BillingAccount, { organization: account.id });
  const { sequence, number } = await nextNumber(em, issuer, now);
  invoice.status = 'issued';
  invoice.sequence = sequence;
  invoice.number = number;
  invoice.issuedAt = now;
  invoice.dueAt = new Date(now.getTime() + (billing?.paymentTermsDays ?? 14) * 86_400_000);
  // Issued, it reads the same ever after, whatever later changes to either side's details.
  invoice.parties = await invoiceParties(em, invoice);
  const to = billing?.billingEmail ?? account.contactEmail ?? null;
  invoice.mailedTo = to;
  await em.flush();
  if (to) {
    const pdf = await invoicePdfOf(em, invoice);
    const mail = em.create(MailMessage, {
      createdAt: now,
      to,
      subject: `${invoiceTitle(invoice)} from ${issuer.name}`,
      text: [
        `${issuer.name} has issued ${invoiceTitle(invoice).toLowerCase()} to ${account.name} for ${invoice.period}: ${formatMoney(invoice.totalCents, invoice.currency)}, due ${invoice.dueAt.toISOString().slice(0, 10)}.`,
        '',
        `The invoice is attached as ${number}.pdf.`,
        '',
        'Sent by Holdfast.',
      ].join('\n'),
      status: 'outbox',
      sentAt: null,
      error: null,
      html: null,
      organization: issuer,
      notification: null,
      attempts: 0,
      nextAttemptAt: now,
    });
    em.create(MailFile, { mail, fileName: `${number}.pdf`, contentType: 'application/pdf', content: pdf });
    await em.flush();
  }
  await recordAudit(em, {
    organization: issuer,
    activity: 'Invoice issued',
    account: account.name,
    description: `Issued invoice ${number} to ${account.name} for ${invoice.period}: ${formatMoney(invoice.totalCents, invoice.currency)}${to ? `, mailed to ${to}` : ' (no billing contact: not mailed)'}.`,
    actor,
  });
  return invoice;
}

export async function markInvoicePaid(
  em: EntityManager,
  invoice: IInvoice,
  now: Date,
  actor: AuditActor,
): Promise<IInvoice> {
  if (invoice.status === 'draft') throw new AppError('invoice_draft', 'Issue the invoice before marking it paid.', 409);
  if (invoice.status === 'paid') return invoice;
  invoice.status = 'paid';
  invoice.paidAt = now;
  invoice.paidBy = (actor.label ?? 'unknown').slice(0, 200);
  await em.flush();
  const issuer = await em.findOneOrFail(Organization, { id: invoice.issuer.id });
  const account = await em.findOneOrFail(Organization, { id: invoice.account.id });
  await recordAudit(em, {
    organization: issuer,
    activity: 'Invoice paid',
    account: account.name,
    description: `Marked invoice ${invoice.number} of ${account.name} paid: ${formatMoney(invoice.totalCents, invoice.currency)}.`,
    actor,
  });
  return invoice;
}

/** An invoice `issuer` issued, or null (another organization's, those under it included). */
export async function findIssuedBy(em: EntityManager, issuer: IOrganization, id: string): Promise<IInvoice | null> {
  if (id.length > 36) return null;
  return em.findOne(Invoice, { id, issuer: issuer.id }, { populate: ['issuer', 'account'] });
}
