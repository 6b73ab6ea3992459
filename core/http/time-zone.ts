// The reader's time zone for rendering times server-side: the one the signed-in user chose, or
// else the browser's own (views/static/time-zone.js writes it to a cookie); an unknown or missing
// zone renders UTC.
import type { Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { isKnownTimeZone } from '../identity/time-zone.ts';
import type { AppEnv } from './env.ts';

export const TIME_ZONE_COOKIE = 'holdfast_tz';

/** The zone the signed-in user chose, else the one the browser reported, if Intl knows it. */
export function timeZoneOf(c: Context): string | undefined {
  const chosen = (c as Context<AppEnv>).get('user')?.timeZone;
  if (chosen && isKnownTimeZone(chosen)) return chosen;
  const zone = getCookie(c, TIME_ZONE_COOKIE);
  return zone && isKnownTimeZone(zone) ? zone : undefined;
}

// Making an Intl.DateTimeFormat costs far more than formatting with one (a page of 50 rows
// spent most of its time there): one formatter per zone and shape, kept. Intl accepts a zone
// in any letter case, so a cookie could name endless spellings: the cache starts over past a bound.
const formatters = new Map<string, Intl.DateTimeFormat>();
const MAX_FORMATTERS = 4096;

function formatter(shape: keyof typeof SHAPES, timeZone: string | undefined): Intl.DateTimeFormat {
  const zone = timeZone ?? 'UTC';
  const key = `${shape} ${zone}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone: zone, ...SHAPES[shape] });
    if (formatters.size >= MAX_FORMATTERS) formatters.clear();
    formatters.set(key, f);
  }
  return f;
}

const SHAPES = {
  dateTime: {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  },
  dateTimeSeconds: {
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  },
  date: { day: 'numeric', month: 'short', year: 'numeric' },
  time: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' },
} satisfies Record<string, Intl.DateTimeFormatOptions>;

// Formatting itself is still a few microseconds, and a log page shows four times per row (200 a
// page): the text of each (shape, zone, second) is kept too, so the same rows read again by the
// next request or another user cost a lookup. No shape shows less than a second, so the key loses
// nothing; the cache starts over past a bound.
const formatted = new Map<string, string>();
const MAX_FORMATTED = 50_000;

function format(shape: keyof typeof SHAPES, d: Date, timeZone: string | undefined): string {
  const key = `${shape} ${timeZone ?? ''} ${Math.floor(d.getTime() / 1000)}`;
  let text = formatted.get(key);
  if (text === undefined) {
    text = formatter(shape, timeZone).format(d);
    if (formatted.size >= MAX_FORMATTED) formatted.clear();
    formatted.set(key, text);
  }
  return text;
}

/** "7 Dec 2026, 04:30 CET" in the zone (UTC when none), with seconds when asked. */
export function formatDateTime(d: Date, timeZone: string | undefined, seconds = false): string {
  return format(seconds ? 'dateTimeSeconds' : 'dateTime', d, timeZone);
}

/** "7 Dec 2026" in the zone (UTC when none). */
export function formatDate(d: Date, timeZone: string | undefined): string {
  return format('date', d, timeZone);
}

/** "04:30 CET" in the zone (UTC when none): the time of day, for a date shown beside it. */
export function formatTime(d: Date, timeZone: string | undefined): string {
  return format('time', d, timeZone);
}

/** The exact UTC time, for the title a time shows on hover. */
export function formatUtc(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
