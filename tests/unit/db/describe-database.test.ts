import { describe, expect, it } from 'vitest';
import { describeDatabase } from '../../../core/db/database.ts';

describe('describeDatabase', () => {
  it('names the SQLite file when no PostgreSQL URL is set', () => {
    expect(describeDatabase({ databasePath: '/data/holdfast.sqlite' })).toBe('/data/holdfast.sqlite');
  });

  it("names PostgreSQL's URL without its password", () => {
    expect(
      describeDatabase({
        databasePath: '/data/holdfast.sqlite',
        databaseUrl: 'postgres://holdfast:s3cret-pw@db.example:5432/holdfast',
      }),
    ).toBe('postgres://holdfast:***@db.example:5432/holdfast (PostgreSQL)');
  });
});
