// Entities the service lists but cannot read now (a suspended member): discovery marks them
// Unavailable with the service's reason instead of activating them, backups skip them without a
// failed run, their earlier snapshots stay restorable, and when the service can read them again
// they return to the state they had before.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../../../core/jobs/entities.ts';
import { sealConnection } from '../../../core/tasks/connection.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow, pauseEntities } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin, { type TestServiceInput, VALID_TOKEN } from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

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
  return discoverEntities(em, task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
}

async function reconnect(taskId: string, connection: Partial<TestServiceInput>) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  // The knobs' defaults filled in, as connect() would see them after the form.
  const settings = testServicePlugin.settings.parse({ account: 'a', token: VALID_TOKEN, ...connection });
  task.connection = sealConnection(h.ctx.credentials, taskId, settings);
  await em.flush();
}

async function entitiesOf(taskId: string) {
  return h.em().find(TaskEntity, { task: taskId }, { orderBy: { externalId: 'asc' } });
}

async function backupAll(taskId: string) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  const ids = (await entitiesOf(taskId)).map((e) => e.id);
  const result = await backupNow(em, task, ids, { kind: 'user', ...ACTOR }, h.clock.now, 3);
  await h.runner.runUntilIdle();
  return h.em().find(Job, { id: { $in: result.jobIds } });
}

const SUSPENDED = 'The member is suspended at the service.';

describe('entities unavailable at the source', () => {
  it('are not activated by auto-activate, and a backup of everything skips them without a failure', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 3, unavailable: { 'user-002': SUSPENDED } });
    expect(await discover(task.id)).toMatchObject({ found: 3, added: 3 });
    const found = await entitiesOf(task.id);
    expect(found.map((e) => [e.externalId, e.status, e.unavailableReason])).toEqual([
      ['user-001', 'scheduled', null],
      ['user-002', 'unavailable', SUSPENDED],
      ['user-003', 'scheduled', null],
    ]);

    const jobs = await backupAll(task.id);
    expect(jobs.map((j) => j.state).sort()).toEqual(['succeeded', 'succeeded']);
    expect((await entitiesOf(task.id)).map((e) => e.status)).toEqual(['success', 'unavailable', 'success']);
  });

  it('keep their snapshots and return to their earlier state when the service can read them again', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 3 });
    await discover(task.id);
    await backupAll(task.id);
    const em = h.em();
    const stored = await em.findOneOrFail(BackupTask, { id: task.id });
    const third = (await entitiesOf(task.id))[2];
    if (!third) throw new Error('no third entity');
    await pauseEntities(em, stored, [third.id], ACTOR, h.clock.now);
    const before = await entitiesOf(task.id);
    expect(before.map((e) => e.status)).toEqual(['success', 'success', 'paused']);

    await reconnect(task.id, { entities: 3, unavailable: { 'user-002': SUSPENDED, 'user-003': SUSPENDED } });
    await discover(task.id);
    const during = await entitiesOf(task.id);
    expect(during.map((e) => e.status)).toEqual(['success', 'unavailable', 'unavailable']);
    expect(during[1]?.lastSnapshotId).toBe(before[1]?.lastSnapshotId);
    expect(during[1]?.lastSnapshotId).toMatch(/^[0-9a-f]{64}$/);
    const jobs = await backupAll(task.id);
    expect(jobs.map((j) => [j.state, j.error])).toEqual([['succeeded', null]]);

    await reconnect(task.id, { entities: 3 });
    await discover(task.id);
    const after = await entitiesOf(task.id);
    expect(after.map((e) => [e.status, e.unavailableReason])).toEqual([
      ['success', null],
      ['success', null],
      ['paused', null],
    ]);
  });
});
