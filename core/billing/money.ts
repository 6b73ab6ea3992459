// Money as integer cents and exact fractions (BigInt), with the ONE rounding rule of billing
// (docs/BILLING.md): an amount is computed exactly as a fraction and rounded once, to whole
// cents, halves away from zero ("half up": billed amounts are never negative). Quantities
// (pro-rated averages, GiB) stay exact until a line's amount is rounded.

/** An exact non-negative-denominator fraction. */
export interface Fraction {
  n: bigint;
  d: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y) [x, y] = [y, x % y];
  return x || 1n;
}

export function fraction(n: bigint | number, d: bigint | number = 1n): Fraction {
  let num = BigInt(n);
  let den = BigInt(d);
  if (den === 0n) throw new RangeError('A fraction cannot have a zero denominator.');
  if (den < 0n) [num, den] = [-num, -den];
  const g = gcd(num, den);
  return { n: num / g, d: den / g };
}

export const ZERO = fraction(0);

export const add = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d + b.n * a.d, a.d * b.d);
export const sub = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d - b.n * a.d, a.d * b.d);
export const mul = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.n, a.d * b.d);
export const div = (a: Fraction, b: Fraction): Fraction => fraction(a.n * b.d, a.d * b.n);
export const compare = (a: Fraction, b: Fraction): number => {
  const x = a.n * b.d - b.n * a.d;
  return x < 0n ? -1 : x > 0n ? 1 : 0;
};
export const min = (a: Fraction, b: Fraction): Fraction => (compare(a, b) <= 0 ? a : b);
export const max = (a: Fraction, b: Fraction): Fraction => (compare(a, b) >= 0 ? a : b);

/** The rounding rule: to the nearest integer, halves away from zero. */
export function roundHalfUp(x: Fraction): bigint {
  const sign = x.n < 0n ? -1n : 1n;
  const abs = x.n < 0n ? -x.n : x.n;
  return sign * ((2n * abs + x.d) / (2n * x.d));
}

/** Cents of an exact amount, by the rounding rule. */
export function toCents(x: Fraction): number {
  return Number(roundHalfUp(x));
}

/** A fraction as a decimal with `places` digits (display and CSV; rounded by the same rule). */
export function toDecimal(x: Fraction, places = 4): string {
  const scale = 10n ** BigInt(places);
  const scaled = roundHalfUp(mul(x, fraction(scale)));
  const negative = scaled < 0n;
  const abs = negative ? -scaled : scaled;
  const whole = abs / scale;
  const part = (abs % scale).toString().padStart(places, '0').replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${part ? `.${part}` : ''}`;
}

/** Cents as a plain decimal amount ("1234.50"), the CSV and API form. */
export function centsDecimal(cents: number): string {
  const negative = cents < 0;
  const abs = Math.abs(cents);
  return `${negative ? '-' : ''}${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

/** Cents with the currency, for pages, mail and the PDF ("EUR 1,234.50"). */
export function formatMoney(cents: number, currency: string): string {
  const [whole, part] = centsDecimal(cents).split('.');
  return `${currency} ${(whole ?? '0').replace(/\B(?=(\d{3})+(?!\d))/g, ',')}.${part}`;
}
