// A meter's price for a quantity: graduated tiers, each unit priced by the band it falls in
// (the first 10 at one price, the next 40 at another …), computed exactly; the caller rounds.
import type { PriceTier } from './entities.ts';
import { add, compare, type Fraction, fraction, mul, sub, ZERO } from './money.ts';

export function tieredPrice(quantity: Fraction, tiers: readonly PriceTier[]): Fraction {
  let total = ZERO;
  let below = ZERO;
  for (const tier of tiers) {
    if (compare(quantity, below) <= 0) break;
    const top = tier.upTo === null ? quantity : fraction(tier.upTo);
    const upper = compare(quantity, top) < 0 ? quantity : top;
    const units = sub(upper, below);
    if (compare(units, ZERO) > 0) total = add(total, mul(units, fraction(tier.unitCents)));
    if (tier.upTo === null) break;
    below = top;
  }
  return total;
}
