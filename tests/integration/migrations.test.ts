import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteMigrationsDir } from '../../config/orm.ts';
import { type Database, migrate, migrator, openDatabase } from '../../core/db/database.ts';
import { sqliteMigrations } from '../../core/db/migrations/sqlite/index.ts';
import { tempDir } from '../helpers/config.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function freshDatabase(): Promise<Database> {
  const dir = tempDir();
  const orm = await openDatabase({ databasePath: `${dir.path}/db.sqlite`, databaseBusyTimeoutMs: 1000 });
  cleanups.push(dir.remove, () => orm.close());
  return orm;
}

describe('database migrations', () => {
  it('lists every migration file of the folder, in order', () => {
    const files = readdirSync(sqliteMigrationsDir)
      .filter((f) => /^Migration\d+.*\.ts$/.test(f))
      .map((f) => f.replace(/\.ts$/, ''))
      .sort();
    expect(sqliteMigrations.map((m) => m.name)).toEqual(files);
  });

  it('bring an empty database exactly to the schema of the entities', async () => {
    const orm = await freshDatabase();
    expect(await migrate(orm)).toEqual(sqliteMigrations.map((m) => m.name));
    expect(await migrate(orm)).toEqual([]);
    expect((await orm.schema.getUpdateSchemaSQL()).trim()).toBe('');
  });

  it('runs the database in WAL mode with a busy timeout and foreign keys', async () => {
    const orm = await freshDatabase();
    const conn = orm.em.fork().getConnection();
    expect(await conn.execute('pragma journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await conn.execute('pragma busy_timeout')).toEqual([{ timeout: 1000 }]);
    expect(await conn.execute('pragma foreign_keys')).toEqual([{ foreign_keys: 1 }]);
  });
});

describe('upgrading an appliance set up before tenancy', () => {
  it('keeps its root organization and administrator, active and able to sign in', async () => {
    const orm = await freshDatabase();
    await migrator(orm).up({ to: 'Migration20261122040541_catalog' });
    const conn = orm.em.fork().getConnection();
    const now = new Date().toISOString();
    await conn.execute(
      `insert into organizations (id, name, kind, parent_id, created_at, updated_at) values ('org-1', 'Old Root', 'root', null, '${now}', '${now}')`,
    );
    await conn.execute(
      `insert into users (id, organization_id, email, password_hash, role, created_at, updated_at, last_login_at) values ('user-1', 'org-1', 'old@admin.example', 'scrypt$17$8$1$x$y', 'administrator', '${now}', '${now}', null)`,
    );
    // Later migrations (jobs, …) follow it.
    expect((await migrate(orm))[0]).toBe('Migration20261122052349_identity');
    const [org] = await conn.execute('select path, status, enforce_two_factor from organizations');
    expect(org).toEqual({ path: '/org-1/', status: 'active', enforce_two_factor: 0 });
    const [user] = await conn.execute('select status, permissions, accessible_accounts, email_confirmed_at from users');
    expect(user).toMatchObject({ status: 'active', permissions: '[]', accessible_accounts: 'all' });
    expect(user?.email_confirmed_at).toBeTruthy();
  });
});
