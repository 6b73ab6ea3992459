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

/** "7 Dec 2026, 04:30 CET" in the zone (UTC when none), with seconds when asked. */
export function formatDateTime(d: Date, timeZone: string | undefined, seconds = false): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timeZone ?? 'UTC',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds ? { second: '2-digit' } : {}),
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).format(d);
}

/** "7 Dec 2026" in the zone (UTC when none). */
export function formatDate(d: Date, timeZone: string | undefined): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timeZone ?? 'UTC',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  }).format(d);
}

/** "04:30 CET" in the zone (UTC when none): the time of day, for a date shown beside it. */
export function formatTime(d: Date, timeZone: string | undefined): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: timeZone ?? 'UTC',
    hour: '2-digit',
    minute: '2-digit',
    hourCycle: 'h23',
    timeZoneName: 'short',
  }).format(d);
}

/** The exact UTC time, for the title a time shows on hover. */
export function formatUtc(d: Date): string {
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
