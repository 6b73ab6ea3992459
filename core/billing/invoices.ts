// Monthly invoices from the usage history: a draft per account and month, computed from its plan
// (metering.ts, invoice-lines.ts) and recomputed while it is a draft; an issued or paid invoice
// is never changed. An account with no billable day in the month gets none. Annual plans are
// invoiced up front in the first month of each 12-month term from the account's billing start,
// and in its later months only for mid-term additions (annual-billing.ts); none otherwise.
import type { EntityManager } from '@mikro-orm/core';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { annualFigures, billedBeforeInTerm } from './annual-billing.ts';
import { termOf } from './annual-terms.ts';
import { billingStart, monthSpan } from './billable-days.ts';
import { BillingAccount, type IInvoice, Invoice, InvoiceLine } from './entities.ts';
import { type InvoiceFigures, invoiceFigures } from './invoice-lines.ts';
import { meterAccount } from './metering.ts';
import { effectivePlan } from './plans.ts';

export interface DraftOptions {
  kindLabel?: (kind: string) => string;
}

/** The account's invoice of the month, made or recomputed while a draft; null when nothing is billed. */
export async function draftInvoice(
  em: EntityManager,
  account: IOrganization,
  month: string,
  now: Date,
  options: DraftOptions = {},
): Promise<IInvoice | null> {
  const span = monthSpan(month);
  const existing = await em.findOne(Invoice, { account, period: month });
  if (existing && existing.status !== 'draft') return existing;
  const plan = await effectivePlan(em, account);
  const billing = await em.findOne(BillingAccount, { organization: account.id });
  const start = billingStart(account, billing);
  const metered = plan && start ? await meterAccount(em, account, plan.meters, plan.period, span) : null;
  const tax = billing?.taxRateBasisPoints ?? 0;
  let figures: InvoiceFigures | null = null;
  if (plan && start && metered?.range) {
    const term = termOf(start, month);
    if (plan.period === 'monthly') {
      figures = invoiceFigures(plan, metered.quantities, metered.range.days, span.days, tax, options.kindLabel);
    } else if (term) {
      const before = await billedBeforeInTerm(em, [{ account, meters: plan.meters, term }], month);
      figures = annualFigures(plan, term, metered, before.get(account.id) ?? [], span.days, tax, options.kindLabel);
    }
  }
  if (!figures || !metered?.range || !plan) {
    if (existing) em.remove(existing);
    await em.flush();
    return null;
  }
  const invoice =
    existing ??
    em.create(Invoice, {
      issuer: plan.issuer,
      account,
      period: month,
      planName: plan.name,
      currency: plan.currency,
      subtotalCents: 0,
      taxRateBasisPoints: tax,
      taxCents: 0,
      totalCents: 0,
      billableDays: 0,
      monthDays: span.days,
      createdAt: now,
    });
  if (existing) await em.nativeDelete(InvoiceLine, { invoice: existing.id });
  Object.assign(invoice, {
    issuer: plan.issuer,
    planName: plan.name,
    currency: plan.currency,
    subtotalCents: figures.subtotalCents,
    taxRateBasisPoints: tax,
    taxCents: figures.taxCents,
    totalCents: figures.totalCents,
    billableDays: plan.period === 'monthly' ? metered.range.days : span.days,
    monthDays: span.days,
  });
  figures.lines.forEach((line, position) => {
    em.create(InvoiceLine, { invoice, position, ...line });
  });
  await em.flush();
  return invoice;
}

/**
 * Each account's draft in an EntityManager of its own, so the work per account stays the same
 * however many came before (one growing identity map would make every flush slower).
 */
async function draftEach(
  em: EntityManager,
  ids: readonly string[],
  month: string,
  now: Date,
  options: DraftOptions,
  skipExisting: boolean,
): Promise<IInvoice[]> {
  const made: IInvoice[] = [];
  for (const id of ids) {
    const fork = em.fork();
    if (skipExisting && (await fork.count(Invoice, { account: id, period: month }))) continue;
    const account = await fork.findOneOrFail(Organization, { id });
    const invoice = await draftInvoice(fork, account, month, now, options);
    if (invoice) made.push(invoice);
  }
  return made;
}

/** The drafts of every account directly under `issuer` for the month. */
export async function draftInvoicesOf(
  em: EntityManager,
  issuer: IOrganization,
  month: string,
  now: Date,
  options: DraftOptions = {},
): Promise<IInvoice[]> {
  const accounts = await em.find(
    Organization,
    { parent: issuer.id },
    { orderBy: { name: 'asc', id: 'asc' }, fields: ['id', 'name'] },
  );
  return draftEach(
    em,
    accounts.map((a) => a.id),
    month,
    now,
    options,
    false,
  );
}

/**
 * The hourly maintenance's part: once a month is over, a draft for every account on a plan that
 * has none yet (drafts already made are left for the MSP to recompute or issue).
 */
export async function draftMissingInvoices(em: EntityManager, month: string, now: Date): Promise<number> {
  const plans = await em.find(BillingAccount, { $or: [{ plan: { $ne: null } }, { defaultPlan: { $ne: null } }] });
  const candidates = new Set<string>();
  for (const b of plans) {
    if (b.plan) candidates.add(b.organization.id);
    if (b.defaultPlan) {
      for (const child of await em.find(Organization, { parent: b.organization.id }, { fields: ['id'] })) {
        candidates.add(child.id);
      }
    }
  }
  return (await draftEach(em, [...candidates].sort(), month, now, {}, true)).length;
}

export async function invoiceLines(em: EntityManager, invoice: IInvoice) {
  return em.find(InvoiceLine, { invoice }, { orderBy: { position: 'asc' } });
}
