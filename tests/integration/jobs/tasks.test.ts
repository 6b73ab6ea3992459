// Backup tasks end to end in one process: creating a task from the test service, its settings,
// discovery, entity actions and backup runs into a real repository on a temporary local disk.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSummary } from '../../../core/activity/activity-service.ts';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { ValidationError } from '../../../core/errors.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import {
  activateEntities,
  backupNow,
  deleteEntities,
  listEntities,
  pauseEntities,
  restoreEntities,
} from '../../../core/tasks/entity-actions.ts';
import { getTask, reconnectTask, updateTaskSettings } from '../../../core/tasks/tasks-service.ts';
import testServicePlugin, { VALID_TOKEN } from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

function at<T>(list: readonly T[], index: number): T {
  const value = list[index];
  if (value === undefined) throw new Error(`no element ${index}`);
  return value;
}

function triple<T>(list: readonly T[]): [T, T, T] {
  return [at(list, 0), at(list, 1), at(list, 2)];
}

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

describe('creating and configuring a task', () => {
  it('stores the connection encrypted and checks the credentials first', async () => {
    const org = await h.organization();
    const task = await h.task(org);
    const row = await h.app.kernel.orm.em
      .fork()
      .getConnection()
      .execute('select connection from backup_tasks where id = ?', [task.id]);
    const sealed = String((row[0] as { connection: string }).connection);
    expect(sealed).toMatch(/^hf1\./);
    expect(sealed).not.toContain(VALID_TOKEN);

    const refused = await h.task(org, { token: 'wrong' }).catch((e) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect(refused.fields).toEqual({ connection: 'The test service refused the token (401).' });
    const audit = await h.em().find(AuditEvent, { organization: org.id });
    expect(audit.map((a) => [a.activity, a.description, a.performedBy])).toEqual([
      ['Backup task added', 'Backup task "Test backup" added for Test service.', ACTOR.label],
    ]);
  });

  it('validates settings with a message per field and keeps the rest unchanged', async () => {
    const org = await h.organization();
    const task = await h.task(org);
    const em = h.em();
    const fresh = await getTask(em, em.getReference(Organization, org.id), task.id);
    const err = await updateTaskSettings(
      em,
      h.deps,
      fresh,
      { backupHour: '24', frequency: 'hourly', name: ' ' },
      ACTOR,
    ).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.fields).toEqual({
      backupHour: 'Choose an hour from 0 to 23 (UTC).',
      frequency: 'Choose daily, every 3 days, weekly or 3 times a day.',
      name: 'Enter a name for the backup task.',
    });
    const changed = await updateTaskSettings(
      em,
      h.deps,
      fresh,
      {
        frequency: 'three_times_daily',
        backupHour: '5',
        apiUsageLimitPercent: '40',
        indexForSearch: 'false',
        archivedRetentionDays: '30',
        retention: { kind: 'within', amount: '90', unit: 'days' },
      },
      ACTOR,
    );
    expect(changed.sort()).toEqual(
      [
        'apiUsageLimitPercent',
        'archivedRetentionDays',
        'backupHour',
        'frequency',
        'indexForSearch',
        'retention',
      ].sort(),
    );
    const stored = await h.em().findOneOrFail(BackupTask, { id: task.id });
    expect(stored).toMatchObject({
      frequency: 'three_times_daily',
      backupHour: 5,
      apiUsageLimitPercent: 40,
      indexForSearch: false,
      archivedRetentionDays: 30,
      retention: { kind: 'within', amount: 90, unit: 'days' },
    });
  });

  it('marks a task Disconnected when the service refuses its credentials, and reconnects', async () => {
    const org = await h.organization();
    const task = await h.task(org);
    // The service revokes the token: store a refused one as if it had expired.
    const em = h.em();
    const stored = await em.findOneOrFail(BackupTask, { id: task.id });
    const { sealConnection } = await import('../../../core/tasks/connection.ts');
    stored.connection = sealConnection(h.ctx.credentials, task.id, { account: 'x', token: 'expired' });
    await em.flush();
    await expect(discover(task.id)).rejects.toThrow('refused the token');
    expect(await h.em().findOneOrFail(BackupTask, { id: task.id })).toMatchObject({
      connectionState: 'disconnected',
      connectionProblem: 'The test service refused the token (401).',
    });
    const again = h.em();
    await reconnectTask(
      again,
      h.deps,
      await again.findOneOrFail(BackupTask, { id: task.id }),
      { account: 'x', token: VALID_TOKEN },
      ACTOR,
    );
    expect((await h.em().findOneOrFail(BackupTask, { id: task.id })).connectionState).toBe('connected');
    // Both changes are System Activity events (a PSA closes the "disconnected" ticket on the second).
    const events = await h
      .em()
      .find(
        ActivityEvent,
        { taskId: task.id, activity: { $in: ['Task disconnected', 'Task reconnected'] } },
        { orderBy: { id: 'asc' } },
      );
    expect(events.map((e) => [e.activity, e.status, e.summary])).toEqual([
      ['Task disconnected', 'failed', expect.stringContaining('The test service refused the token (401).')],
      ['Task reconnected', 'succeeded', 'The task’s credentials work again; backups resume.'],
    ]);
  });

  it('records "Task reconnected" when discovery finds a disconnected task’s credentials work again', async () => {
    const org = await h.organization();
    const task = await h.task(org);
    const em = h.em();
    const stored = await em.findOneOrFail(BackupTask, { id: task.id });
    // Disconnected earlier; the service accepts the same credentials again (its outage is over).
    stored.connectionState = 'disconnected';
    stored.connectionProblem = 'The test service refused the token (401).';
    await em.flush();
    await discover(task.id);
    expect((await h.em().findOneOrFail(BackupTask, { id: task.id })).connectionState).toBe('connected');
    const reconnected = await h.em().find(ActivityEvent, { taskId: task.id, activity: 'Task reconnected' });
    expect(reconnected.map((e) => [e.status, e.summary])).toEqual([
      ['succeeded', 'The task’s credentials work again; backups resume.'],
    ]);
  });
});

describe('discovery', () => {
  it('adds new entities (activated when the task says so) and archives those gone from the source', async () => {
    const org = await h.organization();
    const auto = await h.task(org, { entities: 3 });
    expect(await discover(auto.id)).toMatchObject({ found: 3, added: 3, archived: 0 });
    expect((await entitiesOf(auto.id)).map((e) => e.status)).toEqual(['scheduled', 'scheduled', 'scheduled']);

    const manual = await h.task(org, { entities: 2 }, { autoActivate: 'false' });
    await discover(manual.id);
    expect((await entitiesOf(manual.id)).map((e) => e.status)).toEqual(['not_active', 'not_active']);

    const em = h.em();
    const { sealConnection } = await import('../../../core/tasks/connection.ts');
    const stored = await em.findOneOrFail(BackupTask, { id: auto.id });
    stored.connection = sealConnection(h.ctx.credentials, auto.id, {
      account: 'a',
      token: VALID_TOKEN,
      entities: 4,
      removed: ['user-002'],
    });
    await em.flush();
    expect(await discover(auto.id)).toMatchObject({ found: 3, added: 1, archived: 1 });
    const after = await entitiesOf(auto.id);
    expect(after.map((e) => [e.externalId, e.status])).toEqual([
      ['user-001', 'scheduled'],
      ['user-002', 'archived'],
      ['user-003', 'scheduled'],
      ['user-004', 'scheduled'],
    ]);
    expect(after[1]?.archivedAt?.toISOString()).toBe(h.clock.now.toISOString());
  });
});

describe('entity actions', () => {
  it('activates, pauses, deletes and restores one or many entities of the task only', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 3 }, { autoActivate: 'false' });
    const other = await h.task(org, { entities: 1 }, { autoActivate: 'false' });
    await discover(task.id);
    await discover(other.id);
    const [a, b, c] = triple(await entitiesOf(task.id));
    const foreign = at(await entitiesOf(other.id), 0);
    const em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });

    expect(await activateEntities(em, t, [a.id, b.id, foreign.id], ACTOR)).toEqual({ done: 2, skipped: 1 });
    expect((await entitiesOf(other.id))[0]?.status).toBe('not_active');
    expect(await pauseEntities(em, t, [b.id, c.id], ACTOR, h.clock.now)).toEqual({ done: 1, skipped: 1 });
    expect((await entitiesOf(task.id)).map((e) => e.status)).toEqual(['scheduled', 'paused', 'not_active']);

    expect(await deleteEntities(em, t, [c.id], ACTOR, h.clock.now)).toEqual({ done: 1, skipped: 0 });
    expect((await listEntities(h.em(), t)).map((e) => e.externalId)).toEqual(['user-001', 'user-002']);
    expect((await listEntities(h.em(), t, { status: 'paused' })).map((e) => e.externalId)).toEqual(['user-002']);
    expect((await listEntities(h.em(), t, { search: '003' })).length).toBe(0);
    expect(await restoreEntities(em, t, [c.id], ACTOR, h.clock.now)).toEqual({ done: 1, skipped: 0 });
    expect((await listEntities(h.em(), t)).length).toBe(3);
  });
});

describe('backup runs', () => {
  it('backs up each entity into a snapshot and counts added, updated and deleted items', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 2, items: 6, changesPerRun: 2 });
    await discover(task.id);
    const first = await backupAll(task.id);
    expect(first.map((j) => j.state)).toEqual(['succeeded', 'succeeded']);
    expect(first[0]?.result).toMatchObject({ items: 6, added: 6, updated: 0, deleted: 0 });
    let entities = await entitiesOf(task.id);
    expect(entities.map((e) => e.status)).toEqual(['success', 'success']);
    expect(entities[0]).toMatchObject({ lastAdded: 6, lastUpdated: 0, lastDeleted: 0, lastItems: 6 });
    expect((await h.em().findOneOrFail(BackupTask, { id: task.id })).storageLocation).toBe('default');

    h.advance(60_000);
    const second = await backupAll(task.id);
    expect(second[0]?.result).toMatchObject({ items: 6, added: 0, updated: 2, deleted: 0 });
    entities = await entitiesOf(task.id);
    expect(entities[0]).toMatchObject({ lastAdded: 0, lastUpdated: 2, lastDeleted: 0 });
    expect(entities[0]?.pluginState).toMatchObject({ run: 2 });

    // The snapshots are in the organization's repository, filed under the task and entity.
    const opened = await h.ctx.storage.open({ id: task.id, organizationId: org.id, storageLocation: 'default' });
    const snapshots = (await opened.repo.listSnapshots()).filter((s) => s.manifest.task === task.id);
    // Its blob index files go to the data folder, not the OS temp folder (possibly a tmpfs in RAM).
    expect(opened.repo.indexDir).toBe(join(h.app.dataDir, 'cache', 'blob-index'));
    await opened.close();
    expect(snapshots.map((s) => s.manifest.entity).sort()).toEqual(['user-001', 'user-001', 'user-002', 'user-002']);
    expect(snapshots.map((s) => s.id)).toContain(entities[0]?.lastSnapshotId);
  });

  it('adds what each run wrote to storage to the entity’s stored bytes', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 1, items: 6, changesPerRun: 2 });
    await discover(task.id);
    await backupAll(task.id);
    const first = Number((await entitiesOf(task.id))[0]?.storedBytes);
    expect(first).toBeGreaterThan(0);
    h.advance(60_000);
    await backupAll(task.id);
    const second = Number((await entitiesOf(task.id))[0]?.storedBytes);
    // The second run wrote only the two changed items (and its snapshot), so it added less.
    expect(second).toBeGreaterThan(first);
    expect(second - first).toBeLessThan(first);
  });

  it('reports a run with unreadable items as partial, and a failing entity as failed', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 2, items: 4, failItems: 1, failEntities: ['user-002'] });
    await discover(task.id);
    const jobs = await backupAll(task.id);
    const byEntity = new Map(jobs.map((j) => [j.entity?.id, j]));
    const listed = await entitiesOf(task.id);
    const one = at(listed, 0);
    const two = at(listed, 1);
    expect(byEntity.get(one.id)).toMatchObject({ state: 'partially_succeeded', result: { failedItems: 1, items: 3 } });
    expect(one).toMatchObject({ status: 'partial' });
    expect(one?.lastError).toContain('1 item(s) could not be read');
    expect(byEntity.get(two.id)).toMatchObject({ state: 'failed', error: 'The test service cannot read user-002' });
    expect(two).toMatchObject({ status: 'failed', lastError: 'The test service cannot read user-002' });
    // A permanent error is not retried.
    expect(byEntity.get(two.id)?.attempts).toBe(1);
  });

  it('reports a run the plugin stopped early as partial with its reason, not as unreadable items', async () => {
    const org = await h.organization();
    const reason = 'Stopped at the task’s API usage limit (10 % of 200): the next run continues from here.';
    const task = await h.task(org, { entities: 1, items: 3, stopEarly: reason });
    await discover(task.id);
    const job = at(await backupAll(task.id), 0);
    expect(job).toMatchObject({
      state: 'partially_succeeded',
      result: { failedItems: 0, items: 3, stoppedEarly: reason },
    });
    const entity = at(await entitiesOf(task.id), 0);
    expect(entity).toMatchObject({ status: 'partial', lastError: reason });
    expect(runSummary(job, 'Backup of user-001')).toBe(
      `Backup of user-001: stopped early (3 items; 3 added, 0 updated, 0 deleted). ${reason}`,
    );
  });

  it('retries a transient error with exponential backoff, then succeeds', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 1, transientFailures: 2 });
    await discover(task.id);
    const job = at(await backupAll(task.id), 0);
    expect(job).toMatchObject({ state: 'pending', attempts: 1, error: 'The test service is throttling (429)' });
    expect(job.runAfter.getTime() - h.clock.now.getTime()).toBe(60_000);
    expect((await entitiesOf(task.id))[0]?.status).toBe('scheduled');

    // Not before its time.
    await h.runner.runUntilIdle();
    expect((await h.em().findOneOrFail(Job, { id: job.id })).attempts).toBe(1);
    h.advance(60_000);
    await h.runner.runUntilIdle();
    const second = await h.em().findOneOrFail(Job, { id: job.id });
    expect(second).toMatchObject({ state: 'pending', attempts: 2 });
    expect(second.runAfter.getTime() - h.clock.now.getTime()).toBe(120_000);
    h.advance(120_000);
    await h.runner.runUntilIdle();
    expect(await h.em().findOneOrFail(Job, { id: job.id })).toMatchObject({ state: 'succeeded', attempts: 3 });
    expect((await entitiesOf(task.id))[0]?.status).toBe('success');
  });

  it('labels jobs in at most 50 characters and records who started them', async () => {
    const org = await h.organization();
    const task = await h.task(org, { entities: 1 });
    await discover(task.id);
    const em = h.em();
    const entity = at(await entitiesOf(task.id), 0);
    entity.name = 'a-very-long-mailbox-name-of-somebody@a-long-domain.example.com';
    await em.upsert(TaskEntity, entity);
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    const { jobIds } = await backupNow(
      em,
      t,
      [entity.id],
      { kind: 'api_key', id: 'key-1', label: 'CI key' },
      h.clock.now,
      3,
    );
    const job = await h.em().findOneOrFail(Job, { id: jobIds[0] });
    expect(job.label.length).toBeLessThanOrEqual(50);
    expect(job.label.endsWith('…')).toBe(true);
    expect(job).toMatchObject({ initiatorKind: 'api_key', initiatorId: 'key-1', initiatorLabel: 'CI key' });
    await h.runner.runUntilIdle();
  });
});
