// System Activity rows as the appliance writes them: backup runs through the test service
// (succeeded, partial with the failed items named, failed, canceled queued and running, a
// retried run recorded once), notable task events (created, items activated / paused / archived,
// disconnected, deleted, restored, purged), rows outliving their task, and the retention that
// housekeeping applies with a moved clock.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent, type IActivityEvent } from '../../../core/activity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { claimJobs, requestCancel } from '../../../core/jobs/queue.ts';
import { runMaintenance } from '../../../core/maintenance.ts';
import { runJobMaintenance } from '../../../core/scheduler/scheduler.ts';
import { sealConnection } from '../../../core/tasks/connection.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { activateEntities, backupNow, pauseEntities } from '../../../core/tasks/entity-actions.ts';
import { deleteTask, restoreTask } from '../../../core/tasks/tasks-service.ts';
import testServicePlugin, { type TestServiceInput, VALID_TOKEN } from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

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
  return h.em().find(TaskEntity, { task: taskId }, { orderBy: { externalId: 'asc' } });
}

async function backup(taskId: string, entityIds: string[]): Promise<string[]> {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  const { jobIds } = await backupNow(em, task, entityIds, { kind: 'user', ...ACTOR }, h.clock.now, 3);
  return jobIds;
}

async function rowsOf(orgId: string, where: Record<string, unknown> = {}): Promise<IActivityEvent[]> {
  return h.em().find(ActivityEvent, { organization: orgId, ...where }, { orderBy: { id: 'asc' } });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function newTask(name: string, connection: Partial<TestServiceInput> = {}) {
  const org = await h.organization(name);
  const task = await h.task(org, connection);
  return { org, task };
}

describe('backup runs', () => {
  it('records a successful run with its service, sub-service, task, item and figures', async () => {
    const { org, task } = await newTask('Runs OK', { entities: 1, items: 5, itemBytes: 100 });
    const [entity] = await discover(task.id);
    h.advance(1000);
    const [jobId] = await backup(task.id, [entity?.id as string]);
    await h.runner.runUntilIdle();
    const job = await h.em().findOneOrFail(Job, { id: jobId as string });
    const [row] = await rowsOf(org.id, { activity: 'Backup' });
    expect(row).toMatchObject({
      activity: 'Backup',
      service: 'test-service',
      serviceLabel: 'Test service',
      subService: 'Users',
      status: 'succeeded',
      taskId: task.id,
      taskName: 'Test backup',
      item: `user-001@acct-${org.id.slice(0, 8)}.example`,
      jobId,
      items: 5,
      bytes: 500,
      durationMs: (job.finishedAt as Date).getTime() - (job.startedAt as Date).getTime(),
      summary: `Backup of user-001@acct-${org.id.slice(0, 8)}.example: completed (5 items; 5 added, 0 updated, 0 deleted).`,
    });
    expect(row?.at.toISOString()).toBe(job.finishedAt?.toISOString());
    expect(row?.startedAt?.toISOString()).toBe(job.startedAt?.toISOString());
  });

  it('records a partial run with the failed items named, and a failed run with its reason', async () => {
    const { org, task } = await newTask('Runs partial', {
      entities: 2,
      items: 6,
      failItems: 2,
      failEntities: ['user-002'],
    });
    const entities = await discover(task.id);
    await backup(
      task.id,
      entities.map((e) => e.id),
    );
    await h.runner.runUntilIdle();
    const rows = await rowsOf(org.id, { activity: 'Backup' });
    const byItem = new Map(rows.map((r) => [r.item?.slice(0, 8), r]));
    expect(byItem.get('user-001')).toMatchObject({
      status: 'partially_succeeded',
      items: 4,
      summary: `Backup of user-001@acct-${org.id.slice(0, 8)}.example: completed with failed items (4 items; 4 added, 0 updated, 0 deleted). 2 items could not be read: items/00004, items/00005.`,
    });
    expect(byItem.get('user-002')).toMatchObject({
      status: 'failed',
      items: null,
      bytes: null,
      summary: `Backup of user-002@acct-${org.id.slice(0, 8)}.example: failed. The test service cannot read user-002.`,
    });
    expect(rows).toHaveLength(2);
  });

  it('records a retried run once, when it finally ends', async () => {
    const { org, task } = await newTask('Runs retried', { entities: 1, transientFailures: 1 });
    const [entity] = await discover(task.id);
    const [jobId] = await backup(task.id, [entity?.id as string]);
    await h.runner.runUntilIdle();
    expect((await h.em().findOneOrFail(Job, { id: jobId as string })).state).toBe('pending');
    expect(await rowsOf(org.id, { activity: 'Backup' })).toEqual([]);
    h.advance(61_000);
    await h.runner.runUntilIdle();
    const rows = await rowsOf(org.id, { activity: 'Backup' });
    expect(rows.map((r) => [r.status, r.jobId])).toEqual([['succeeded', jobId]]);
  });

  it('records canceled runs: queued, running, and one that no longer applies', async () => {
    const { org, task } = await newTask('Runs canceled', { entities: 3, items: 400, itemDelayMs: 25 });
    const [queued, running, paused] = await discover(task.id);
    const [queuedJob] = await backup(task.id, [queued?.id as string]);
    expect(await requestCancel(h.em(), queuedJob as string, h.clock.now, 'admin@acme.example')).toBe('canceled');

    const [runningJob] = await backup(task.id, [running?.id as string]);
    const run = h.runner.runUntilIdle();
    await waitFor('the backup to make progress', async () => {
      const j = await h.em().findOne(Job, { id: runningJob as string });
      return j?.state === 'in_progress' && j.progressItems > 3 ? j : undefined;
    });
    expect(await requestCancel(h.em(), runningJob as string, h.clock.now, 'admin@acme.example')).toBe('requested');
    await run;

    // Queued, then its entity paused behind the queue's back: the run ends as not applicable.
    const [pausedJob] = await backup(task.id, [paused?.id as string]);
    await h.em().nativeUpdate(TaskEntity, { id: paused?.id as string }, { status: 'paused' });
    await h.runner.runUntilIdle();

    const rows = await rowsOf(org.id, { activity: 'Backup' });
    const byJob = new Map(rows.map((r) => [r.jobId, r]));
    expect(byJob.get(queuedJob as string)).toMatchObject({
      status: 'canceled',
      startedAt: null,
      durationMs: null,
      summary: `Backup of ${queued?.name}: canceled. Canceled by admin@acme.example.`,
    });
    expect(byJob.get(runningJob as string)).toMatchObject({
      status: 'canceled',
      summary: `Backup of ${running?.name}: canceled.`,
    });
    expect(byJob.get(pausedJob as string)).toMatchObject({
      status: 'canceled',
      summary: `Backup of ${paused?.name}: canceled. ${paused?.name} is paused, so it is not backed up.`,
    });
    expect(rows).toHaveLength(3);
  });

  it('records a run failed by lease recovery (the appliance stopped during it)', async () => {
    const { org, task } = await newTask('Runs lapsed', { entities: 1 });
    const [entity] = await discover(task.id);
    const em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    const { jobIds } = await backupNow(em, t, [entity?.id as string], { kind: 'user', ...ACTOR }, h.clock.now, 1);
    expect(
      (await claimJobs(h.em(), 'dead', { slots: 1, perOrganization: 5, perTask: 5 }, 1000, h.clock.now)).length,
    ).toBe(1);
    h.advance(2000);
    expect(await runJobMaintenance(h.ctx, h.clock.now)).toMatchObject({ failed: 1 });
    const rows = await rowsOf(org.id, { activity: 'Backup' });
    expect(rows.map((r) => [r.jobId, r.status, r.summary])).toEqual([
      [jobIds[0], 'failed', `Backup of ${entity?.name}: failed. The job failed: the appliance stopped during the run.`],
    ]);
  });
});

describe('notable events', () => {
  it('records task creation, activation by discovery, pause, activation, archiving and disconnection', async () => {
    const { org, task } = await newTask('Events', { entities: 3 });
    const entities = await discover(task.id);
    const [first, second] = entities;
    const em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    await pauseEntities(em, t, [first?.id as string], ACTOR, h.clock.now);
    await activateEntities(
      h.em(),
      await h.em().findOneOrFail(BackupTask, { id: task.id }),
      [first?.id as string],
      ACTOR,
      h.clock.now,
    );

    // The service stops listing user-002: it is archived.
    const settings = { account: `acct-${org.id.slice(0, 8)}`, token: VALID_TOKEN, entities: 3, removed: ['user-002'] };
    await h
      .em()
      .nativeUpdate(BackupTask, { id: task.id }, { connection: sealConnection(h.ctx.credentials, task.id, settings) });
    await discover(task.id);

    // The token is revoked: the next run is refused and the task is Disconnected (recorded once).
    const revoked = { ...settings, token: 'revoked' };
    await h
      .em()
      .nativeUpdate(BackupTask, { id: task.id }, { connection: sealConnection(h.ctx.credentials, task.id, revoked) });
    await backup(task.id, [first?.id as string]);
    await h.runner.runUntilIdle();
    await backup(task.id, [first?.id as string]);
    await h.runner.runUntilIdle();

    const rows = await rowsOf(org.id);
    expect(rows.map((r) => [r.activity, r.status, r.item, r.summary])).toEqual([
      ['Task created', 'succeeded', null, `Backup task "Test backup" created for Test service by ${ACTOR.label}.`],
      ...entities.map((e) => [
        'Backup activated',
        'succeeded',
        e.name,
        `${e.name} was discovered and activated automatically.`,
      ]),
      ['Backup paused', 'succeeded', first?.name, `Backups of ${first?.name} paused by ${ACTOR.label}.`],
      ['Backup activated', 'succeeded', first?.name, `Backups of ${first?.name} activated by ${ACTOR.label}.`],
      [
        'Item archived',
        'warning',
        second?.name,
        `${second?.name} is no longer listed by the service and was archived; its backups are kept.`,
      ],
      [
        'Task disconnected',
        'failed',
        null,
        "The service refused the task's credentials: The test service refused the token (401). Backups stop until the task is authenticated again.",
      ],
      ['Backup', 'failed', first?.name, `Backup of ${first?.name}: failed. The test service refused the token (401).`],
      ['Backup', 'failed', first?.name, `Backup of ${first?.name}: failed. The test service refused the token (401).`],
    ]);
    // Every row names the task and the service as they were.
    expect(new Set(rows.map((r) => `${r.taskId} ${r.taskName} ${r.serviceLabel}`))).toEqual(
      new Set([`${task.id} Test backup Test service`]),
    );
    expect(rows.filter((r) => r.item).every((r) => r.subService === 'Users')).toBe(true);
  });

  it('records task deletion, restore and purge; the rows outlive the task', async () => {
    const { org, task } = await newTask('Lifecycle', { entities: 1 });
    const [entity] = await discover(task.id);
    await backup(task.id, [entity?.id as string]);
    await h.runner.runUntilIdle();
    const em = h.em();
    await deleteTask(em, h.deps, await em.findOneOrFail(BackupTask, { id: task.id }), ACTOR);
    await restoreTask(h.em(), h.deps, org, task.id, ACTOR);
    const e2 = h.em();
    const purgeAfter = await deleteTask(e2, h.deps, await e2.findOneOrFail(BackupTask, { id: task.id }), ACTOR);
    h.clock.now = new Date(purgeAfter.getTime() + 1000);
    expect(await runJobMaintenance(h.ctx, h.clock.now)).toMatchObject({ purgeJobs: 1 });
    await h.runner.runUntilIdle();
    expect(await h.em().count(BackupTask, { id: task.id })).toBe(0);

    const rows = await rowsOf(org.id);
    expect(rows.map((r) => r.activity)).toEqual([
      'Task created',
      'Backup activated',
      'Backup',
      'Task deleted',
      'Task restored',
      'Task deleted',
      'Task purged',
    ]);
    expect(rows.every((r) => r.taskId === task.id && r.taskName === 'Test backup')).toBe(true);
    expect(rows.at(-1)?.summary).toBe(
      'Backup task "Test backup" purged after its grace period: 1 snapshot(s) removed.',
    );
    // The backup's job is kept with its task cleared; the row still names both.
    expect(rows[2]?.jobId).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('retention', () => {
  it('deletes rows older than the configured days in housekeeping (365 by default)', async () => {
    const org = await h.organization('Retention');
    const now = h.clock.now;
    const em = h.em();
    for (const [n, days] of [
      [1, 10],
      [2, 364],
      [3, 366],
      [4, 800],
    ] as const) {
      em.create(ActivityEvent, {
        at: new Date(now.getTime() - days * DAY),
        organization: org.id,
        activity: 'Backup',
        status: 'succeeded',
        summary: `row ${n}`,
      });
    }
    await em.flush();
    const summaries = async () => (await rowsOf(org.id)).map((r) => r.summary);

    let report = await runMaintenance(h.ctx.orm, h.ctx.log, now);
    expect(report.activityDeleted).toBe(2);
    expect(await summaries()).toEqual(['row 1', 'row 2']);

    // A day later the 364-day-old row is still inside a year; with 30 days configured, only row 1 stays.
    report = await runMaintenance(h.ctx.orm, h.ctx.log, new Date(now.getTime() + DAY), { activityRetentionDays: 365 });
    expect(await summaries()).toEqual(['row 1', 'row 2']);
    report = await runMaintenance(h.ctx.orm, h.ctx.log, new Date(now.getTime() + 2 * DAY), {
      activityRetentionDays: 365,
    });
    expect(await summaries()).toEqual(['row 1']);
    await runMaintenance(h.ctx.orm, h.ctx.log, new Date(now.getTime() + 25 * DAY), { activityRetentionDays: 30 });
    expect(await summaries()).toEqual([]);
  });
});
