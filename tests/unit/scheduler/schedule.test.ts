// Schedule computation: each frequency and hour fires at the right UTC instants, across month
// and year ends and the DST changes of a European host (the process time zone must not matter).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dueSlot, latestRunAtOrBefore, nextRunAfter, runHours } from '../../../core/scheduler/schedule.ts';
import type { Frequency } from '../../../core/tasks/entities.ts';

const utc = (text: string) => new Date(`${text}Z`);
const iso = (d: Date | undefined) => d?.toISOString().replace('.000Z', 'Z');

/** Every run instant in [from, to), by stepping nextRunAfter. */
function runsBetween(frequency: Frequency, backupHour: number, anchor: string, from: string, to: string): string[] {
  const settings = { frequency, backupHour, anchor: utc(anchor) };
  const out: string[] = [];
  let t = new Date(utc(from).getTime() - 1);
  for (;;) {
    t = nextRunAfter(settings, t);
    if (t >= utc(to)) return out;
    out.push(iso(t) as string);
  }
}

describe('run hours', () => {
  it.each([
    ['daily', 3, [3]],
    ['weekly', 0, [0]],
    ['three_times_daily', 3, [3, 11, 19]],
    ['three_times_daily', 20, [4, 12, 20]],
    ['three_times_daily', 23, [7, 15, 23]],
  ] as const)('%s at %i runs at %j', (frequency, hour, hours) => {
    expect(runHours({ frequency, backupHour: hour })).toEqual(hours);
  });

  it('refuses an hour outside 0–23', () => {
    expect(() => runHours({ frequency: 'daily', backupHour: 24 })).toThrow(RangeError);
  });
});

function scheduleTable() {
  it.each([
    // Daily across the end of February (leap year), the spring DST change in Europe (29 March
    // 2026) and the end of March.
    [
      'daily',
      3,
      '2024-02-20T10:00:00',
      '2024-02-28T00:00:00',
      '2024-03-02T00:00:00',
      ['2024-02-28T03:00:00Z', '2024-02-29T03:00:00Z', '2024-03-01T03:00:00Z'],
    ],
    [
      'daily',
      1,
      '2026-03-01T00:00:00',
      '2026-03-28T12:00:00',
      '2026-04-01T00:00:00',
      ['2026-03-29T01:00:00Z', '2026-03-30T01:00:00Z', '2026-03-31T01:00:00Z'],
    ],
    // Hour 2 UTC is 03:00/04:00 local on the nights the clocks change: still exactly 24 h apart.
    [
      'daily',
      2,
      '2026-10-01T00:00:00',
      '2026-10-24T00:00:00',
      '2026-10-27T00:00:00',
      ['2026-10-24T02:00:00Z', '2026-10-25T02:00:00Z', '2026-10-26T02:00:00Z'],
    ],
    // Three times a day wraps past midnight and across the year end.
    [
      'three_times_daily',
      20,
      '2026-12-01T00:00:00',
      '2026-12-31T10:00:00',
      '2027-01-01T13:00:00',
      ['2026-12-31T12:00:00Z', '2026-12-31T20:00:00Z', '2027-01-01T04:00:00Z', '2027-01-01T12:00:00Z'],
    ],
    // Every 3 days counts from the anchor's day, through the end of a 30-day month.
    [
      'every_3_days',
      0,
      '2026-04-25T15:00:00',
      '2026-04-25T00:00:00',
      '2026-05-08T00:00:00',
      [
        '2026-04-25T00:00:00Z',
        '2026-04-28T00:00:00Z',
        '2026-05-01T00:00:00Z',
        '2026-05-04T00:00:00Z',
        '2026-05-07T00:00:00Z',
      ],
    ],
    // Weekly on the anchor's weekday (a Tuesday), over the autumn DST change.
    [
      'weekly',
      23,
      '2026-10-13T09:00:00',
      '2026-10-14T00:00:00',
      '2026-11-04T00:00:00',
      ['2026-10-20T23:00:00Z', '2026-10-27T23:00:00Z', '2026-11-03T23:00:00Z'],
    ],
  ] as const)('%s at %i (anchor %s) from %s to %s', (frequency, hour, anchor, from, to, expected) => {
    expect(runsBetween(frequency, hour, anchor, from, to)).toEqual(expected);
  });
}

/** Runs a describe block's tests with the process in another time zone. */
function inTimeZone(zone: string): void {
  const before = process.env.TZ;
  beforeAll(() => {
    process.env.TZ = zone;
  });
  afterAll(() => {
    if (before === undefined) delete process.env.TZ;
    else process.env.TZ = before;
  });
}

describe('schedules with the process in UTC', () => {
  inTimeZone('UTC');
  it('really is in UTC', () => {
    expect(new Date('2026-03-30T12:00:00Z').getTimezoneOffset()).toBe(0);
  });
  scheduleTable();
});

describe('schedules with the process in Europe/Berlin', () => {
  inTimeZone('Europe/Berlin');
  it('really is in Berlin time (the DST offset changes)', () => {
    expect(new Date('2026-03-28T12:00:00Z').getTimezoneOffset()).toBe(-60);
    expect(new Date('2026-03-30T12:00:00Z').getTimezoneOffset()).toBe(-120);
  });
  scheduleTable();
});

describe('the due slot', () => {
  const settings = { frequency: 'daily' as const, backupHour: 3, anchor: utc('2026-05-10T10:00:00') };

  it('is none before the first run after the task was created', () => {
    expect(dueSlot(settings, null, utc('2026-05-10T23:00:00'))).toBeUndefined();
    expect(iso(dueSlot(settings, null, utc('2026-05-11T03:00:00')))).toBe('2026-05-11T03:00:00Z');
  });

  it('is enqueued once: the same slot is not due again', () => {
    const slot = dueSlot(settings, null, utc('2026-05-11T03:00:30')) as Date;
    expect(dueSlot(settings, slot, utc('2026-05-11T09:00:00'))).toBeUndefined();
    expect(iso(dueSlot(settings, slot, utc('2026-05-12T03:00:00')))).toBe('2026-05-12T03:00:00Z');
  });

  it('catches up with one run after the appliance was stopped for days', () => {
    const last = utc('2026-05-11T03:00:00');
    expect(iso(dueSlot(settings, last, utc('2026-05-15T08:00:00')))).toBe('2026-05-15T03:00:00Z');
  });

  it('finds the latest slot of a three-times-daily task just after midnight', () => {
    const s = { frequency: 'three_times_daily' as const, backupHour: 20, anchor: utc('2026-01-01T00:00:00') };
    expect(iso(latestRunAtOrBefore(s, utc('2026-06-01T00:30:00')))).toBe('2026-05-31T20:00:00Z');
    expect(iso(latestRunAtOrBefore(s, utc('2026-06-01T04:00:00')))).toBe('2026-06-01T04:00:00Z');
  });
});
