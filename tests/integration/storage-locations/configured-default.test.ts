// The default storage location from the environment (HOLDFAST_DEFAULT_STORAGE_*, as docker
// compose sets it for its MinIO): created when the appliance is set up — its connection tested,
// its secret sealed like any location's — and made where the root's backups and new accounts'
// backups go; left alone at later starts; bad settings refuse to start, naming the variable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKernel } from '../../../core/appliance.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { defaultForNewAccounts, resolveLocation } from '../../../core/storage-locations/assignment.ts';
import { configuredDefaultStorage } from '../../../core/storage-locations/configured-default.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { configProblemsOf, tempDir, testConfig } from '../../helpers/config.ts';
import { completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';

let s3: LoopbackS3;
beforeAll(async () => {
  s3 = await startS3rver(['compose-minio']);
});
afterAll(async () => {
  await s3?.stop();
});

function storageEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HOLDFAST_DEFAULT_STORAGE_KIND: 's3',
    HOLDFAST_DEFAULT_STORAGE_NAME: 'On-premises MinIO',
    HOLDFAST_DEFAULT_STORAGE_ENDPOINT: s3.endpoint,
    HOLDFAST_DEFAULT_STORAGE_BUCKET: 'compose-minio',
    HOLDFAST_DEFAULT_STORAGE_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
    HOLDFAST_DEFAULT_STORAGE_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    HOLDFAST_DEFAULT_STORAGE_FORCE_PATH_STYLE: 'true',
    ...overrides,
  };
}

describe('the default storage location from the environment', () => {
  let t: TestApp;
  afterAll(async () => {
    await t?.close();
  });

  it('is created at setup, sealed, and is where the root and new accounts back up', async () => {
    t = await createTestApp(storageEnv());
    await completeSetupVia(t.app);
    const em = t.kernel.orm.em.fork();
    const locations = await em.find(StorageLocation, { builtin: false });
    expect(locations.map((l) => [l.name, l.kind, l.lastTestOk])).toEqual([['On-premises MinIO', 's3', true]]);
    const location = locations[0] as (typeof locations)[number];
    expect(location.settings).toMatchObject({ bucket: 'compose-minio', forcePathStyle: true });
    expect(location.settings).not.toHaveProperty('secretAccessKey');
    const raw = await em
      .getConnection()
      .execute('select sealed_secrets from storage_locations where id = ?', [location.id]);
    expect(String((raw[0] as { sealed_secrets: string }).sealed_secrets)).toMatch(/^hf1\./);

    const root = await em.findOneOrFail(Organization, { kind: 'root' });
    expect((await resolveLocation(em, root)).location.id).toBe(location.id);
    expect((await defaultForNewAccounts(em, root)).location.id).toBe(location.id);
  });

  it('is left alone at the next start', async () => {
    const again = await openKernel(testConfig(t.dataDir, storageEnv()), createLogger('silent'));
    try {
      expect(await again.orm.em.fork().count(StorageLocation, { builtin: false })).toBe(1);
    } finally {
      await again.close();
    }
  });
});

describe('bad default storage settings', () => {
  it('refuse to start, naming the variable', () => {
    const dir = tempDir();
    try {
      const problems = (env: Record<string, string>) =>
        configProblemsOf(() => configuredDefaultStorage(testConfig(dir.path, env)));
      expect(problems(storageEnv({ HOLDFAST_DEFAULT_STORAGE_KIND: 'floppy' }))).toEqual([
        'HOLDFAST_DEFAULT_STORAGE_KIND: no sink plugin of kind "floppy" is installed (got "floppy")',
      ]);
      expect(problems(storageEnv({ HOLDFAST_DEFAULT_STORAGE_BUKET: 'x' }))).toEqual([
        'HOLDFAST_DEFAULT_STORAGE_BUKET: the s3 sink has no such setting',
      ]);
      expect(problems({ HOLDFAST_DEFAULT_STORAGE_BUCKET: 'x' })).toEqual([
        'HOLDFAST_DEFAULT_STORAGE_BUCKET: set HOLDFAST_DEFAULT_STORAGE_KIND too (the sink kind, e.g. s3)',
      ]);
    } finally {
      dir.remove();
    }
  });
});
