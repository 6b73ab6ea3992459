// The data folder holds the database (whose outbox holds live reset links) and the master key:
// under the usual umask 022 they must still be private to the appliance's user.
import { chmodSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openKernel } from '../../core/appliance.ts';
import { completeSetup } from '../../core/identity/setup-service.ts';
import { createLogger } from '../../core/logging.ts';
import { tempDir, testConfig } from '../helpers/config.ts';

const mode = (path: string) => statSync(path).mode & 0o777;
let previousUmask: number;
let dir: ReturnType<typeof tempDir>;

beforeEach(() => {
  previousUmask = process.umask(0o022);
  dir = tempDir();
});
afterEach(() => {
  process.umask(previousUmask);
  dir.remove();
});

async function openAndWrite(dataDir: string): Promise<void> {
  const kernel = await openKernel(testConfig(dataDir), createLogger('silent'));
  try {
    await completeSetup(kernel.orm.em, {
      organizationName: 'Modes',
      email: 'modes@example.test',
      password: 'Private-files-2026',
    });
    expect(statSync(join(dataDir, 'holdfast.sqlite-wal')).isFile()).toBe(true);
    for (const file of ['holdfast.sqlite', 'holdfast.sqlite-wal', 'holdfast.sqlite-shm', 'master.key']) {
      expect([file, mode(join(dataDir, file)).toString(8)]).toEqual([file, '600']);
    }
  } finally {
    await kernel.close();
  }
}

describe('data folder permissions', () => {
  it('creates the data folder 0700 and the database, its WAL and the master key 0600', async () => {
    const dataDir = join(dir.path, 'data');
    await openAndWrite(dataDir);
    expect(mode(dataDir).toString(8)).toBe('700');
    expect(mode(join(dataDir, 'storage')).toString(8)).toBe('700');
  });

  it('makes a database left readable by others (an older version) private again', async () => {
    const dataDir = join(dir.path, 'data');
    const kernel = await openKernel(testConfig(dataDir), createLogger('silent'));
    await kernel.close();
    chmodSync(join(dataDir, 'holdfast.sqlite'), 0o644);
    await openAndWrite(dataDir);
    expect(mode(dataDir).toString(8)).toBe('700');
  });
});
