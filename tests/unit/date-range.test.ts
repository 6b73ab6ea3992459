// The one parser of typed dates (filters, API queries): days and date-times that exist in the
// calendar, ranges whose "to" day is included whole, a message per field.
import { describe, expect, it } from 'vitest';
import { DAY_MESSAGE, INSTANT_MESSAGE, parseDateRange, parseDay, parseInstant } from '../../core/date-range.ts';

describe('dates', () => {
  it('reads days that exist, leap days included, and nothing else', () => {
    expect(parseDay('2028-02-29')?.toISOString()).toBe('2028-02-29T00:00:00.000Z');
    for (const text of ['2026-02-29', '2026-02-31', '2026-04-31', '2026-13-01', '2026-00-10', '2026-1-1', 'today', ''])
      expect(parseDay(text), text).toBeNull();
  });

  it('reads ISO date-times with their offset, refusing times that do not exist and free-form dates', () => {
    expect(parseInstant('2026-11-01T08:00:00Z')?.toISOString()).toBe('2026-11-01T08:00:00.000Z');
    expect(parseInstant('2026-11-01T08:00+02:00')?.toISOString()).toBe('2026-11-01T06:00:00.000Z');
    expect(parseInstant('2026-11-01')?.toISOString()).toBe('2026-11-01T00:00:00.000Z');
    for (const text of [
      '2026-02-31T08:00:00Z',
      '2026-11-01T24:00:00Z',
      '2026-11-01T08:60:00Z',
      '2026-11-01T08:00:60Z',
      '2026-11-01T08:00:00',
      'March 7, 2026',
      '1',
    ])
      expect(parseInstant(text), text).toBeNull();
  });

  it('includes the whole "to" day, names each bad field, and checks the order when asked', () => {
    expect(parseDateRange({ from: '2026-11-01', to: '2026-11-01' })).toEqual({
      range: { from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-02T00:00:00Z') },
      errors: {},
    });
    expect(parseDateRange({ to: '2026-11-01T08:00:00Z' }, { times: true }).range).toEqual({
      to: new Date('2026-11-01T08:00:00Z'),
    });
    expect(parseDateRange({ from: '2026-02-31', to: 'x' }).errors).toEqual({ from: DAY_MESSAGE, to: DAY_MESSAGE });
    expect(parseDateRange({ from: '2026-02-31' }, { times: true }).errors).toEqual({ from: INSTANT_MESSAGE });
    expect(parseDateRange({ from: '2026-11-02', to: '2026-11-01' }, { ordered: true }).errors).toEqual({
      to: 'The end date is before the start date.',
    });
    expect(parseDateRange({ from: 'nope' }, { fields: { from: 'modifiedFrom', to: 'modifiedTo' } }).errors).toEqual({
      modifiedFrom: DAY_MESSAGE,
    });
  });
});
