// Issued invoices marked paid by a PSA integration (issue 24; docs/BILLING.md "PSA"): the MSP
// records each invoice the appliance issued in its PSA (the appliance's number as the PSA
// invoice's reference) and takes the payment there; the integration of the issuing organization
// asks the PSA, for every issued invoice of an account mapped to a PSA company, whether that
// invoice is paid, and marks it paid "by the integration" (audited "Invoice paid"). Marking is
// idempotent (a paid invoice is never asked about again); the check runs from the integration
// sender at most once an hour per integration (its time kept with the integration, whichever node
// sends), and a PSA that does not answer fails
// the pass like a ticket would: retried with the sender's backoff, one mail per failure period.
import { type IInvoice, Invoice } from '../billing/entities.ts';
import { markInvoicePaid } from '../billing/invoice-status.ts';
import type { IntegrationKind, SendTarget } from './contract.ts';
import { type IIntegration, Integration, IntegrationCompany } from './entities.ts';

/** How often each integration asks its PSA about the issued invoices. */
export const INVOICE_CHECK_MS = 60 * 60_000;
/** Invoices asked about per check (the oldest first; the rest at the next check). */
const INVOICES_PER_CHECK = 200;

/** Whether this integration's kind reads paid invoices back and its hourly check is due. */
export function invoiceCheckDue(
  kind: IntegrationKind,
  integration: Pick<IIntegration, 'invoicesCheckedAt'>,
  now: Date,
): boolean {
  if (!kind.invoices) return false;
  const last = integration.invoicesCheckedAt;
  return !last || now.getTime() - last.getTime() >= INVOICE_CHECK_MS;
}

/** Asks the PSA about the organization's issued invoices; returns those it marked paid. */
export async function syncPaidInvoices(
  kind: IntegrationKind,
  target: SendTarget<Record<string, unknown>>,
  now: Date,
): Promise<IInvoice[]> {
  const reader = kind.invoices?.(target);
  if (!reader) return [];
  const em = target.em.fork();
  const open = await em.find(
    Invoice,
    { issuer: target.organizationId, status: 'issued' },
    { orderBy: { issuedAt: 'asc', id: 'asc' }, limit: INVOICES_PER_CHECK },
  );
  const mappings = open.length
    ? await em.find(IntegrationCompany, {
        integration: target.integrationId,
        account: { $in: [...new Set(open.map((i) => i.account.id))] },
      })
    : [];
  const companyOf = new Map(mappings.map((m) => [m.account.id, m.companyId]));
  const paid: IInvoice[] = [];
  for (const invoice of open) {
    const companyId = companyOf.get(invoice.account.id);
    if (!companyId || !invoice.number) continue;
    const found = await reader.findInvoice(companyId, invoice.number);
    if (!found || !(await reader.isPaid(found))) continue;
    await markInvoicePaid(em, invoice, now, { label: `${kind.label} integration`, id: null });
    paid.push(invoice);
  }
  await em.nativeUpdate(Integration, { id: target.integrationId }, { invoicesCheckedAt: now });
  return paid;
}
