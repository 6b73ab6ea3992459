// Annual terms (docs/BILLING.md "Billable days, pro-rating, wholesale"): a term runs 12 months from
// the billing start date; a mid-term addition is priced at the annual price × the days left in
// the term from the day it was first billable (that day included) / the term's days, each day's
// rise in the bands it falls in, rounded once.
import { describe, expect, it } from 'vitest';
import { earlierMonthsOfTerm, midTermAddition, termLabel, termOf } from '../../../core/billing/annual-terms.ts';
import { fraction } from '../../../core/billing/money.ts';

const at = (iso: string) => new Date(iso);

describe('annual terms', () => {
  it('start on the billing start date and renew on its anniversary', () => {
    expect(termOf(at('2026-11-05T10:00:00Z'), '2026-10')).toBeNull();
    expect(termOf(at('2026-11-05T10:00:00Z'), '2026-11')).toEqual({
      startDay: '2026-11-05',
      endDay: '2027-11-05',
      days: 365,
      firstMonth: '2026-11',
      monthOfTerm: 0,
    });
    expect(termOf(at('2026-11-05T10:00:00Z'), '2027-10')).toMatchObject({ startDay: '2026-11-05', monthOfTerm: 11 });
    expect(termOf(at('2026-11-05T10:00:00Z'), '2027-11')).toMatchObject({
      startDay: '2027-11-05',
      endDay: '2028-11-05',
      days: 366,
      monthOfTerm: 0,
    });
    // A term started on 29 February renews on 28 February.
    const leap = termOf(at('2028-02-29T00:00:00Z'), '2028-03');
    expect(leap).toMatchObject({ startDay: '2028-02-29', endDay: '2029-02-28', days: 365, monthOfTerm: 1 });
    expect(termLabel(leap as NonNullable<typeof leap>)).toBe('29 Feb 2028 – 27 Feb 2029');
    expect(earlierMonthsOfTerm(termOf(at('2026-11-05T10:00:00Z'), '2027-01') as never, '2027-01')).toEqual([
      '2026-11',
      '2026-12',
    ]);
  });

  it('price each day’s rise above the billed mark from that day, in the bands it falls in, rounded once', () => {
    const term = termOf(at('2026-11-05T10:00:00Z'), '2026-12') as NonNullable<ReturnType<typeof termOf>>;
    const tiers = [
      { upTo: 5, unitCents: 3000 },
      { upTo: null, unitCents: 2400 },
    ];
    // 4 billed; 4 → 7 on Dec 10 (330 days left), 7 → 9 on Dec 18 (322), back to 6 on Dec 20 (not refunded):
    // unit 5 at 30.00 and units 6–7 at 24.00 from Dec 10, units 8–9 at 24.00 from Dec 18
    // = (7800 × 330 + 4800 × 322) / 365 = 4119600 / 365 = 11286.58 → 11287
    const running = [
      { day: '2026-12-01', quantity: fraction(4) },
      { day: '2026-12-10', quantity: fraction(7) },
      { day: '2026-12-18', quantity: fraction(9) },
      { day: '2026-12-20', quantity: fraction(9) },
    ];
    expect(midTermAddition(term, tiers, fraction(9), fraction(4), running, '2026-12-01')).toEqual({
      added: fraction(5),
      billedBefore: fraction(4),
      fromDay: '2026-12-10',
      daysLeft: 330,
      amountCents: 11287,
    });
    expect(midTermAddition(term, tiers, fraction(9), fraction(9), running, '2026-12-01')).toBeNull();
    // Without a running series (an average): the whole addition from the first billable day.
    // 1.5 units at 24.00 × 339/365 = 3343.56 → 3344
    expect(midTermAddition(term, tiers, fraction(13, 2), fraction(5), null, '2026-12-01')).toMatchObject({
      added: fraction(3, 2),
      daysLeft: 339,
      amountCents: 3344,
    });
  });
});
