// The PostgreSQL migrations (core/db/migrations/postgresql) against a real server: they list every
// file, bring an empty database exactly to the entities' schema (so an entity change without a
// PostgreSQL migration fails here, as tests/integration/migrations.test.ts does for SQLite), and
// build what the schema generator does not know: the fold function, the full-text index and
// account_health's triggers.
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { postgresqlMigrationsDir } from '../../../config/orm.ts';
import { type Database, migrate, openDatabase } from '../../../core/db/database.ts';
import { foldText } from '../../../core/db/fold.ts';
import { postgresqlMigrations } from '../../../core/db/migrations/postgresql/index.ts';
import { HAND_MADE_COLUMNS, HAND_MADE_INDEXES } from '../../../core/db/postgres-catalog.ts';
import { dropDatabase, freshDatabaseUrl, testPostgresUrl } from '../../helpers/postgres.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function server(): string {
  const url = testPostgresUrl();
  if (!url) throw new Error('no PostgreSQL server: run this file in the vitest project "postgres"');
  return url;
}

/** A database with nothing in it (a copy of template0, not of the migrated template1). */
async function emptyDatabase(): Promise<Database> {
  const url = freshDatabaseUrl(server());
  const admin = new pg.Client({ connectionString: `${server()}/postgres` });
  await admin.connect();
  await admin.query(`create database "${new URL(url).pathname.slice(1)}" template template0 encoding 'UTF8'`);
  await admin.end();
  const orm = await openDatabase({ databasePath: '', databaseBusyTimeoutMs: 1000, databaseUrl: url });
  cleanups.push(
    () => dropDatabase(url),
    () => orm.close(),
  );
  return orm;
}

describe('PostgreSQL migrations', () => {
  it('lists every migration file of the folder, in order', () => {
    const files = readdirSync(postgresqlMigrationsDir)
      .filter((f) => /^Migration\d+.*\.ts$/.test(f))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(postgresqlMigrations.map((m) => m.name)).toEqual(files);
  });

  it('bring an empty database exactly to the schema of the entities', async () => {
    const orm = await emptyDatabase();
    expect(await migrate(orm)).toEqual(postgresqlMigrations.map((m) => m.name));
    expect(await migrate(orm)).toEqual([]);
    // What the schema generator would still change, less the session setting it always starts
    // with and the hand-made full-text index and search column it does not know (see
    // HAND_MADE_INDEXES and HAND_MADE_COLUMNS).
    const pending = (await orm.schema.getUpdateSchemaSQL())
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line && line !== "set names 'utf8';")
      .filter((line) => !HAND_MADE_INDEXES.some((name) => line === `drop index "${name}";`))
      .filter(
        (line) =>
          !HAND_MADE_COLUMNS.some(({ table, column }) => line === `alter table "${table}" drop column "${column}";`),
      );
    expect(pending).toEqual([]);
  });

  it('folds text in the database exactly as foldText does', async () => {
    const orm = await emptyDatabase();
    await migrate(orm);
    const samples = ['ÄÖÜ ＡＢＣ.txt', '/Straße/Ὀδυσσεύς', 'İlker', 'ÉMILE ſ', 'cafe\u0301'];
    const rows = (await orm.em
      .fork()
      .getConnection()
      .execute(`select ${samples.map((_, i) => `holdfast_fold(?) as f${i}`).join(', ')}`, samples)) as Record<
      string,
      string
    >[];
    expect(Object.values(rows[0] ?? {})).toEqual(samples.map(foldText));
  });

  it("answers SQLite's instr() and json_extract() as the shared SQL uses them", async () => {
    const orm = await emptyDatabase();
    await migrate(orm);
    const rows = await orm.em
      .fork()
      .getConnection()
      .execute(
        `select instr('a/b/c', '/') as slash, instr('abc', '/') as none,
                cast(json_extract('{"apiCalls": 42}'::jsonb, '$.apiCalls') as integer) as calls,
                json_extract('{"other": 1}'::jsonb, '$.apiCalls') is null as missing`,
      );
    expect(rows).toEqual([{ slash: 2, none: 0, calls: 42, missing: true }]);
  });

  it('keeps account health with triggers as tasks and entities change', async () => {
    const orm = await emptyDatabase();
    await migrate(orm);
    const conn = orm.em.fork().getConnection();
    const now = new Date().toISOString();
    await conn.execute(
      `insert into organizations (id, name, kind, parent_id, path, created_at, updated_at) values ('o1', 'Org', 'customer', null, '/o1/', '${now}', '${now}')`,
    );
    await conn.execute(
      `insert into backup_tasks (id, organization_id, service, name, connection, created_at, updated_at)
       values ('t1', 'o1', 'dropbox', 'T', '{}', '${now}', '${now}')`,
    );
    await conn.execute(
      `insert into task_entities (id, task_id, external_id, name, kind, status, last_bytes, stored_bytes, created_at) values
        ('e1', 't1', 'e1', 'E1', 'user', 'success', 100, 40, '${now}'), ('e2', 't1', 'e2', 'E2', 'user', 'failed', 5, 2, '${now}')`,
    );
    const health = () =>
      conn.execute('select tasks, failed, success, protected, bytes, stored_bytes from account_health') as Promise<
        Record<string, unknown>[]
      >;
    expect(await health()).toEqual([{ tasks: 1, failed: 1, success: 1, protected: 2, bytes: 105, stored_bytes: 42 }]);
    await conn.execute(`update task_entities set status = 'success' where id = 'e2'`);
    expect(await health()).toEqual([{ tasks: 1, failed: 0, success: 2, protected: 2, bytes: 105, stored_bytes: 42 }]);
    await conn.execute(`update backup_tasks set deleted_at = '${now}'`);
    expect(await health()).toEqual([{ tasks: 0, failed: 0, success: 0, protected: 0, bytes: 0, stored_bytes: 0 }]);
  });
});
