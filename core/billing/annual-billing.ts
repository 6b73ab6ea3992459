// An annual plan's invoice figures for a month (annual-terms.ts has the rule): the term's first
// month bills the month's quantity up front; a later month bills the mid-term additions above the
// highest quantity of the term's earlier months, each metered again from the usage history (the
// same figures their invoices were made from, whatever became of those invoices). One account
// (a draft) or a page of them (the Amount column) in queries per earlier month, not per account.
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import { type AnnualTerm, earlierMonthsOfTerm, midTermAddition } from './annual-terms.ts';
import { monthSpan } from './billable-days.ts';
import type { PlanMeter } from './entities.ts';
import { type InvoiceFigures, invoiceFigures, type PricedPlan, trueUpFigures } from './invoice-lines.ts';
import { type MeteredAccount, meterAccounts } from './metering.ts';
import { type Fraction, max, ZERO } from './money.ts';

export interface TermRequest {
  account: IOrganization;
  meters: readonly PlanMeter[];
  term: AnnualTerm;
}

/** Per account: per meter, the highest quantity billed in the term's months before `month`. */
export async function billedBeforeInTerm(
  em: EntityManager,
  requests: readonly TermRequest[],
  month: string,
): Promise<Map<string, Fraction[]>> {
  const highest = new Map<string, Fraction[]>(requests.map((r) => [r.account.id, r.meters.map(() => ZERO)]));
  const byMonth = new Map<string, TermRequest[]>();
  for (const r of requests) {
    for (const earlier of earlierMonthsOfTerm(r.term, month))
      byMonth.set(earlier, [...(byMonth.get(earlier) ?? []), r]);
  }
  for (const [earlier, those] of [...byMonth].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const metered = await meterAccounts(
      em,
      those.map((r) => ({ account: r.account, meters: r.meters, period: 'annual' as const })),
      monthSpan(earlier),
    );
    for (const r of those) {
      const quantities = metered.get(r.account.id)?.quantities ?? [];
      const mark = highest.get(r.account.id) as Fraction[];
      quantities.forEach((q, i) => {
        mark[i] = max(mark[i] ?? ZERO, q);
      });
    }
  }
  return highest;
}

/** The month's figures on an annual plan: up front in the term's first month, else its true-ups (or null). */
export function annualFigures(
  plan: PricedPlan,
  term: AnnualTerm,
  metered: MeteredAccount,
  billedBefore: readonly Fraction[],
  monthDays: number,
  taxRateBasisPoints: number,
  kindLabel?: (kind: string) => string,
): InvoiceFigures | null {
  if (!metered.range) return null;
  if (term.monthOfTerm === 0) {
    return invoiceFigures(plan, metered.quantities, monthDays, monthDays, taxRateBasisPoints, kindLabel, term);
  }
  const fromDay = metered.range.fromDay;
  const additions = plan.meters.map((meter, i) =>
    midTermAddition(
      term,
      meter.tiers,
      metered.quantities[i] ?? ZERO,
      billedBefore[i] ?? ZERO,
      metered.running[i] ?? null,
      fromDay,
    ),
  );
  return trueUpFigures(plan, term, additions, taxRateBasisPoints, kindLabel);
}
