// The billed quantity of each of a plan's meters for an account and a month: for the account and
// every organization under it (a partner billed wholesale pays for its customers), each
// organization's figure over its billable days — the maximum, or the average of the days sampled
// — pro-rated by billable days over the month's days (monthly plans), then summed. So a partner's
// wholesale quantity is exactly the sum of its customers' retail quantities (docs/BILLING.md).
// One account (a draft) or a page of them (the Amount column) are metered by the same code from
// the same few set-based queries: the subtrees' organizations, their billing rows, and one query
// per distinct meter.
import type { EntityManager } from '@mikro-orm/core';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { pathsUnder } from '../tenancy/organizations.ts';
import type { RunningQuantity } from './annual-terms.ts';
import { type BillableRange, billableRange, type MonthSpan } from './billable-days.ts';
import { BillingAccount, type IBillingAccount, type PlanMeter, type PlanPeriod } from './entities.ts';
import { type DailyValue, dailyValuesUnder, unitDivisor } from './meters.ts';
import { add, type Fraction, fraction, mul, ZERO } from './money.ts';

export interface MeteredAccount {
  /** The account's own billable days (null: not billable this month). */
  range: BillableRange | null;
  /** Per meter of the plan, in its order. */
  quantities: Fraction[];
  /**
   * Annual plans, per meter: the month's running quantity day by day (maximum measures; null for
   * averages), for dating mid-term additions (annual-terms.ts).
   */
  running: (RunningQuantity[] | null)[];
}

export interface MeterRequest {
  account: IOrganization;
  meters: readonly PlanMeter[];
  period: PlanPeriod;
}

/** The usage of the accounts' subtrees for a month, loaded once for all of them. */
interface SubtreeUsage {
  /** Every organization under any of the accounts (the accounts included) billable in the month. */
  ranges: Map<string, BillableRange>;
  paths: Map<string, string>;
  /** Per meter: the daily figures of those organizations. */
  values: Map<string, DailyValue[]>;
}

async function loadUsage(
  em: EntityManager,
  accounts: readonly IOrganization[],
  meters: ReadonlySet<string>,
  span: MonthSpan,
): Promise<SubtreeUsage> {
  const under = accounts.map((a) => ({ path: pathsUnder(a.path) }));
  const orgs = await em.find(Organization, { $or: under });
  const billing = await em.find(BillingAccount, { organization: { $or: under } });
  const byOrg = new Map<string, IBillingAccount>(billing.map((b) => [b.organization.id, b]));
  const ranges = new Map<string, BillableRange>();
  const paths = new Map<string, string>();
  for (const org of orgs) {
    const range = billableRange(org, byOrg.get(org.id), span);
    if (range) ranges.set(org.id, range);
    paths.set(org.id, org.path);
  }
  const prefixes = accounts.map((a) => a.path);
  const values = new Map<string, DailyValue[]>();
  for (const meter of meters) {
    values.set(meter, await dailyValuesUnder(em, meter, prefixes, span.firstDay, span.nextFirstDay));
  }
  return { ranges, paths, values };
}

/** One account's quantities from the loaded usage (only the organizations under its path count). */
function quantitiesOf(request: MeterRequest, usage: SubtreeUsage, span: MonthSpan): MeteredAccount {
  const { account, meters, period } = request;
  const quantities: Fraction[] = [];
  const running: (RunningQuantity[] | null)[] = [];
  for (const meter of meters) {
    const perOrg = new Map<string, { max: number; sum: number; count: number }>();
    const counted: DailyValue[] = [];
    for (const v of usage.values.get(meter.meter) ?? []) {
      const range = usage.ranges.get(v.organizationId);
      if (!range || v.day < range.fromDay || v.day >= range.toDay) continue;
      if (!usage.paths.get(v.organizationId)?.startsWith(account.path)) continue;
      counted.push(v);
      const acc = perOrg.get(v.organizationId) ?? { max: 0, sum: 0, count: 0 };
      acc.max = Math.max(acc.max, v.value);
      acc.sum += v.value;
      acc.count += 1;
      perOrg.set(v.organizationId, acc);
    }
    const divisor = BigInt(unitDivisor(meter.meter));
    let total = ZERO;
    for (const [orgId, acc] of perOrg) {
      const range = usage.ranges.get(orgId) as BillableRange;
      const measured =
        meter.measure === 'max'
          ? fraction(BigInt(Math.round(acc.max)), divisor)
          : fraction(BigInt(Math.round(acc.sum)), BigInt(acc.count) * divisor);
      // Annual plans bill a whole term at the month's figure; monthly ones the month's share.
      total = add(total, period === 'monthly' ? mul(measured, fraction(range.days, span.days)) : measured);
    }
    quantities.push(total);
    running.push(period === 'annual' && meter.measure === 'max' ? runningMaximum(counted, divisor) : null);
  }
  return { range: usage.ranges.get(account.id) ?? null, quantities, running };
}

/** Day by day, the sum of each organization's maximum so far: the month's maximum measure up to that day. */
function runningMaximum(values: DailyValue[], divisor: bigint): RunningQuantity[] {
  const sorted = [...values].sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : 0));
  const best = new Map<string, number>();
  const days: RunningQuantity[] = [];
  let sum = 0;
  for (const v of sorted) {
    const value = Math.round(v.value);
    const before = best.get(v.organizationId) ?? 0;
    if (value > before) {
      sum += value - before;
      best.set(v.organizationId, value);
    }
    const quantity = fraction(BigInt(sum), divisor);
    const last = days[days.length - 1];
    if (last?.day === v.day) last.quantity = quantity;
    else days.push({ day: v.day, quantity });
  }
  return days;
}

/** Several accounts metered at once (the accounts list's Amount column), keyed by account id. */
export async function meterAccounts(
  em: EntityManager,
  requests: readonly MeterRequest[],
  span: MonthSpan,
): Promise<Map<string, MeteredAccount>> {
  const found = new Map<string, MeteredAccount>();
  if (requests.length === 0) return found;
  const meters = new Set(requests.flatMap((r) => r.meters.map((m) => m.meter)));
  const usage = await loadUsage(
    em,
    requests.map((r) => r.account),
    meters,
    span,
  );
  for (const request of requests) found.set(request.account.id, quantitiesOf(request, usage, span));
  return found;
}

export async function meterAccount(
  em: EntityManager,
  account: IOrganization,
  meters: readonly PlanMeter[],
  period: PlanPeriod,
  span: MonthSpan,
): Promise<MeteredAccount> {
  return (await meterAccounts(em, [{ account, meters, period }], span)).get(account.id) as MeteredAccount;
}
