// Dates read by plain SQL come back as epoch milliseconds from SQLite and as text from
// PostgreSQL's driver: dateFromSql reads both (the homepage's "last backup" on PostgreSQL).
import { describe, expect, it } from 'vitest';
import { dateFromSql } from '../../../core/db/run-sql.ts';

describe('dateFromSql', () => {
  it("reads SQLite's epoch milliseconds, as a number or as digits", () => {
    expect(dateFromSql(1_796_090_400_000)?.toISOString()).toBe('2026-12-01T02:00:00.000Z');
    expect(dateFromSql('1796090400000')?.toISOString()).toBe('2026-12-01T02:00:00.000Z');
  });

  it("reads PostgreSQL's timestamptz text, with and without fractions of a second", () => {
    expect(dateFromSql('2026-12-01 02:00:00+00')?.toISOString()).toBe('2026-12-01T02:00:00.000Z');
    expect(dateFromSql('2026-12-01 03:00:00.123+01')?.toISOString()).toBe('2026-12-01T02:00:00.123Z');
  });

  it('keeps null and a Date as they are, and names a value that is no date', () => {
    const date = new Date('2026-12-01T02:00:00Z');
    expect(dateFromSql(null)).toBeNull();
    expect(dateFromSql(date)).toBe(date);
    expect(() => dateFromSql('yesterday')).toThrow('Not a date from the database: yesterday');
  });
});
