// The configuration backup's tables and seal: every table of the migrated schema is either carried
// or left out with a reason; the sealed file opens with the master key or the recovery passphrase
// and with nothing else, names a wrong key or passphrase, and fails on any flipped byte.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Kernel, openKernel } from '../../../core/appliance.ts';
import { onPostgres } from '../../../core/db/run-sql.ts';
import {
  ConfigBackupError,
  configBackupHeader,
  openConfigBackup,
  passphraseKek,
  sealConfigBackup,
} from '../../../core/dr/sealed-backup.ts';
import { CONFIGURATION_TABLES, LEFT_OUT_TABLES } from '../../../core/dr/tables.ts';
import { createLogger } from '../../../core/logging.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';

const dir = tempDir();
let kernel: Kernel;
beforeAll(async () => {
  kernel = await openKernel(testConfig(dir.path), createLogger('silent'));
});
afterAll(async () => {
  await kernel.close();
  dir.remove();
});

describe('configuration backup tables', () => {
  it('name every table of the schema exactly once', async () => {
    const postgres = onPostgres(kernel.orm.em.fork());
    const rows = (await kernel.orm.em
      .getConnection()
      .execute(
        postgres
          ? "select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE'"
          : "select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name not like 'catalog_items_fts_%'",
      )) as { name: string }[];
    const carried: readonly string[] = CONFIGURATION_TABLES;
    const named = [...carried, ...Object.keys(LEFT_OUT_TABLES)];
    expect(new Set(named).size).toBe(named.length);
    // FTS5's table exists on SQLite only (PostgreSQL's search document is a column of catalog_items).
    const expected = postgres ? named.filter((name) => name !== 'catalog_items_fts') : named;
    expect(rows.map((r) => r.name).sort()).toEqual(expected.sort());
  });
});

describe('the sealed configuration backup', () => {
  const masterKey = Buffer.alloc(32, 1);
  const payload = {
    masterKey: masterKey.toString('base64'),
    migrations: ['m1'],
    tables: { organizations: [{ id: 'o1', name: 'Acme' }] },
  };
  const salt = Buffer.alloc(16, 2);
  const sealed = sealConfigBackup(payload, {
    appliance: 'app-1',
    written: new Date('2026-12-07T12:00:00Z'),
    masterKey,
    passphrase: { salt, kek: passphraseKek('a long recovery passphrase', salt) },
  });

  it('opens with the master key or the passphrase, and its header says whose it is', () => {
    expect(openConfigBackup(sealed, { masterKey })).toEqual(payload);
    expect(openConfigBackup(sealed, { passphrase: 'a long recovery passphrase' })).toEqual(payload);
    expect(configBackupHeader(sealed)).toEqual({
      appliance: 'app-1',
      written: new Date('2026-12-07T12:00:00Z'),
      passphrase: true,
    });
    expect(sealed.toString('utf8')).not.toContain('Acme');
  });

  it('names a wrong key, a wrong passphrase, a missing passphrase and damage', () => {
    expect(() => openConfigBackup(sealed, { masterKey: Buffer.alloc(32, 9) })).toThrow(
      new ConfigBackupError("this master key does not open the configuration backup (another appliance's key?)"),
    );
    expect(() => openConfigBackup(sealed, { passphrase: 'not it' })).toThrow('the recovery passphrase is not right');
    const withoutPassphrase = sealConfigBackup(payload, { appliance: 'app-1', written: new Date(), masterKey });
    expect(() => openConfigBackup(withoutPassphrase, { passphrase: 'anything' })).toThrow(
      'no recovery passphrase was set on this appliance: use its master key export',
    );
    const file = JSON.parse(sealed.toString('utf8'));
    const body = Buffer.from(file.body, 'base64');
    body[10] = (body[10] as number) ^ 1;
    const damaged = Buffer.from(JSON.stringify({ ...file, body: body.toString('base64') }));
    expect(() => openConfigBackup(damaged, { masterKey })).toThrow(
      'the configuration backup is damaged (it fails authentication)',
    );
    // The header is bound in: another appliance id or date does not open.
    const moved = Buffer.from(JSON.stringify({ ...file, appliance: 'app-2' }));
    expect(() => openConfigBackup(moved, { masterKey })).toThrow(/does not open/);
    expect(() => openConfigBackup(Buffer.from('{"format":"x"}'), { masterKey })).toThrow(
      'not a Holdfast configuration backup (or of a newer version)',
    );
  });
});
