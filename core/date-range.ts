// Dates typed into filters and API queries, one way everywhere: a day is YYYY-MM-DD (UTC), a
// time is ISO 8601 with its offset, and both must exist in the calendar — JavaScript's Date
// would roll 2026-02-31 over into March and read "March 7" as a date.
import type { FieldErrors } from './errors.ts';

const DAY_MS = 86_400_000;
const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

export const DAY_MESSAGE = 'Enter a date as YYYY-MM-DD.';
export const INSTANT_MESSAGE = 'Use a date (2026-11-01) or a date and time (2026-11-01T08:00:00Z).';
export const ORDER_MESSAGE = 'The end date is before the start date.';

/** The start of a UTC day written YYYY-MM-DD that exists, or null. */
export function parseDay(text: string): Date | null {
  const match = DAY.exec(text);
  if (!match) return null;
  const [, y, m, d] = match.map(Number) as [number, number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d ? date : null;
}

/** A day (its start) or an ISO 8601 date-time with `Z` or an offset, all of it in range; or null. */
export function parseInstant(text: string): Date | null {
  if (DAY.test(text)) return parseDay(text);
  const match = DATE_TIME.exec(text);
  if (!match || !parseDay(match[1] as string)) return null;
  const [hours = 0, minutes = 0, seconds = 0, offsetHours = 0, offsetMinutes = 0] = match
    .slice(2)
    .map((v) => Number(v ?? 0));
  if (hours > 23 || minutes > 59 || seconds > 59 || offsetHours > 23 || offsetMinutes > 59) return null;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

export interface DateRange {
  from?: Date;
  /** Exclusive: a day given as the end includes that whole day. */
  to?: Date;
}

export interface DateRangeOptions {
  /** Accept date-times as well as days (the API). */
  times?: boolean;
  /** Refuse an end before the start (the filter forms). */
  ordered?: boolean;
  /** Field names for the messages (default from, to). */
  fields?: { from: string; to: string };
}

/** A from/to pair as filters and the API take it, with a message per field that is not a date. */
export function parseDateRange(
  values: { from?: string | undefined; to?: string | undefined },
  options: DateRangeOptions = {},
): { range: DateRange; errors: FieldErrors } {
  const names = options.fields ?? { from: 'from', to: 'to' };
  const parse = options.times ? parseInstant : parseDay;
  const message = options.times ? INSTANT_MESSAGE : DAY_MESSAGE;
  const range: DateRange = {};
  const errors: FieldErrors = {};
  if (values.from) {
    const from = parse(values.from);
    if (from) range.from = from;
    else errors[names.from] = message;
  }
  if (values.to) {
    const to = parse(values.to);
    if (!to) errors[names.to] = message;
    else if (options.ordered && range.from && to < range.from) errors[names.to] = ORDER_MESSAGE;
    else range.to = DAY.test(values.to) ? new Date(to.getTime() + DAY_MS) : to;
  }
  return { range, errors };
}
