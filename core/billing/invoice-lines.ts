// An invoice's figures from a plan and the metered quantities, by the one rounding rule
// (money.ts): each meter's line is its graduated price of the exact quantity, rounded once to
// cents; a minimum charge (pro-rated by the account's billable days on monthly plans) tops the
// subtotal up with its own line; tax is the tax rate of the rounded subtotal, rounded once; the
// total is subtotal plus tax. An annual plan's later months of a term bill only mid-term
// additions (trueUpFigures), without a minimum: the term's minimum was met up front.
import { type AnnualTerm, type MidTermAddition, shortDay, termLabel } from './annual-terms.ts';
import type { PlanMeter, PlanPeriod } from './entities.ts';
import { meterLabel } from './meters.ts';
import { type Fraction, fraction, mul, toCents, toDecimal } from './money.ts';
import { tieredPrice } from './pricing.ts';

export interface LineFigures {
  meter: string;
  description: string;
  quantity: string;
  amountCents: number;
}

export interface InvoiceFigures {
  lines: LineFigures[];
  subtotalCents: number;
  taxCents: number;
  totalCents: number;
}

export interface PricedPlan {
  period: PlanPeriod;
  meters: readonly PlanMeter[];
  minimumCents: number;
}

export function invoiceFigures(
  plan: PricedPlan,
  quantities: readonly Fraction[],
  billableDays: number,
  monthDays: number,
  taxRateBasisPoints: number,
  kindLabel?: (kind: string) => string,
  term?: AnnualTerm,
): InvoiceFigures {
  const over =
    plan.period === 'monthly'
      ? 'the month'
      : `the first month of the term${term ? ` ${termLabel(term)}, prepaid: decreases are not refunded` : ''}`;
  const lines: LineFigures[] = plan.meters.map((meter, i) => {
    const quantity = quantities[i] ?? fraction(0);
    const how = meter.measure === 'max' ? 'maximum' : 'average';
    return {
      meter: meter.meter,
      description: `${meterLabel(meter.meter, kindLabel)} (${how} over ${over})`,
      quantity: toDecimal(quantity),
      amountCents: toCents(tieredPrice(quantity, meter.tiers)),
    };
  });
  let subtotal = lines.reduce((s, l) => s + l.amountCents, 0);
  if (plan.minimumCents > 0) {
    const share: Fraction =
      plan.period === 'monthly'
        ? mul(fraction(plan.minimumCents), fraction(billableDays, monthDays))
        : fraction(plan.minimumCents);
    const minimum = toCents(share);
    if (subtotal < minimum) {
      lines.push({
        meter: 'minimum',
        description:
          plan.period === 'monthly' && billableDays < monthDays
            ? `Minimum charge top-up (${billableDays} of ${monthDays} days)`
            : 'Minimum charge top-up',
        quantity: '1',
        amountCents: minimum - subtotal,
      });
      subtotal = minimum;
    }
  }
  return withTax(lines, subtotal, taxRateBasisPoints);
}

function withTax(lines: LineFigures[], subtotal: number, taxRateBasisPoints: number): InvoiceFigures {
  const taxCents = toCents(fraction(BigInt(subtotal) * BigInt(taxRateBasisPoints), 10_000n));
  return { lines, subtotalCents: subtotal, taxCents, totalCents: subtotal + taxCents };
}

/** A later month of an annual term: a "Mid-term addition" line per meter that rose; null if none did. */
export function trueUpFigures(
  plan: PricedPlan,
  term: AnnualTerm,
  additions: readonly (MidTermAddition | null)[],
  taxRateBasisPoints: number,
  kindLabel?: (kind: string) => string,
): InvoiceFigures | null {
  const lines: LineFigures[] = [];
  plan.meters.forEach((meter, i) => {
    const a = additions[i];
    if (!a) return;
    lines.push({
      meter: meter.meter,
      description:
        `Mid-term addition: ${meterLabel(meter.meter, kindLabel)} above the ${toDecimal(a.billedBefore)} billed ` +
        `in the term ${termLabel(term)}, from ${shortDay(a.fromDay)} (${a.daysLeft} of ${term.days} days; ` +
        'prepaid: decreases are not refunded)',
      quantity: toDecimal(a.added),
      amountCents: a.amountCents,
    });
  });
  if (lines.length === 0) return null;
  return withTax(
    lines,
    lines.reduce((s, l) => s + l.amountCents, 0),
    taxRateBasisPoints,
  );
}
