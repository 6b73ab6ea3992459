// Billing › Payment details: whom an organization's own invoices (from its parent) are addressed
// to — contact name, postal address, tax id and the e-mail invoices are sent to — set by the
// organization itself. Never card or bank data: payment is collected by the issuing MSP's own
// accounting tool or PSA. The payment terms are the issuer's to set (account-billing.ts).
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import {
  BillingAccount,
  type IBillingAccount,
  type IInvoice,
  type InvoiceParties,
  type InvoiceParty,
} from './entities.ts';
import { billingOf } from './plans.ts';

const detailsSchema = z.object({
  billingName: z.string().trim().max(200, 'At most 200 characters.'),
  billingEmail: z.union([z.literal(''), z.email('Not an email address.').max(320)]),
  billingAddress: z.string().trim().max(1000, 'At most 1000 characters.'),
  // Tax ids (VAT, EIN, ABN …) are letters, digits and a few separators.
  taxId: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9 .\-/]{0,64}$/, 'Letters, digits, spaces, dots, dashes or slashes, at most 64.'),
});
export type PaymentDetailsInput = z.input<typeof detailsSchema>;

export function paymentDetailsValues(billing: IBillingAccount | null): Record<string, string> {
  return {
    billingName: billing?.billingName ?? '',
    billingEmail: billing?.billingEmail ?? '',
    billingAddress: billing?.billingAddress ?? '',
    taxId: billing?.taxId ?? '',
  };
}

export async function savePaymentDetails(
  em: EntityManager,
  org: IOrganization,
  input: PaymentDetailsInput,
  actor: AuditActor,
  now: Date,
): Promise<IBillingAccount> {
  const parsed = detailsSchema.safeParse(input);
  if (!parsed.success) {
    const fields: Record<string, string> = {};
    for (const issue of parsed.error.issues) fields[String(issue.path[0])] ??= issue.message;
    throw new ValidationError(fields);
  }
  const data = parsed.data;
  const billing = await billingOf(em, org, now);
  billing.billingName = data.billingName || null;
  billing.billingEmail = data.billingEmail || null;
  billing.billingAddress = data.billingAddress.replace(/\r\n?/g, '\n') || null;
  billing.taxId = data.taxId || null;
  billing.updatedAt = now;
  await em.flush();
  await recordAudit(em, {
    organization: org,
    activity: 'Billing changed',
    account: org.name,
    description: `Payment details of ${org.name}: invoices to ${billing.billingEmail ?? org.contactEmail ?? 'no address'}${billing.taxId ? `, tax id ${billing.taxId}` : ''}.`,
    actor,
  });
  return billing;
}

/** The "Bill to" block of an invoice: the account's payment details, else its own name, address and contact. */
export function billTo(account: IOrganization, billing: IBillingAccount | null): InvoiceParty {
  const name = billing?.billingName ? `${account.name}, attn. ${billing.billingName}` : account.name;
  return {
    name,
    address: billing?.billingAddress ?? account.address,
    email: billing?.billingEmail ?? account.contactEmail,
    taxId: billing?.taxId ?? null,
  };
}

/** An invoice's issuer and "Bill to": as issued (kept on the invoice), or for a draft as they read now. */
export async function invoiceParties(em: EntityManager, invoice: IInvoice): Promise<InvoiceParties> {
  if (invoice.parties) return invoice.parties;
  const issuer = await em.findOneOrFail(Organization, { id: invoice.issuer.id });
  const account = await em.findOneOrFail(Organization, { id: invoice.account.id });
  const billing = await em.findOne(BillingAccount, { organization: account.id });
  return {
    issuer: { name: issuer.name, address: issuer.address, email: issuer.contactEmail },
    account: billTo(account, billing),
  };
}
