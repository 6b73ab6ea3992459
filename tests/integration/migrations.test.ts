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

  it('carries catalog rows over into scopes, and the full-text index with them', async () => {
    const orm = await freshDatabase();
    await migrator(orm).up({ to: 'Migration20261122040541_catalog' });
    const conn = orm.em.fork().getConnection();
    await conn.execute(`insert into catalog_repositories (id, location, attached_at) values ('r1', 'local:/r1', 0)`);
    await conn.execute(
      `insert into catalog_snapshots (id, repository_id, task, entity, time, items, bytes) values ('s1', 'r1', 'dropbox', 'ana', 0, 2, 10)`,
    );
    await conn.execute(
      `insert into catalog_items (id, repository_id, task, entity, key, kind, name, path, author) values
        (7, 'r1', 'dropbox', 'ana', '/a.pdf', 'file', 'Quarterly report.pdf', '/a.pdf', 'Ana'),
        (9, 'r1', 'dropbox', 'bo', '/b.txt', 'file', 'notes.txt', '/b.txt', null)`,
    );
    await conn.execute(
      `insert into catalog_versions (item_id, snapshot_id, size, deleted) values (7, 's1', 4, 0), (9, 's1', 6, 0)`,
    );
    await migrate(orm);
    expect(await conn.execute('select task, entity from catalog_scopes order by entity')).toEqual([
      { task: 'dropbox', entity: 'ana' },
      { task: 'dropbox', entity: 'bo' },
    ]);
    expect(
      await conn.execute(
        'select i.id, i.key, s.entity from catalog_items i join catalog_scopes s on s.id = i.scope_id order by i.id',
      ),
    ).toEqual([
      { id: 7, key: '/a.pdf', entity: 'ana' },
      { id: 9, key: '/b.txt', entity: 'bo' },
    ]);
    expect(await conn.execute('select item_id from catalog_versions order by item_id')).toEqual([
      { item_id: 7 },
      { item_id: 9 },
    ]);
    expect(
      await conn.execute(`select rowid from catalog_items_fts where catalog_items_fts match '"quarter"*'`),
    ).toEqual([{ rowid: 7 }]);
    // Deleting an item still cascades to its versions after the tables were rebuilt.
    await conn.execute('delete from catalog_items_fts where rowid = 9');
    await conn.execute('delete from catalog_items where id = 9');
    expect(await conn.execute('select item_id from catalog_versions')).toEqual([{ item_id: 7 }]);
  });

  it('gives existing catalog rows their folded search keys', async () => {
    const orm = await freshDatabase();
    await migrator(orm).up({ to: 'Migration20261207021900_api_key_scope' });
    const conn = orm.em.fork().getConnection();
    await conn.execute(`insert into catalog_repositories (id, location, attached_at) values ('r1', 'local:/r1', 0)`);
    await conn.execute(
      `insert into catalog_snapshots (id, repository_id, task, entity, time, items, bytes) values ('s1', 'r1', 't', 'e', 0, 1, 1)`,
    );
    await conn.execute(`insert into catalog_scopes (id, repository_id, task, entity) values (1, 'r1', 't', 'e')`);
    await conn.execute(
      `insert into catalog_items (id, scope_id, key, kind, name, path, author) values (5, 1, 'k', 'file', 'ÄÖÜ ＡＢＣ.txt', '/Straße/ÄÖÜ ＡＢＣ.txt', 'İlker')`,
    );
    await conn.execute(
      `insert into catalog_versions (item_id, snapshot_id, size, author, deleted) values (5, 's1', 1, 'ÉMILE', 0)`,
    );
    await migrate(orm);
    expect(await conn.execute('select name_key, path_key, author_key from catalog_items')).toEqual([
      { name_key: 'äöü abc.txt', path_key: '/strasse/äöü abc.txt', author_key: 'i̇lker' },
    ]);
    expect(await conn.execute('select author_key from catalog_versions')).toEqual([{ author_key: 'émile' }]);
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
    expect(await migrate(orm)).toEqual(sqliteMigrations.slice(2).map((m) => m.name));
    const [org] = await conn.execute('select path, status, enforce_two_factor from organizations');
    expect(org).toEqual({ path: '/org-1/', status: 'active', enforce_two_factor: 0 });
    const [user] = await conn.execute('select status, permissions, accessible_accounts, email_confirmed_at from users');
    expect(user).toMatchObject({ status: 'active', permissions: '[]', accessible_accounts: 'all' });
    expect(user?.email_confirmed_at).toBe(now); // confirmed as of its creation
  });
});

describe('upgrading API keys that acted as administrators', () => {
  it("gives each key its creator's current rights, and a key without a creator none", async () => {
    const orm = await freshDatabase();
    await migrator(orm).up({ to: 'Migration20261122085444_export_results_downloads' });
    const conn = orm.em.fork().getConnection();
    const now = new Date().toISOString();
    await conn.execute(
      `insert into organizations (id, name, kind, parent_id, path, created_at, updated_at) values
        ('root', 'Root', 'root', null, '/root/', '${now}', '${now}'),
        ('p1', 'Partner', 'partner', 'root', '/root/p1/', '${now}', '${now}')`,
    );
    await conn.execute(
      `insert into users (id, organization_id, email, role, permissions, accessible_accounts, accessible_organization_ids, created_at, updated_at) values
        ('admin', 'root', 'admin@example.com', 'administrator', '[]', 'all', '[]', '${now}', '${now}'),
        ('limited', 'root', 'limited@example.com', 'custom', '["manage_integrations","view_dashboard"]', 'selected', '["p1"]', '${now}', '${now}')`,
    );
    const key = (id: string, org: string, by: string | null, email: string) =>
      `('${id}', '${org}', '${'0'.repeat(64)}', ${by ? `'${by}'` : 'null'}, '${email}', '${now}')`;
    await conn.execute(
      `insert into api_keys (id, organization_id, secret_hash, created_by_id, created_by_email, created_at) values
        ${key('by-admin', 'root', 'admin', 'admin@example.com')},
        ${key('by-limited', 'root', 'limited', 'limited@example.com')},
        ${key('limited-below', 'p1', 'limited', 'limited@example.com')},
        ${key('by-key', 'root', null, 'API key by-limited')},
        ${key('orphan', 'root', null, 'gone@example.com')}`,
    );
    await conn.execute(
      `insert into api_tokens (id, api_key_id, kind, created_at, expires_at) values ('t1', 'by-admin', 'refresh', '${now}', '${now}')`,
    );
    await migrate(orm);
    const rows = await conn.execute(
      'select id, created_by_id, role, permissions, accessible_accounts, accessible_organization_ids from api_keys order by id',
    );
    expect(rows).toEqual([
      {
        id: 'by-admin',
        created_by_id: 'admin',
        role: 'administrator',
        permissions: '[]',
        accessible_accounts: 'all',
        accessible_organization_ids: '[]',
      },
      {
        id: 'by-key',
        created_by_id: 'limited',
        role: 'custom',
        permissions: '["manage_integrations","view_dashboard"]',
        accessible_accounts: 'selected',
        accessible_organization_ids: '["p1"]',
      },
      {
        id: 'by-limited',
        created_by_id: 'limited',
        role: 'custom',
        permissions: '["manage_integrations","view_dashboard"]',
        accessible_accounts: 'selected',
        accessible_organization_ids: '["p1"]',
      },
      {
        id: 'limited-below',
        created_by_id: 'limited',
        role: 'custom',
        permissions: '["manage_integrations","view_dashboard"]',
        accessible_accounts: 'all',
        accessible_organization_ids: '[]',
      },
      {
        id: 'orphan',
        created_by_id: null,
        role: 'custom',
        permissions: '[]',
        accessible_accounts: 'all',
        accessible_organization_ids: '[]',
      },
    ]);
    expect(await conn.execute('select id, family, used_at from api_tokens')).toEqual([
      { id: 't1', family: 't1', used_at: null },
    ]);
  });
});
