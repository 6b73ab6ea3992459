// A storage location with immutability, through the real app: the S3 plugin's Object Lock mode and
// period on the location form, the connection test that proves the store refuses to delete a
// locked probe (against the Object Lock gate in front of s3rver; s3rver alone fails it, as it
// enforces nothing), the page saying so, and backups there written locked.
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ObjectLockedError } from '../../../core/plugins/sink.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { withLock } from '../../../storage/locks.ts';
import { packKey } from '../../../storage/pack.ts';
import { listPacks } from '../../../storage/repository.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { type ObjectLockGate, startObjectLockGate } from '../../fakes/s3-object-lock-gate.ts';
import { completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';
import { rootOf } from '../../helpers/tenants.ts';

let t: TestApp;
let s3: LoopbackS3;
let gate: ObjectLockGate;
let cookie: string;
const em = (): EntityManager => t.kernel.orm.em.fork();

beforeAll(async () => {
  [t, s3] = await Promise.all([createTestApp(), startS3rver(['worm-bucket'])]);
  gate = await startObjectLockGate(s3.endpoint);
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
}, 60_000);

afterAll(async () => {
  await gate.close();
  await Promise.all([t.close(), s3.stop()]);
});

async function post(path: string, fields: Record<string, string>): Promise<Response> {
  const init = form(fields);
  return await t.app.request(path, { ...init, headers: { ...init.headers, cookie } });
}

const lockedFields = (overrides: Record<string, string> = {}) => ({
  kind: 's3',
  name: 'Immutable S3',
  endpoint: gate.endpoint,
  region: 'us-east-1',
  bucket: 'worm-bucket',
  prefix: `p-${crypto.randomUUID().slice(0, 8)}`,
  accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
  secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
  forcePathStyle: 'on',
  objectLockMode: 'COMPLIANCE',
  immutabilityDays: '30',
  ...overrides,
});

describe('a location with immutability', () => {
  it('asks for the period with the mode, and the mode with the period', async () => {
    const res = await post('/settings/storage', lockedFields({ name: 'Half set', immutabilityDays: '' }));
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('Enter how many days objects stay locked.');
  });

  it('is refused when the store deletes a locked test object (s3rver enforces no Object Lock)', async () => {
    const res = await post('/settings/storage', lockedFields({ name: 'Unlocked bucket', endpoint: s3.endpoint }));
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('deleted a locked test object: enable Object Lock on the bucket');
    expect(await em().findOne(StorageLocation, { name: 'Unlocked bucket' })).toBeNull();
  });

  it('is saved once the store refuses to delete a locked probe, and the page says locking is enforced', async () => {
    const res = await post('/settings/storage', lockedFields());
    expect(res.status).toBe(303);
    const location = await em().findOneOrFail(StorageLocation, { name: 'Immutable S3' });
    expect(location.lastTestSentence).toContain(
      'Immutability (COMPLIANCE, 30 days) is enforced: the store refused to delete a locked test object.',
    );
    const page = await (await t.app.request('/settings/storage', { headers: { cookie } })).text();
    expect(page).toContain(`id="immutability-${location.id}">Immutable 30 days · COMPLIANCE</span>`);
    expect(page).toContain('Locking enforced: the store refused to delete a locked test object.');
  });

  it('gets backups written locked, which the appliance’s own credentials cannot delete', async () => {
    const location = await em().findOneOrFail(StorageLocation, { name: 'Immutable S3' });
    const root = await rootOf(em());
    const opened = await t.kernel.storage.open({ id: 'task-1', organizationId: root.id, storageLocation: location.id });
    try {
      const { repo } = opened;
      await withLock(
        repo.sink,
        'shared',
        { purpose: 'backup' },
        async () => {
          const w = new SnapshotWriter(repo, { task: 'task-1', entity: 'mailbox' });
          await w.add({ key: 'a.txt', kind: 'file' }, Buffer.from('important'));
          await w.commit();
        },
        repo,
      );
      const packs = [...(await listPacks(repo.sink)).keys()];
      expect(packs.length).toBeGreaterThan(0);
      for (const id of packs) {
        const until = (await repo.sink.head(packKey(id))).retainUntil as Date;
        expect(Math.round((until.getTime() - Date.now()) / 86_400_000)).toBe(30);
        await expect(repo.sink.delete(packKey(id))).rejects.toBeInstanceOf(ObjectLockedError);
      }
    } finally {
      await opened.close();
    }
  });
});
