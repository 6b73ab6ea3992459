// Backup jobs keep their snapshots at the storage location of their organization: an account
// bringing its own S3 bucket (s3rver) gets its repository under organizations/<id>/ there, the
// task records the location with its first snapshot, the location and the account's choice are
// fixed from then on, a later default above does not move it, and the organization's purge
// deletes what it stored there; two first backups of an account at once pin one location. The built-in location keeps the original folder layout.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import {
  backupsOf,
  pinOrganizationLocation,
  resolveLocation,
  setDefaultForNewAccounts,
  setOrganizationLocation,
} from '../../../core/storage-locations/assignment.ts';
import { OrganizationStorage, StorageLocation } from '../../../core/storage-locations/entities.ts';
import {
  BUILTIN_LOCATION_ID,
  createLocation,
  deleteLocation,
  type StorageContext,
  updateLocation,
} from '../../../core/storage-locations/locations.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { S3Sink } from '../../../plugins/sinks/s3/s3-sink.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

let h: JobsHarness;
let s3: LoopbackS3;
let portal: IOrganization;
let account: IOrganization;
let locationId: string;

const ctx = (): StorageContext => ({
  em: h.em(),
  credentials: h.ctx.credentials,
  storageDir: h.app.kernel.deps.config.storageDir,
});

async function backupOnce(taskId: string): Promise<void> {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  await discoverEntities(em, task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const ids = (await em.find(TaskEntity, { task: taskId, deletedAt: null })).map((e) => e.id);
  await backupNow(em, task, ids, { kind: 'user', ...ACTOR }, h.clock.now, 3);
  await h.runner.runUntilIdle();
}

async function keysInBucket(prefix: string): Promise<string[]> {
  const sink = new S3Sink({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    bucket: 'own-bucket',
    prefix: '',
    forcePathStyle: true,
    ...S3RVER_CREDENTIALS,
  });
  const keys: string[] = [];
  for await (const info of sink.list(prefix)) keys.push(info.key);
  await sink.close();
  return keys;
}

beforeAll(async () => {
  [h, s3] = await Promise.all([createJobsHarness(), startS3rver(['own-bucket'])]);
  portal = await h.organization('Operator of this test');
  account = await makeOrganization(h.em(), portal, 'customer', 'Account with its own bucket');
  const { location } = await createLocation(
    ctx(),
    await h.em().findOneOrFail(Organization, { id: account.id }),
    {
      name: 'Our own bucket',
      kind: 's3',
      settings: {
        endpoint: s3.endpoint,
        bucket: 'own-bucket',
        prefix: 'holdfast',
        forcePathStyle: true,
        accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
        secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
      },
    },
    'json',
    ACTOR,
    h.clock.now,
  );
  locationId = location.id;
  await setOrganizationLocation(h.em(), await h.em().findOneOrFail(Organization, { id: account.id }), locationId, null);
}, 60_000);

afterAll(async () => {
  await Promise.all([h.close(), s3.stop()]);
});

describe('backups at storage locations', () => {
  it("keeps an account's snapshots in its own bucket and records the location on the task", async () => {
    const task = await h.task(account);
    await backupOnce(task.id);
    const stored = await h.em().findOneOrFail(BackupTask, { id: task.id });
    expect(stored.storageLocation).toBe(locationId);
    const entities = await h.em().find(TaskEntity, { task: task.id });
    expect(entities.length).toBeGreaterThan(0);
    expect(entities.every((e) => e.status === 'success')).toBe(true);
    const keys = await keysInBucket(`holdfast/organizations/${account.id}/`);
    expect(keys.some((k) => k.endsWith('/config') || k.includes('/snapshots/'))).toBe(true);
    expect(existsSync(join(h.app.kernel.deps.config.storageDir, 'organizations', account.id))).toBe(false);
  });

  it('fixes the location and the account’s choice once backups exist', async () => {
    const em = h.em();
    const org = await em.findOneOrFail(Organization, { id: account.id });
    const location = await em.findOneOrFail(StorageLocation, { id: locationId }, { populate: ['organization'] });
    expect(await backupsOf(em, org)).toBeGreaterThan(0);
    await expect(
      updateLocation(ctx(), org, location, { name: 'Renamed', settings: {} }, 'merge', ACTOR, h.clock.now),
    ).rejects.toMatchObject({
      code: 'location_in_use',
    });
    await expect(deleteLocation(ctx(), org, location, ACTOR)).rejects.toMatchObject({ code: 'location_in_use' });
    await expect(setOrganizationLocation(em, org, BUILTIN_LOCATION_ID, ACTOR)).rejects.toMatchObject({
      code: 'storage_fixed',
    });
  });

  it('pins the location a first backup went to, so a later default above does not move it', async () => {
    const other = await makeOrganization(h.em(), portal, 'customer', 'Account on the default');
    const task = await h.task(other);
    await backupOnce(task.id);
    expect((await h.em().findOneOrFail(BackupTask, { id: task.id })).storageLocation).toBe('default');
    expect(existsSync(join(h.app.kernel.deps.config.storageDir, 'organizations', other.id, 'config'))).toBe(true);
    const portalLocation = await createLocation(
      ctx(),
      await h.em().findOneOrFail(Organization, { id: portal.id }),
      { name: 'Portal disk', kind: 'local', settings: { path: join(h.app.dataDir, 'portal-disk') } },
      'json',
      ACTOR,
      h.clock.now,
    );
    await setDefaultForNewAccounts(
      h.em(),
      await h.em().findOneOrFail(Organization, { id: portal.id }),
      portalLocation.location.id,
      ACTOR,
    );
    const resolved = await resolveLocation(h.em(), await h.em().findOneOrFail(Organization, { id: other.id }));
    expect(resolved).toMatchObject({ source: 'own', location: { id: BUILTIN_LOCATION_ID } });
  });

  it('pins one location when the first backups of two tasks of an account start together', async () => {
    const fresh = await makeOrganization(h.em(), portal, 'customer', 'Account with two first backups');
    const builtin = await h.em().findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
    const org = await h.em().findOneOrFail(Organization, { id: fresh.id });
    const pinned = await Promise.all([
      pinOrganizationLocation(h.em(), org, builtin),
      pinOrganizationLocation(h.em(), org, builtin),
    ]);
    expect(pinned.map((l) => l.id)).toEqual([BUILTIN_LOCATION_ID, BUILTIN_LOCATION_ID]);
    expect(await h.em().count(OrganizationStorage, { organization: fresh.id })).toBe(1);
    expect(await resolveLocation(h.em(), org)).toMatchObject({ source: 'own', location: { id: BUILTIN_LOCATION_ID } });
  });

  it('deletes what an organization stored at its locations when it is purged', async () => {
    expect((await keysInBucket(`holdfast/organizations/${account.id}/`)).length).toBeGreaterThan(0);
    await h.ctx.storage.removeOrganization(account.id);
    expect(await keysInBucket(`holdfast/organizations/${account.id}/`)).toEqual([]);
  });
});
