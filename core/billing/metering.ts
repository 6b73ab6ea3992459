// The billed quantity of each of a plan's meters for an account and a month: for the account and
// every organization under it (a partner billed wholesale pays for its customers), each
// organization's figure over its billable days — the maximum, or the average of the days sampled
// — pro-rated by billable days over the month's days (monthly plans), then summed. So a partner's
// wholesale quantity is exactly the sum of its customers' retail quantities (docs/BILLING.md).
import type { EntityManager } from '@mikro-orm/core';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { pathsUnder } from '../tenancy/organizations.ts';
import { type BillableRange, billableRange, type MonthSpan } from './billable-days.ts';
import { BillingAccount, type IBillingAccount, type PlanMeter, type PlanPeriod } from './entities.ts';
import { dailyValues, unitDivisor } from './meters.ts';
import { add, type Fraction, fraction, mul, ZERO } from './money.ts';

export interface MeteredAccount {
  /** The account's own billable days (null: not billable this month). */
  range: BillableRange | null;
  /** Per meter of the plan, in its order. */
  quantities: Fraction[];
}

/** The billable range of every organization in the account's subtree (the account included). */
async function rangesUnder(
  em: EntityManager,
  account: IOrganization,
  span: MonthSpan,
): Promise<Map<string, BillableRange>> {
  const orgs = await em.find(Organization, { path: pathsUnder(account.path) });
  const billing = await em.find(BillingAccount, { organization: { $in: orgs.map((o) => o.id) } });
  const byOrg = new Map<string, IBillingAccount>(billing.map((b) => [b.organization.id, b]));
  const ranges = new Map<string, BillableRange>();
  for (const org of orgs) {
    const range = billableRange(org, byOrg.get(org.id), span);
    if (range) ranges.set(org.id, range);
  }
  return ranges;
}

export async function meterAccount(
  em: EntityManager,
  account: IOrganization,
  meters: readonly PlanMeter[],
  period: PlanPeriod,
  span: MonthSpan,
): Promise<MeteredAccount> {
  const ranges = await rangesUnder(em, account, span);
  const quantities: Fraction[] = [];
  for (const meter of meters) {
    const perOrg = new Map<string, { max: number; sum: number; count: number }>();
    for (const v of await dailyValues(em, meter.meter, account.path, span.firstDay, span.nextFirstDay)) {
      const range = ranges.get(v.organizationId);
      if (!range || v.day < range.fromDay || v.day >= range.toDay) continue;
      const acc = perOrg.get(v.organizationId) ?? { max: 0, sum: 0, count: 0 };
      acc.max = Math.max(acc.max, v.value);
      acc.sum += v.value;
      acc.count += 1;
      perOrg.set(v.organizationId, acc);
    }
    const divisor = BigInt(unitDivisor(meter.meter));
    let total = ZERO;
    for (const [orgId, acc] of perOrg) {
      const range = ranges.get(orgId) as BillableRange;
      const measured =
        meter.measure === 'max'
          ? fraction(BigInt(Math.round(acc.max)), divisor)
          : fraction(BigInt(Math.round(acc.sum)), BigInt(acc.count) * divisor);
      // Annual plans bill a whole term at the month's figure; monthly ones the month's share.
      total = add(total, period === 'monthly' ? mul(measured, fraction(range.days, span.days)) : measured);
    }
    quantities.push(total);
  }
  return { range: ranges.get(account.id) ?? null, quantities };
}
