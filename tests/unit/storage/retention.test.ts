import { describe, expect, it } from 'vitest';
import type { SnapshotManifest } from '../../../storage/repository.ts';
import { applyRetention, cutoff, parsePeriod } from '../../../storage/retention.ts';

const snap = (id: string, time: string, entity = 'member-1') => ({
  id,
  manifest: { version: 1, time, task: 'task', entity, tree: 'x', stats: { items: 0, bytes: 0 } } as SnapshotManifest,
});
const now = new Date('2026-11-22T12:00:00Z');
const history = [
  snap('a', '2025-11-01T01:00:00Z'),
  snap('b', '2026-06-01T01:00:00Z'),
  snap('c', '2026-10-24T01:00:00Z'),
  snap('d', '2026-11-21T01:00:00Z'),
  snap('e', '2026-11-22T01:00:00Z'),
  snap('z', '2020-01-01T00:00:00Z', 'member-2'),
];

describe('retention', () => {
  it('keeps everything by default', () => {
    expect(applyRetention(history, { kind: 'all' }, now).forget).toEqual([]);
  });

  it('keeps what is younger than a period, and always the newest of each entity', () => {
    expect(applyRetention(history, parsePeriod('30d'), now)).toEqual({
      keep: ['e', 'd', 'c', 'z'],
      forget: ['b', 'a'],
    });
    expect(applyRetention(history, parsePeriod('6m'), now).forget).toEqual(['a']);
    expect(applyRetention(history, parsePeriod('1y'), now).forget).toEqual(['a']);
    expect(applyRetention(history, parsePeriod('2y'), now).forget).toEqual([]);
  });

  it('keeps the last N of each entity', () => {
    expect(applyRetention(history, { kind: 'last', count: 2 }, now)).toEqual({
      keep: ['e', 'd', 'z'],
      forget: ['c', 'b', 'a'],
    });
  });

  it('counts months and years on the calendar, in UTC', () => {
    expect(cutoff(new Date('2026-05-15T10:00:00Z'), 1, 'months').toISOString()).toBe('2026-04-15T10:00:00.000Z');
    expect(cutoff(new Date('2026-01-20T10:00:00Z'), 2, 'months').toISOString()).toBe('2025-11-20T10:00:00.000Z');
    expect(cutoff(new Date('2026-03-01T00:00:00Z'), 3, 'years').toISOString()).toBe('2023-03-01T00:00:00.000Z');
    expect(cutoff(now, 7, 'days').toISOString()).toBe('2026-11-15T12:00:00.000Z');
  });

  it("clamps a month or year back to the target month's last day", () => {
    expect(cutoff(new Date('2026-03-31T10:00:00Z'), 1, 'months').toISOString()).toBe('2026-02-28T10:00:00.000Z');
    expect(cutoff(new Date('2028-03-31T10:00:00Z'), 1, 'months').toISOString()).toBe('2028-02-29T10:00:00.000Z');
    expect(cutoff(new Date('2026-05-31T00:00:00Z'), 1, 'months').toISOString()).toBe('2026-04-30T00:00:00.000Z');
    expect(cutoff(new Date('2026-12-31T23:59:00Z'), 10, 'months').toISOString()).toBe('2026-02-28T23:59:00.000Z');
    expect(cutoff(new Date('2028-02-29T00:00:00Z'), 1, 'years').toISOString()).toBe('2027-02-28T00:00:00.000Z');
  });

  it('keeps the snapshots of 28 February to 2 March when keeping 1 month on 31 March', () => {
    const march31 = new Date('2026-03-31T10:00:00Z');
    const decision = applyRetention(
      [
        snap('feb27', '2026-02-27T12:00:00Z'),
        snap('feb28', '2026-02-28T12:00:00Z'),
        snap('mar02', '2026-03-02T12:00:00Z'),
        snap('mar30', '2026-03-30T12:00:00Z'),
      ],
      { kind: 'within', amount: 1, unit: 'months' },
      march31,
    );
    expect(decision.forget).toEqual(['feb27']);
    expect([...decision.keep].sort()).toEqual(['feb28', 'mar02', 'mar30']);
  });

  it('rejects malformed periods', () => {
    for (const bad of ['30', '0d', 'd', '3w', '-1y']) expect(() => parsePeriod(bad)).toThrow(/is not a period/);
  });
});
