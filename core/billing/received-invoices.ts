// The invoices addressed to an organization (seed 000 §4.2 History, §4.4 Unpaid bills): what its
// parent issued to it — a distributor's wholesale invoices from the appliance owner, a partner's
// from its distributor, a customer's from its partner. A recipient never sees a draft; only the
// issuer changes an invoice. `findVisibleTo` is the one rule for opening one. An issued invoice
// past its due date is Overdue (as invoice-status.ts's shownStatus reads it).
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import { type IInvoice, Invoice } from './entities.ts';

/** An invoice `org` issued, or one addressed to it once issued; null for anyone else's (a 404). */
export async function findVisibleTo(em: EntityManager, org: IOrganization, id: string): Promise<IInvoice | null> {
  if (id.length > 36) return null;
  return em.findOne(
    Invoice,
    { id, $or: [{ issuer: org.id }, { account: org.id, status: { $ne: 'draft' } }] },
    { populate: ['issuer', 'account'] },
  );
}

/** Issued and paid invoices addressed to `org`, newest first (History); `unpaid`: issued only (Unpaid bills). */
export async function receivedInvoices(
  em: EntityManager,
  org: IOrganization,
  options: { unpaid?: boolean; limit?: number; offset?: number } = {},
): Promise<{ invoices: IInvoice[]; total: number }> {
  const [invoices, total] = await em.findAndCount(
    Invoice,
    { account: org.id, status: options.unpaid ? 'issued' : { $in: ['issued', 'paid'] } },
    {
      populate: ['issuer'],
      orderBy: { issuedAt: 'desc', id: 'asc' },
      limit: options.limit ?? 50,
      offset: options.offset ?? 0,
    },
  );
  return { invoices, total };
}

export interface UnpaidSummary {
  /** Per currency: everything owed, the part not yet due, the part past its due date. */
  totals: { currency: string; dueCents: number; overdueCents: number; totalCents: number }[];
  open: number;
  overdue: number;
}

/** The Unpaid bills summary: every issued invoice addressed to `org`, in one query. */
export async function unpaidSummary(em: EntityManager, org: IOrganization, now: Date): Promise<UnpaidSummary> {
  const rows = await em.find(
    Invoice,
    { account: org.id, status: 'issued' },
    { fields: ['status', 'dueAt', 'totalCents', 'currency'] },
  );
  const byCurrency = new Map<
    string,
    { currency: string; dueCents: number; overdueCents: number; totalCents: number }
  >();
  let overdue = 0;
  for (const row of rows) {
    const sum = byCurrency.get(row.currency) ?? { currency: row.currency, dueCents: 0, overdueCents: 0, totalCents: 0 };
    if (row.dueAt && row.dueAt.getTime() < now.getTime()) {
      sum.overdueCents += row.totalCents;
      overdue++;
    } else sum.dueCents += row.totalCents;
    sum.totalCents += row.totalCents;
    byCurrency.set(row.currency, sum);
  }
  return {
    totals: [...byCurrency.values()].sort((a, b) => a.currency.localeCompare(b.currency)),
    open: rows.length,
    overdue,
  };
}
