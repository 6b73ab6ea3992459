// An invoice's figures from a plan and the metered quantities, by the one rounding rule
// (money.ts): each meter's line is its graduated price of the exact quantity, rounded once to
// cents; a minimum charge (pro-rated by the account's billable days on monthly plans) tops the
// subtotal up with its own line; tax is the tax rate of the rounded subtotal, rounded once; the
// total is subtotal plus tax.
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
): InvoiceFigures {
  const lines: LineFigures[] = plan.meters.map((meter, i) => {
    const quantity = quantities[i] ?? fraction(0);
    const how = meter.measure === 'max' ? 'maximum' : 'average';
    return {
      meter: meter.meter,
      description: `${meterLabel(meter.meter, kindLabel)} (${how} over the ${plan.period === 'monthly' ? 'month' : 'first month of the term'})`,
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
  const taxCents = toCents(fraction(BigInt(subtotal) * BigInt(taxRateBasisPoints), 10_000n));
  return { lines, subtotalCents: subtotal, taxCents, totalCents: subtotal + taxCents };
}
