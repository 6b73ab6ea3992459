// Which days of a month an account is billed for: from the day it was added (or, for a trial,
// the day it was subscribed; a trial that was never subscribed is not billed) to the day before
// its removal was requested, within the month. UTC days, as the usage history samples them.
import type { IOrganization } from '../identity/entities.ts';
import type { IBillingAccount } from './entities.ts';

export interface MonthSpan {
  /** YYYY-MM. */
  month: string;
  firstDay: string;
  /** The first day of the next month (exclusive bound). */
  nextFirstDay: string;
  days: number;
}

export function monthSpan(month: string): MonthSpan {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new RangeError(`not a month: ${month}`);
  const [y, m] = month.split('-').map(Number) as [number, number];
  const first = new Date(Date.UTC(y, m - 1, 1));
  const next = new Date(Date.UTC(y, m, 1));
  return {
    month,
    firstDay: first.toISOString().slice(0, 10),
    nextFirstDay: next.toISOString().slice(0, 10),
    days: Math.round((next.getTime() - first.getTime()) / 86_400_000),
  };
}

/** The month before the one `now` is in. */
export function previousMonth(now: Date): string {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
}

export interface BillableRange {
  fromDay: string;
  /** Exclusive. */
  toDay: string;
  days: number;
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);
const daysBetween = (a: string, b: string) => Math.round((Date.parse(b) - Date.parse(a)) / 86_400_000);

/** When billing of the organization starts, or null if it is not billable (a trial not subscribed). */
export function billingStart(org: IOrganization, billing: IBillingAccount | null | undefined): Date | null {
  if (billing?.trialEndsAt) return billing.subscribedAt ?? null;
  return org.createdAt;
}

export function billableRange(
  org: IOrganization,
  billing: IBillingAccount | null | undefined,
  span: MonthSpan,
): BillableRange | null {
  const start = billingStart(org, billing);
  if (!start) return null;
  const fromDay = dayOf(start) > span.firstDay ? dayOf(start) : span.firstDay;
  const stop = org.removalRequestedAt ? dayOf(org.removalRequestedAt) : null;
  const toDay = stop && stop < span.nextFirstDay ? stop : span.nextFirstDay;
  const days = daysBetween(fromDay, toDay);
  return days > 0 ? { fromDay, toDay, days } : null;
}
