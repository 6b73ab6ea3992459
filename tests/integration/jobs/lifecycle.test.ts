// The ends of a task's data: deleting a task (hidden at once, restorable during the grace period,
// then purged with its snapshots through prune), archived entities past their retention, deleted
// entities past their grace, and an organization purged at the end of its removal.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { enqueueJobsOnce } from '../../../core/jobs/queue.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import { registerStoragePurge } from '../../../core/scheduler/organization-purge.ts';
import { runJobMaintenance } from '../../../core/scheduler/scheduler.ts';
import { sealConnection } from '../../../core/tasks/connection.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow, deleteEntities } from '../../../core/tasks/entity-actions.ts';
import {
  deleteTask,
  listDeletedTasks,
  listTasks,
  restoreTask,
  TASK_GRACE_DAYS,
} from '../../../core/tasks/tasks-service.ts';
import { requestRemoval } from '../../../core/tenancy/removal.ts';
import testServicePlugin, { VALID_TOKEN } from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { readAll } from '../../helpers/repository.ts';

const DAY = 86_400_000;
let h: JobsHarness;
beforeAll(async () => {
  h = await createJobsHarness();
});
afterAll(async () => {
  await h.close();
});

async function discover(taskId: string) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  await discoverEntities(em, task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  return em.find(TaskEntity, { task: taskId }, { orderBy: { externalId: 'asc' } });
}

async function backupAll(taskId: string) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  const ids = (await em.find(TaskEntity, { task: taskId, deletedAt: null })).map((e) => e.id);
  await backupNow(em, task, ids, { kind: 'user', ...ACTOR }, h.clock.now, 3);
  await h.runner.runUntilIdle();
}

async function snapshotsOf(orgId: string, taskId: string) {
  const opened = await h.ctx.storage.open({ id: taskId, organizationId: orgId, storageLocation: 'default' });
  try {
    return (await opened.repo.listSnapshots()).filter((s) => s.manifest.task === taskId);
  } finally {
    await opened.close();
  }
}

function packFiles(orgId: string): Promise<number> {
  return h.ctx.storage.open({ id: 'x', organizationId: orgId, storageLocation: null }).then(async (opened) => {
    let n = 0;
    for await (const _ of opened.repo.sink.list('data/')) n++;
    await opened.close();
    return n;
  });
}

describe('deleting a task', () => {
  it('hides it at once, restores it during the grace period, purges it and its snapshots after', async () => {
    const org = await h.organization('Deleting');
    const orgRef = () => h.em().getReference(Organization, org.id);
    const doomed = await h.task(org, { entities: 2, items: 20, itemBytes: 3000 });
    const kept = await h.task(org, { entities: 1, items: 3 });
    await discover(doomed.id);
    await discover(kept.id);
    await backupAll(doomed.id);
    await backupAll(kept.id);
    expect((await snapshotsOf(org.id, doomed.id)).length).toBe(2);
    expect(await h.em().count(CatalogSnapshot, { task: doomed.id })).toBe(2);
    const packsBefore = await packFiles(org.id);

    let em = h.em();
    const purgeAfter = await deleteTask(em, h.deps, await em.findOneOrFail(BackupTask, { id: doomed.id }), ACTOR);
    expect(purgeAfter.getTime() - h.clock.now.getTime()).toBe(TASK_GRACE_DAYS * DAY);
    expect((await listTasks(h.em(), orgRef())).map((t) => t.id)).toEqual([kept.id]);
    expect((await listDeletedTasks(h.em(), orgRef())).map((t) => t.id)).toEqual([doomed.id]);

    // Restorable during the grace period…
    h.advance(3 * DAY);
    await restoreTask(h.em(), h.deps, orgRef(), doomed.id, ACTOR);
    expect((await listTasks(h.em(), orgRef())).map((t) => t.id).sort()).toEqual([doomed.id, kept.id].sort());

    // …and deleted again, nothing happens until the grace period ends.
    em = h.em();
    await deleteTask(em, h.deps, await em.findOneOrFail(BackupTask, { id: doomed.id }), ACTOR);
    h.advance(TASK_GRACE_DAYS * DAY - 1000);
    expect((await runJobMaintenance(h.ctx, h.clock.now)).purgeJobs).toBe(0);
    h.advance(2000);
    expect((await runJobMaintenance(h.ctx, h.clock.now)).purgeJobs).toBe(1);
    expect((await runJobMaintenance(h.ctx, h.clock.now)).purgeJobs).toBe(0);
    await expect(restoreTask(h.em(), h.deps, orgRef(), doomed.id, ACTOR)).rejects.toThrow(/grace period/);
    await h.runner.runUntilIdle();

    const purge = await h
      .em()
      .findOneOrFail(Job, { kind: 'maintenance', params: { operation: 'purge_task', taskId: doomed.id } });
    expect(purge).toMatchObject({ state: 'succeeded', task: null, result: { forgotten: 2 } });
    expect((purge.result?.packsDeleted as number) > 0).toBe(true);
    expect(await h.em().count(BackupTask, { id: doomed.id })).toBe(0);
    expect(await h.em().count(TaskEntity, { task: doomed.id })).toBe(0);
    expect(await h.em().count(CatalogSnapshot, { task: doomed.id })).toBe(0);
    expect(await snapshotsOf(org.id, doomed.id)).toEqual([]);
    expect(await packFiles(org.id)).toBeLessThan(packsBefore);
    // The other task's backups are whole.
    expect((await snapshotsOf(org.id, kept.id)).length).toBe(1);
    const opened = await h.ctx.storage.open({ id: kept.id, organizationId: org.id, storageLocation: 'default' });
    const { SnapshotReader } = await import('../../../storage/snapshot-reader.ts');
    const reader = await SnapshotReader.open(opened.repo, (await snapshotsOf(org.id, kept.id))[0]?.id as string);
    let items = 0;
    for await (const _ of reader.items()) items++;
    await opened.close();
    expect(items).toBe(3);
    const activities = (await h.em().find(AuditEvent, { organization: org.id }, { orderBy: { id: 'asc' } })).map(
      (a) => a.activity,
    );
    expect(activities).toEqual(
      expect.arrayContaining(['Backup task deleted', 'Backup task restored', 'Backup task purged']),
    );
  });
});

describe('retention of archived and deleted entities', () => {
  it('keeps an archived entity for the days the task says, a deleted one for the grace period', async () => {
    const org = await h.organization('Archive');
    const task = await h.task(org, { entities: 3, items: 4 }, { archivedRetentionDays: '2' });
    const [one, two, three] = await discover(task.id);
    await backupAll(task.id);
    expect((await snapshotsOf(org.id, task.id)).length).toBe(3);

    // user-002 disappears at the source; user-003 is deleted by an administrator.
    let em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    t.connection = sealConnection(h.ctx.credentials, task.id, {
      account: 'archive',
      token: VALID_TOKEN,
      entities: 3,
      items: 4,
      removed: ['user-002'],
    });
    await em.flush();
    await discover(task.id);
    em = h.em();
    await deleteEntities(
      em,
      await em.findOneOrFail(BackupTask, { id: task.id }),
      [three?.id as string],
      ACTOR,
      h.clock.now,
    );

    const retention = async () => {
      await enqueueJobsOnce(
        h.em(),
        [
          {
            organizationId: org.id,
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
    };
    h.advance(DAY);
    await retention();
    expect((await snapshotsOf(org.id, task.id)).map((s) => s.manifest.entity).sort()).toEqual([
      'user-001',
      'user-002',
      'user-003',
    ]);
    h.advance(DAY + 1000);
    await retention();
    expect((await snapshotsOf(org.id, task.id)).map((s) => s.manifest.entity).sort()).toEqual(['user-001', 'user-003']);
    const remaining = (await h.em().find(TaskEntity, { task: task.id })).map((e) => e.id);
    expect(remaining.sort()).toEqual([one?.id, three?.id].sort());
    expect(remaining).not.toContain(two?.id);
    h.advance(TASK_GRACE_DAYS * DAY);
    await retention();
    expect((await snapshotsOf(org.id, task.id)).map((s) => s.manifest.entity)).toEqual(['user-001']);
  });
});

describe('retention with a damaged snapshot', () => {
  it('skips the unreadable snapshot, forgets the others it should, keeps all data and says why', async () => {
    const org = await h.organization('Damaged retention');
    const task = await h.task(org, { entities: 3, items: 4 });
    const [, two, three] = await discover(task.id);
    await backupAll(task.id);
    const snapshots = await snapshotsOf(org.id, task.id);
    const damaged = snapshots.find((s) => s.manifest.entity === 'user-003')?.id as string;
    const opened = await h.ctx.storage.open({ id: task.id, organizationId: org.id, storageLocation: 'default' });
    const bytes = await readAll(await opened.repo.sink.get(`snapshots/${damaged}`));
    bytes[40] = (bytes[40] as number) ^ 0x5a;
    await opened.repo.sink.delete(`snapshots/${damaged}`);
    await opened.repo.sink.put(`snapshots/${damaged}`, bytes);
    await opened.close();
    const packs = await packFiles(org.id);

    const em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    await deleteEntities(em, t, [two?.id as string, three?.id as string], ACTOR, h.clock.now);
    h.advance(TASK_GRACE_DAYS * DAY + 1000);
    await enqueueJobsOnce(
      h.em(),
      [
        {
          organizationId: org.id,
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
    const job = await h.em().findOneOrFail(Job, { task: task.id, kind: 'maintenance' });
    expect(job.state).toBe('partially_succeeded');
    expect(job.result).toMatchObject({ forgotten: 1, damagedSnapshots: [damaged] });
    expect(job.log.some((e) => e.message.includes(`snapshot ${damaged} cannot be read`))).toBe(true);
    const opened2 = await h.ctx.storage.open({ id: task.id, organizationId: org.id, storageLocation: 'default' });
    expect((await opened2.repo.snapshotIds()).sort()).toEqual(
      snapshots
        .filter((s) => s.manifest.entity !== 'user-002')
        .map((s) => s.id)
        .sort(),
    );
    await opened2.close();
    expect(await packFiles(org.id)).toBe(packs);
  });
});

describe('purging an organization', () => {
  it('removes its stored backups, compare results, tasks, entities and jobs', async () => {
    const unregister = registerStoragePurge(h.ctx);
    try {
      const org = await h.organization('Leaving');
      const task = await h.task(org, { entities: 1, items: 2 });
      await discover(task.id);
      await backupAll(task.id);
      const folder = join(h.app.kernel.deps.config.storageDir, 'organizations', org.id);
      expect(existsSync(folder)).toBe(true);
      // A compare result it kept (core/compare/) goes with it.
      const compares = join(h.ctx.settings.dataDir, 'compares', org.id);
      mkdirSync(compares, { recursive: true });
      writeFileSync(join(compares, 'job.json'), '{}');
      const em = h.em();
      // The root cannot be removed: make this organization a customer of its own root.
      const root = await h.organization('Parent');
      const row = await em.findOneOrFail(Organization, { id: org.id });
      row.kind = 'customer';
      row.parent = em.getReference(Organization, root.id);
      row.path = `/${root.id}/${org.id}/`;
      await em.flush();
      await requestRemoval(em, row, true, h.clock.now);
      h.advance(8 * DAY);
      const report = await runMaintenance(h.ctx.orm, h.ctx.log, h.clock.now);
      expect(report.purged.map((o) => o.name)).toEqual(['Leaving']);
      expect(existsSync(folder)).toBe(false);
      expect(existsSync(compares)).toBe(false);
      expect(await h.em().count(BackupTask, { id: task.id })).toBe(0);
      expect(await h.em().count(Job, { organization: org.id })).toBe(0);
    } finally {
      unregister();
    }
  });
});
