// Annual plans (docs/BILLING.md "Billable days, pro-rating, wholesale"): a 12-month term from the
// account's billing start date, invoiced up front in the term's first month at that month's
// quantity; each later month of the term adds a true-up of the quantity above the highest one
// already billed in the term, per meter, at the annual price pro-rated by the days left in the
// term from the day the addition was first billable. The term is prepaid: decreases are not
// refunded. Pure functions; the quantities come from metering.ts.
import { add, compare, type Fraction, fraction, max, mul, sub, toCents, toDecimal, ZERO } from './money.ts';
import { tieredPrice } from './pricing.ts';

const DAY_MS = 86_400_000;

export interface AnnualTerm {
  /** First day of the term (YYYY-MM-DD, UTC). */
  startDay: string;
  /** First day of the next term (exclusive). */
  endDay: string;
  days: number;
  /** YYYY-MM of the term's first month (the up-front invoice). */
  firstMonth: string;
  /** 0 in the term's first month, 1–11 after. */
  monthOfTerm: number;
}

function monthIndex(month: string): number {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return y * 12 + m - 1;
}

export function monthOf(index: number): string {
  return `${String(Math.floor(index / 12)).padStart(4, '0')}-${String((index % 12) + 1).padStart(2, '0')}`;
}

/** The anniversary `years` after `start`, on the same day of the month (29 Feb → 28 Feb). */
function anniversary(start: Date, years: number): Date {
  const y = start.getUTCFullYear() + years;
  const m = start.getUTCMonth();
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return new Date(Date.UTC(y, m, Math.min(start.getUTCDate(), lastDay)));
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/** The term a month of an annual plan belongs to, or null before the billing start. */
export function termOf(billingStart: Date, month: string): AnnualTerm | null {
  const offset = monthIndex(month) - monthIndex(dayOf(billingStart).slice(0, 7));
  if (offset < 0) return null;
  const n = Math.floor(offset / 12);
  const start = anniversary(billingStart, n);
  const end = anniversary(billingStart, n + 1);
  return {
    startDay: dayOf(start),
    endDay: dayOf(end),
    days: Math.round((end.getTime() - start.getTime()) / DAY_MS),
    firstMonth: monthOf(monthIndex(month) - (offset % 12)),
    monthOfTerm: offset % 12,
  };
}

/** The months of the term before `month` (oldest first). */
export function earlierMonthsOfTerm(term: AnnualTerm, month: string): string[] {
  const first = monthIndex(term.firstMonth);
  return Array.from({ length: monthIndex(month) - first }, (_, i) => monthOf(first + i));
}

/** A day's running quantity of a meter: the month's measure over its days up to and including `day`. */
export interface RunningQuantity {
  day: string;
  quantity: Fraction;
}

export interface MidTermAddition {
  /** The quantity above the highest already billed in the term. */
  added: Fraction;
  billedBefore: Fraction;
  /** The first day the addition was billable, and the term's days left from it (that day included). */
  fromDay: string;
  daysLeft: number;
  amountCents: number;
}

/**
 * One meter's true-up for a month of the term: nothing unless the month's quantity exceeds the
 * highest billed before. Each day's rise of the running quantity above that mark is priced at the
 * annual price of those units (the graduated bands they fall in) × days left in the term from that
 * day / days of the term; the sum is rounded once (money.ts). Without a running series (average
 * measures) the whole addition counts from `firstBillableDay`.
 */
export function midTermAddition(
  term: AnnualTerm,
  tiers: Parameters<typeof tieredPrice>[1],
  quantity: Fraction,
  billedBefore: Fraction,
  running: readonly RunningQuantity[] | null,
  firstBillableDay: string,
): MidTermAddition | null {
  if (compare(quantity, billedBefore) <= 0) return null;
  const steps = running?.length ? running : [{ day: firstBillableDay, quantity }];
  const daysLeft = (day: string) => Math.round((Date.parse(term.endDay) - Date.parse(day)) / DAY_MS);
  let mark = billedBefore;
  let amount = ZERO;
  let fromDay: string | null = null;
  for (const step of steps) {
    if (compare(step.quantity, mark) <= 0) continue;
    fromDay ??= step.day;
    const rise = sub(tieredPrice(step.quantity, tiers), tieredPrice(mark, tiers));
    amount = add(amount, mul(rise, fraction(daysLeft(step.day), term.days)));
    mark = step.quantity;
  }
  const from = fromDay ?? firstBillableDay;
  return {
    added: sub(max(mark, quantity), billedBefore),
    billedBefore,
    fromDay: from,
    daysLeft: daysLeft(from),
    amountCents: toCents(amount),
  };
}

/** "5 Nov 2026" for a YYYY-MM-DD day. */
export function shortDay(day: string): string {
  return new Date(`${day}T00:00:00Z`).toLocaleDateString('en-GB', {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    timeZone: 'UTC',
  });
}

/** The term as invoices print it: first and last day. */
export function termLabel(term: AnnualTerm): string {
  const last = dayOf(new Date(Date.parse(term.endDay) - DAY_MS));
  return `${shortDay(term.startDay)} – ${shortDay(last)}`;
}

export const quantityText = (q: Fraction) => toDecimal(q);
