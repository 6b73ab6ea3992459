// The appliance on PostgreSQL: the rules that on SQLite lean on the database file.
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openKernel } from '../../../core/appliance.ts';
import { configurationRows } from '../../../core/dr/config-backup.ts';
import { CONFIGURATION_TABLES } from '../../../core/dr/tables.ts';
import { createLogger } from '../../../core/logging.ts';
import { MasterKeyError } from '../../../core/secrets/master-key.ts';
import { ADMIN, completeSetupVia, createTestApp } from '../../helpers/kernel.ts';

describe('the appliance on PostgreSQL', () => {
  it('refuses to start without its master key file once the database has data', async () => {
    const t = await createTestApp();
    const config = t.kernel.deps.config;
    try {
      expect(config.databaseUrl).toMatch(/^postgres:\/\//);
      expect((await completeSetupVia(t.app)).status).toBe(303);
      const key = t.kernel.deps.masterKey.toString('base64');
      await t.kernel.close();
      rmSync(config.masterKeyFile);
      // A new key would make every stored credential unreadable: say so instead of generating one.
      await expect(openKernel(config, createLogger('silent'))).rejects.toThrow(MasterKeyError);
      const reopened = await openKernel({ ...config, masterKey: key }, createLogger('silent'));
      expect(reopened.deps.setupState.complete).toBe(true);
      await reopened.close();
    } finally {
      rmSync(t.dataDir, { recursive: true, force: true });
    }
  });

  it('reads the configuration rows the sealed configuration backup carries', async () => {
    const t = await createTestApp();
    try {
      expect((await completeSetupVia(t.app)).status).toBe(303);
      const tables = await configurationRows(t.kernel.orm.em.fork());
      expect(Object.keys(tables)).toEqual([...CONFIGURATION_TABLES]);
      expect(tables.organizations?.map((o) => o.name)).toEqual([ADMIN.organizationName]);
      expect(tables.users?.map((u) => u.email)).toEqual([ADMIN.email]);
    } finally {
      await t.close();
    }
  });
});
