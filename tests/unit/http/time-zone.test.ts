// Times in the reader's zone: the texts kept per (shape, zone, second) are exactly what Intl
// writes for that zone, whichever zone or shape asked for the same instant first.
import { describe, expect, it } from 'vitest';
import { formatDate, formatDateTime, formatTime, formatUtc } from '../../../core/http/time-zone.ts';

const intl = (d: Date, zone: string, options: Intl.DateTimeFormatOptions) =>
  new Intl.DateTimeFormat('en-GB', { timeZone: zone, ...options }).format(d);
const DATE_TIME: Intl.DateTimeFormatOptions = {
  day: 'numeric',
  month: 'short',
  year: 'numeric',
  hour: '2-digit',
  minute: '2-digit',
  hourCycle: 'h23',
  timeZoneName: 'short',
};

describe('time formatting', () => {
  it('gives the same instant in each zone and shape as Intl does, asked in any order', () => {
    const at = new Date(Date.UTC(2026, 11, 6, 23, 30, 15, 250));
    for (let round = 0; round < 2; round++) {
      expect(formatDateTime(at, undefined)).toBe(intl(at, 'UTC', DATE_TIME));
      expect(formatDateTime(at, 'Asia/Tokyo')).toBe(intl(at, 'Asia/Tokyo', DATE_TIME));
      expect(formatDateTime(at, 'America/New_York', true)).toBe(
        intl(at, 'America/New_York', { ...DATE_TIME, second: '2-digit' }),
      );
      expect(formatDate(at, 'Asia/Tokyo')).toBe('7 Dec 2026');
      expect(formatDate(at, undefined)).toBe('6 Dec 2026');
      expect(formatTime(at, 'Asia/Tokyo')).toBe(
        intl(at, 'Asia/Tokyo', { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' }),
      );
    }
    expect(formatDateTime(at, 'Asia/Tokyo')).not.toBe(formatDateTime(at, undefined));
  });

  it('tells apart instants a second apart, and keeps the seconds it shows', () => {
    const a = new Date(Date.UTC(2026, 0, 1, 0, 0, 59, 900));
    const b = new Date(a.getTime() + 200);
    expect(formatDateTime(a, undefined, true)).toBe('1 Jan 2026, 00:00:59 UTC');
    expect(formatDateTime(b, undefined, true)).toBe('1 Jan 2026, 00:01:00 UTC');
    expect(formatUtc(b)).toBe('2026-01-01 00:01:00 UTC');
  });
});
