// The Billing Status tiles of a portal (seed 000 §4): of the invoices the organization issued, accounts whose invoices are all paid (Current), and the amounts issued and not
// yet due (Due) or past their due date (Overdue), per currency; and the Amount column's next-cycle
// forecast: the current month's invoice as it would be computed now.
import type { EntityManager } from '@mikro-orm/core';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { columnDate } from '../tenancy/account-health.ts';
import { annualFigures, billedBeforeInTerm, type TermRequest } from './annual-billing.ts';
import { termOf } from './annual-terms.ts';
import { billingStart, monthSpan } from './billable-days.ts';
import { BillingAccount, type IBillingAccount } from './entities.ts';
import { invoiceFigures } from './invoice-lines.ts';
import { meterAccounts } from './metering.ts';
import { planFrom } from './plans.ts';

export interface BillingTiles {
  /** Invoiced accounts with nothing unpaid. */
  current: number;
  /** Amount per currency issued and not yet due, and how many accounts owe it. */
  due: { accounts: number; amounts: Record<string, number> };
  overdue: { accounts: number; amounts: Record<string, number> };
}

export async function billingTiles(em: EntityManager, issuer: IOrganization, now: Date): Promise<BillingTiles> {
  // Plain rows: every Accounts page asks, and most portals issue no invoices.
  const invoices = (await em.getConnection().execute(
    `select account_id as account, status, due_at as due, total_cents as cents, currency from invoices
     where issuer_id = ? and status in ('issued', 'paid')`,
    [issuer.id],
    'all',
  )) as { account: string; status: string; due: unknown; cents: number | string; currency: string }[];
  const tiles: BillingTiles = { current: 0, due: { accounts: 0, amounts: {} }, overdue: { accounts: 0, amounts: {} } };
  const state = new Map<string, 'current' | 'due' | 'overdue'>();
  const rank = { current: 0, due: 1, overdue: 2 } as const;
  for (const inv of invoices) {
    const dueAt = columnDate(inv.due);
    const s = inv.status === 'paid' ? 'current' : dueAt && dueAt < now ? 'overdue' : 'due';
    if (s !== 'current') {
      const bucket = tiles[s].amounts;
      bucket[inv.currency] = (bucket[inv.currency] ?? 0) + Number(inv.cents);
    }
    const before = state.get(inv.account) ?? 'current';
    state.set(inv.account, rank[s] > rank[before] ? s : before);
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

/**
 * The accounts' next invoice as the usage so far this month prices it (the Amount column): the
 * same figures a draft of the current month would have, in a few set-based queries for the whole
 * page — the accounts' and their parents' billing rows with the plans, then metering.ts's queries.
 */
export async function forecasts(
  em: EntityManager,
  accountIds: readonly string[],
  now: Date,
): Promise<Map<string, Forecast>> {
  const found = new Map<string, Forecast>();
  const candidates = await mayHavePlan(em, accountIds);
  if (candidates.length === 0) return found;
  const accounts = await em.find(Organization, { id: { $in: candidates } });
  const span = monthSpan(now.toISOString().slice(0, 7));
  const parentIds = accounts.flatMap((a) => (a.parent ? [a.parent.id] : []));
  const rows = await em.find(
    BillingAccount,
    { organization: { $in: [...new Set([...accounts.map((a) => a.id), ...parentIds])] } },
    { populate: ['plan', 'defaultPlan'] },
  );
  const billing = new Map<string, IBillingAccount>(rows.map((b) => [b.organization.id, b]));
  const priced = accounts.flatMap((account) => {
    const plan = planFrom(account, billing);
    return plan ? [{ account, plan }] : [];
  });
  const metered = await meterAccounts(
    em,
    priced.map(({ account, plan }) => ({ account, meters: plan.meters, period: plan.period })),
    span,
  );
  // Annual plans: the term of each, and (later months of a term) what the term billed before.
  const terms = new Map<string, TermRequest>();
  for (const { account, plan } of priced) {
    const start = billingStart(account, billing.get(account.id));
    const term = plan.period === 'annual' && start ? termOf(start, span.month) : null;
    if (term) terms.set(account.id, { account, meters: plan.meters, term });
  }
  const midTerm = [...terms.values()].filter((t) => t.term.monthOfTerm > 0);
  const before = await billedBeforeInTerm(em, midTerm, span.month);
  for (const { account, plan } of priced) {
    const m = metered.get(account.id);
    if (!m?.range) continue;
    const tax = billing.get(account.id)?.taxRateBasisPoints ?? 0;
    const term = terms.get(account.id)?.term;
    const figures =
      plan.period === 'monthly'
        ? invoiceFigures(plan, m.quantities, m.range.days, span.days, tax)
        : term
          ? annualFigures(plan, term, m, before.get(account.id) ?? [], span.days, tax)
          : null;
    if (figures) found.set(account.id, { currency: plan.currency, totalCents: figures.totalCents });
  }
  return found;
}

/**
 * Those of the accounts with a plan of their own or a parent's default: one plain statement, so a
 * page of accounts on no plan (most portals) loads no entity for its Amount column.
 */
async function mayHavePlan(em: EntityManager, accountIds: readonly string[]): Promise<string[]> {
  if (accountIds.length === 0) return [];
  const rows = (await em.getConnection().execute(
    `select distinct o.id from organizations o
     join billing_accounts b on (b.organization_id = o.id and b.plan_id is not null)
       or (b.organization_id = o.parent_id and b.default_plan_id is not null)
     where o.id in (${accountIds.map(() => '?').join(', ')})`,
    [...accountIds],
    'all',
  )) as { id: string }[];
  return rows.map((r) => r.id);
}
