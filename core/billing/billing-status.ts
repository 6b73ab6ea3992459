// The Billing Status tiles of a portal (seed 000 §4): of the invoices the organization issued, accounts whose invoices are all paid (Current), and the amounts issued and not
// yet due (Due) or past their due date (Overdue), per currency; and the Amount column's next-cycle
// forecast: the current month's invoice as it would be computed now.
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import { monthSpan } from './billable-days.ts';
import { BillingAccount, Invoice } from './entities.ts';
import { invoiceFigures } from './invoice-lines.ts';
import { meterAccount } from './metering.ts';
import { effectivePlans } from './plans.ts';

export interface BillingTiles {
  /** Invoiced accounts with nothing unpaid. */
  current: number;
  /** Amount per currency issued and not yet due, and how many accounts owe it. */
  due: { accounts: number; amounts: Record<string, number> };
  overdue: { accounts: number; amounts: Record<string, number> };
}

export async function billingTiles(em: EntityManager, issuer: IOrganization, now: Date): Promise<BillingTiles> {
  const invoices = await em.find(
    Invoice,
    { issuer: issuer.id, status: { $in: ['issued', 'paid'] } },
    { fields: ['account', 'status', 'dueAt', 'totalCents', 'currency'] },
  );
  const tiles: BillingTiles = { current: 0, due: { accounts: 0, amounts: {} }, overdue: { accounts: 0, amounts: {} } };
  const state = new Map<string, 'current' | 'due' | 'overdue'>();
  const rank = { current: 0, due: 1, overdue: 2 } as const;
  for (const inv of invoices) {
    const s = inv.status === 'paid' ? 'current' : inv.dueAt && inv.dueAt < now ? 'overdue' : 'due';
    if (s !== 'current') {
      const bucket = tiles[s].amounts;
      bucket[inv.currency] = (bucket[inv.currency] ?? 0) + inv.totalCents;
    }
    const before = state.get(inv.account.id) ?? 'current';
    state.set(inv.account.id, rank[s] > rank[before] ? s : before);
  }
  for (const s of state.values()) {
    if (s === 'current') tiles.current++;
    else tiles[s].accounts++;
  }
  return tiles;
}

export interface Forecast {
  currency: string;
  totalCents: number;
}

/** The accounts' next invoice as the usage so far this month prices it (the Amount column). */
export async function forecasts(
  em: EntityManager,
  accounts: readonly IOrganization[],
  now: Date,
): Promise<Map<string, Forecast>> {
  const span = monthSpan(now.toISOString().slice(0, 7));
  const found = new Map<string, Forecast>();
  const plans = await effectivePlans(em, accounts);
  for (const account of accounts) {
    const plan = plans.get(account.id);
    if (!plan) continue;
    const metered = await meterAccount(em, account, plan.meters, plan.period, span);
    if (!metered.range) continue;
    const billing = await em.findOne(BillingAccount, { organization: account.id });
    const figures = invoiceFigures(
      plan,
      metered.quantities,
      metered.range.days,
      span.days,
      billing?.taxRateBasisPoints ?? 0,
    );
    found.set(account.id, { currency: plan.currency, totalCents: figures.totalCents });
  }
  return found;
}
