// Backup jobs on an account's own S3 location with Object Lock (s3rver behind the loopback Object
// Lock gate): the job's packs, index and snapshots are written locked for the period, and the
// task's retention job, run 20 days later (the appliance's and the store's clocks moved), renews
// the locks of what the snapshots use before they lapse.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { enqueueJobsOnce } from '../../../core/jobs/queue.ts';
import { ObjectLockedError } from '../../../core/plugins/sink.ts';
import { setOrganizationLocation } from '../../../core/storage-locations/assignment.ts';
import { createLocation, type StorageContext } from '../../../core/storage-locations/locations.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { S3Sink } from '../../../plugins/sinks/s3/s3-sink.ts';
import { type ObjectLockGate, startObjectLockGate } from '../../fakes/s3-object-lock-gate.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { type LoopbackS3, S3RVER_CREDENTIALS, startS3rver } from '../../helpers/s3rver.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const DAY = 86_400_000;
let h: JobsHarness;
let s3: LoopbackS3;
let gate: ObjectLockGate;
let account: IOrganization;

const ctx = (): StorageContext => ({
  em: h.em(),
  credentials: h.ctx.credentials,
  storageDir: h.app.kernel.deps.config.storageDir,
});

/** The bucket as the appliance's credentials see it, under the account's repository. */
const bucket = () =>
  new S3Sink({
    endpoint: gate.endpoint,
    region: 'us-east-1',
    bucket: 'worm',
    prefix: `holdfast/organizations/${account.id}`,
    forcePathStyle: true,
    objectLockMode: 'COMPLIANCE',
    immutabilityDays: 30,
    ...S3RVER_CREDENTIALS,
  });

beforeAll(async () => {
  [h, s3] = await Promise.all([createJobsHarness(), startS3rver(['worm'])]);
  gate = await startObjectLockGate(s3.endpoint);
  const portal = await h.organization('Operator of this test');
  account = await makeOrganization(h.em(), portal, 'customer', 'Account with an immutable bucket');
  const owner = await h.em().findOneOrFail(Organization, { id: account.id });
  const { location } = await createLocation(
    ctx(),
    owner,
    {
      name: 'Immutable bucket',
      kind: 's3',
      settings: {
        endpoint: gate.endpoint,
        bucket: 'worm',
        prefix: 'holdfast',
        forcePathStyle: true,
        accessKeyId: S3RVER_CREDENTIALS.accessKeyId,
        secretAccessKey: S3RVER_CREDENTIALS.secretAccessKey,
        objectLockMode: 'COMPLIANCE',
        immutabilityDays: 30,
      },
    },
    'json',
    ACTOR,
    h.clock.now,
  );
  await setOrganizationLocation(
    h.em(),
    await h.em().findOneOrFail(Organization, { id: account.id }),
    location.id,
    null,
  );
}, 60_000);

afterAll(async () => {
  await gate.close();
  await Promise.all([h.close(), s3.stop()]);
});

describe('backups at a location with Object Lock', () => {
  it('are written locked, and the retention job renews the locks of what is in use', async () => {
    const task = await h.task(account);
    const em = h.em();
    const stored = await em.findOneOrFail(BackupTask, { id: task.id });
    await discoverEntities(em, stored, testServicePlugin as never, h.ctx.credentials, {
      signal: AbortSignal.timeout(10_000),
      log: h.ctx.log,
      now: h.clock.now,
    });
    const ids = (await em.find(TaskEntity, { task: task.id })).map((e) => e.id);
    await backupNow(em, stored, ids, { kind: 'user', ...ACTOR }, h.clock.now, 3);
    await h.runner.runUntilIdle();
    expect((await h.em().find(TaskEntity, { task: task.id })).every((e) => e.status === 'success')).toBe(true);

    const sink = bucket();
    const ends = async (prefix: string) => {
      const days: number[] = [];
      for await (const info of sink.list(prefix))
        days.push(Math.round((((await sink.head(info.key)).retainUntil as Date).getTime() - Date.now()) / DAY));
      return [...new Set(days)];
    };
    expect([await ends('data/'), await ends('index/'), await ends('snapshots/')]).toEqual([[30], [30], [30]]);
    for await (const info of sink.list('snapshots/'))
      await expect(sink.delete(info.key)).rejects.toBeInstanceOf(ObjectLockedError);

    // Twenty days on (the store's clock too): the retention job renews every lock in use.
    h.advance(20 * DAY);
    gate.clock.now = Date.now() + 20 * DAY;
    await enqueueJobsOnce(
      h.em(),
      [
        {
          organizationId: account.id,
          kind: 'maintenance',
          label: 'Retention',
          taskId: task.id,
          initiator: { kind: 'schedule' },
          params: { operation: 'retention', taskId: task.id },
          dedupeKey: `retention:${task.id}:${h.clock.now.toISOString()}`,
          maxAttempts: 1,
        },
      ],
      h.clock.now,
    );
    await h.runner.runUntilIdle();
    const job = await h.em().findOneOrFail(Job, { kind: 'maintenance', task: task.id });
    expect(job.state).toBe('succeeded');
    expect(job.result?.locksRenewed as number).toBeGreaterThan(2);
    expect(await ends('snapshots/')).toEqual([50]);
    expect(await ends('data/')).toEqual([50]);
    await sink.close();
  });
});
