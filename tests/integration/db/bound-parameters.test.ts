// The database driver binds values as parameters instead of writing them into the SQL text
// (config/sqlite-driver.ts): no value, whatever it holds, can change a statement.
import type { Database } from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bindQuery } from '../../../config/sqlite-driver.ts';
import { runSql } from '../../../core/db/run-sql.ts';
import { nativeClient } from '../../../core/db/sqlite-catalog.ts';
import { containsText } from '../../../core/db/text-search.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { createTestApp, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
const prepared: string[] = [];
const em = () => t.kernel.orm.em.fork();

beforeAll(async () => {
  t = await createTestApp();
  // Every statement SQLite is asked to prepare, as text.
  const db: Database = await nativeClient(em());
  const prepare = db.prepare.bind(db);
  db.prepare = ((sql: string) => {
    prepared.push(sql);
    return prepare(sql);
  }) as Database['prepare'];
});

afterAll(async () => {
  await t.close();
});

describe('bound parameters', () => {
  it('sends inserts, finds, filters and raw SQL with their values bound, never in the SQL text', async () => {
    const name = "needle-1 it's\u0000here";
    const e = em();
    const id = crypto.randomUUID();
    e.create(Organization, { id, kind: 'root', path: `/${id}/`, name });
    await e.flush();
    expect((await em().findOneOrFail(Organization, { name })).id).toBe(id);
    expect(await em().count(Organization, { ...containsText('name', "needle-1 it'") } as never)).toBe(1);
    const rows = await runSql<{ name: string }[]>(em(), 'select name from organizations where name = ?', [name]);
    expect(rows.map((r) => r.name)).toEqual([name]);
    expect(prepared.length).toBeGreaterThan(3);
    expect(prepared.filter((sql) => sql.includes('needle'))).toEqual([]);
    // Whole numbers are bound as integers, as their literals were: one in a text column reads "5".
    await runSql(em(), 'update organizations set phone = ? where id = ?', [5, id]);
    expect((await em().findOneOrFail(Organization, { id })).phone).toBe('5');
  });

  it('turns MikroORM placeholders into bound ones: lists, identifiers, dates, booleans, objects', () => {
    const platform = t.kernel.orm.em.getPlatform() as Parameters<typeof bindQuery>[0];
    const when = new Date('2026-01-02T03:04:05Z');
    expect(
      bindQuery(platform, 'select ?? from t where a in (?) and b = ? and d = ? and e = ?', [
        'col',
        ['x', 'y'],
        true,
        when,
        { a: 1 },
      ]),
    ).toEqual({
      sql: 'select `col` from t where a in (?, ?) and b = ? and d = ? and e = ?',
      values: ['x', 'y', 1n, BigInt(when.getTime()), '{"a":1}'],
    });
    expect(bindQuery(platform, '? + 1', [null])).toEqual({ sql: '? + 1', values: [null] });
    expect(bindQuery(platform, '?, ?', [2.5, 7])).toEqual({ sql: '?, ?', values: [2.5, 7n] });
  });
});
