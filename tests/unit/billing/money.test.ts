// The one rounding rule of billing (docs/BILLING.md) and the graduated bands, on exact fractions:
// halves away from zero, once per amount; bands priced unit by unit in the band they fall in.
import { describe, expect, it } from 'vitest';
import { invoiceFigures } from '../../../core/billing/invoice-lines.ts';
import { centsDecimal, formatMoney, fraction, roundHalfUp, toCents, toDecimal } from '../../../core/billing/money.ts';
import { parseAmount, parseBands } from '../../../core/billing/plan-form.ts';
import { tieredPrice } from '../../../core/billing/pricing.ts';

describe('money', () => {
  it('rounds halves away from zero, everything else to the nearest cent', () => {
    expect([fraction(95, 2), fraction(189, 4), fraction(-95, 2), fraction(1, 3), fraction(2, 3)].map(toCents)).toEqual([
      48, 47, -48, 0, 1,
    ]);
    expect(roundHalfUp(fraction(5000, 3))).toBe(1667n);
  });

  it('writes decimals and amounts exactly', () => {
    expect([toDecimal(fraction(19, 4)), toDecimal(fraction(208, 30)), toDecimal(fraction(7))]).toEqual([
      '4.75',
      '6.9333',
      '7',
    ]);
    expect([centsDecimal(5), centsDecimal(123456), formatMoney(123456789, 'EUR')]).toEqual([
      '0.05',
      '1234.56',
      'EUR 1,234,567.89',
    ]);
  });

  it('prices graduated bands unit by unit, fractions included', () => {
    const bands = [
      { upTo: 10, unitCents: 300 },
      { upTo: 50, unitCents: 250 },
      { upTo: null, unitCents: 200 },
    ];
    expect([0, 7, 10, 15, 50, 60].map((q) => toCents(tieredPrice(fraction(q), bands)))).toEqual([
      0, 2100, 3000, 4250, 13000, 15000,
    ]);
    // 10.5 units: 10 × 3.00 + 0.5 × 2.50 = 31.25
    expect(toCents(tieredPrice(fraction(21, 2), bands))).toBe(3125);
  });

  it('an annual plan is neither pro-rated nor its minimum; tax is rounded once on the subtotal', () => {
    const plan = {
      period: 'annual' as const,
      minimumCents: 10000,
      meters: [{ meter: 'protected', measure: 'max' as const, tiers: [{ upTo: null, unitCents: 3000 }] }],
    };
    // 8 items × 30.00 a year = 240.00 over the minimum; 7.7 % tax of 240.00 = 18.48
    expect(invoiceFigures(plan, [fraction(8)], 26, 30, 770)).toMatchObject({
      subtotalCents: 24000,
      taxCents: 1848,
      totalCents: 25848,
    });
    // 2 items: 60.00 below the 100.00 minimum, topped up whole however few days were billed
    expect(invoiceFigures(plan, [fraction(2)], 3, 30, 0).lines.map((l) => [l.meter, l.amountCents])).toEqual([
      ['protected', 6000],
      ['minimum', 4000],
    ]);
  });

  it('reads typed prices and bands, refusing anything else', () => {
    expect([
      parseAmount('2.5'),
      parseAmount('2,50'),
      parseAmount('25'),
      parseAmount('2.505'),
      parseAmount('-1'),
    ]).toEqual([250, 250, 2500, null, null]);
    expect(parseBands('10 @ 3.00, 50 @ 2.50, * @ 2')).toEqual([
      { upTo: 10, unitCents: 300 },
      { upTo: 50, unitCents: 250 },
      { upTo: null, unitCents: 200 },
    ]);
    expect(parseBands('2.00')).toEqual([{ upTo: null, unitCents: 200 }]);
    expect([parseBands(''), parseBands('2.00, 10 @ 3.00'), parseBands('ten @ 1')]).toEqual([null, null, null]);
  });
});
