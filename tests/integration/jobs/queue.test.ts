// The durable queue under races and failures: racing scheduler ticks and claimers on separate
// database connections, leases that lapse, cancellation of queued and running jobs, limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { openDatabase } from '../../../core/db/database.ts';
import type { WorkContext } from '../../../core/jobs/context.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { cancelJob, listJobs } from '../../../core/jobs/jobs-service.ts';
import {
  appendJobLog,
  claimJobs,
  enqueueJob,
  fenceOf,
  logEntry,
  releaseJob,
  requestCancel,
} from '../../../core/jobs/queue.ts';
import { JobRunner } from '../../../core/jobs/runner.ts';
import { enqueueDueWork, runJobMaintenance } from '../../../core/scheduler/scheduler.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

const HOUR = 3_600_000;
let h: JobsHarness;
beforeAll(async () => {
  h = await createJobsHarness({ HOLDFAST_JOB_LEASE_SECONDS: '30', HOLDFAST_JOB_MAX_ATTEMPTS: '2' });
});
afterAll(async () => {
  await h.close();
});

function at<T>(list: readonly T[], index: number): T {
  const value = list[index];
  if (value === undefined) throw new Error(`no element ${index}`);
  return value;
}

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

/** A second connection to the same database, as another process (or node) would have. */
async function secondContext(): Promise<{ ctx: WorkContext; close(): Promise<void> }> {
  const orm = await openDatabase(h.app.kernel.deps.config);
  return { ctx: { ...h.ctx, orm }, close: () => orm.close() };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 400; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('scheduling', () => {
  it('enqueues each slot exactly once even when ticks on two connections race', async () => {
    const org = await h.organization('Racing ticks');
    const task = await h.task(org, { entities: 4 }, { frequency: 'three_times_daily', backupHour: '1' });
    await discover(task.id);
    const other = await secondContext();
    try {
      const created = (await h.em().findOneOrFail(BackupTask, { id: task.id })).createdAt.getTime();
      // Three days of slots, each raced by two ticks, at several instants after the slot.
      for (let hours = 1; hours <= 72; hours += 5) {
        const now = new Date(created + hours * HOUR);
        await Promise.all([enqueueDueWork(h.ctx, now), enqueueDueWork(other.ctx, now), enqueueDueWork(h.ctx, now)]);
      }
    } finally {
      await other.close();
    }
    const jobs = await h.em().find(Job, { task: task.id, kind: 'backup' });
    const perEntityAndSlot = new Map<string, number>();
    for (const j of jobs) {
      const key = `${j.entity?.id} ${j.scheduledFor?.toISOString()}`;
      perEntityAndSlot.set(key, (perEntityAndSlot.get(key) ?? 0) + 1);
    }
    expect([...perEntityAndSlot.values()].every((n) => n === 1)).toBe(true);
    const slots = new Set(jobs.map((j) => j.scheduledFor?.toISOString()));
    // Every 8 hours over ~3 days, each sampled at least once by the 5-hour steps.
    expect(slots.size).toBeGreaterThanOrEqual(8);
    expect(jobs.length).toBe(slots.size * 4);
    expect(jobs.every((j) => j.initiatorKind === 'schedule' && j.state === 'pending')).toBe(true);
    for (const j of jobs) {
      const slot = j.scheduledFor as Date;
      expect([1, 9, 17]).toContain(slot.getUTCHours());
      expect(slot.getUTCMinutes()).toBe(0);
    }
    const discoveries = await h
      .em()
      .count(Job, { task: task.id, kind: 'maintenance', params: { operation: 'discover' } });
    expect(discoveries).toBe(slots.size);
    await h.em().nativeDelete(Job, { task: task.id });
  });

  it('runs scheduled backups at their slot: a paused task and paused entities are left out', async () => {
    const org = await h.organization('Scheduled');
    const task = await h.task(org, { entities: 2 }, { backupHour: '3' });
    const [one, two] = [...(await discover(task.id))];
    const em = h.em();
    const e2 = await em.findOneOrFail(TaskEntity, { id: two?.id as string });
    e2.status = 'paused';
    await em.flush();
    const created = (await h.em().findOneOrFail(BackupTask, { id: task.id })).createdAt;
    const nextSlot = new Date(Date.UTC(created.getUTCFullYear(), created.getUTCMonth(), created.getUTCDate() + 1, 3));
    h.clock.now = new Date(nextSlot.getTime() + 60_000);
    await enqueueDueWork(h.ctx, h.clock.now);
    await h.runner.runUntilIdle();
    const jobs = await h.em().find(Job, { task: task.id }, { orderBy: { createdAt: 'asc' } });
    expect(jobs.map((j) => [j.kind, j.params.operation ?? j.entity?.id, j.state]).sort()).toEqual(
      [
        ['backup', one?.id, 'succeeded'],
        ['maintenance', 'discover', 'succeeded'],
        ['maintenance', 'retention', 'succeeded'],
      ].sort(),
    );
    // The same slot is not enqueued again; a paused task gets nothing at the next one.
    await enqueueDueWork(h.ctx, new Date(h.clock.now.getTime() + HOUR));
    expect(await h.em().count(Job, { task: task.id })).toBe(3);
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    t.status = 'paused';
    await em.flush();
    await enqueueDueWork(h.ctx, new Date(nextSlot.getTime() + 24 * HOUR));
    expect(await h.em().count(Job, { task: task.id })).toBe(3);
  });
});

describe('claims', () => {
  it('never gives one job to two claimers', async () => {
    const org = await h.organization('Racing claims');
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      ids.push(
        await enqueueJob(
          h.em(),
          {
            organizationId: org.id,
            kind: 'export',
            label: `export ${i}`,
            initiator: { kind: 'user', ...ACTOR },
            maxAttempts: 1,
          },
          h.clock.now,
        ),
      );
    }
    const other = await secondContext();
    const limits = { slots: 30, perOrganization: 100, perTask: 100 };
    let claims: string[][];
    try {
      claims = await Promise.all(
        ['a', 'b', 'c'].map(async (owner, i) => {
          const em = (i === 1 ? other.ctx : h.ctx).orm.em.fork();
          const got: string[] = [];
          for (let round = 0; round < 5; round++) {
            got.push(...(await claimJobs(em, owner, { ...limits, slots: 3 }, 30_000, h.clock.now)).map((j) => j.id));
          }
          return got;
        }),
      );
    } finally {
      await other.close();
    }
    const all = claims.flat();
    expect(new Set(all).size).toBe(all.length);
    const rows = await h.em().find(Job, { id: { $in: ids }, state: 'in_progress' });
    expect(rows.length).toBe(all.length);
    for (const [i, owner] of ['a', 'b', 'c'].entries()) {
      for (const id of claims[i] as string[]) expect(rows.find((r) => r.id === id)?.leaseOwner).toBe(owner);
    }
    await h.em().nativeDelete(Job, { id: { $in: ids } });
  });

  it('honours the per-task and per-organization limits and runs one job per entity at a time', async () => {
    const org = await h.organization('Limits');
    const a = await h.task(org, { entities: 3 });
    const b = await h.task(org, { entities: 2 });
    const ea = await discover(a.id);
    const eb = await discover(b.id);
    const em = h.em();
    const ta = await em.findOneOrFail(BackupTask, { id: a.id });
    const tb = await em.findOneOrFail(BackupTask, { id: b.id });
    await backupNow(
      em,
      ta,
      ea.map((e) => e.id),
      { kind: 'user', ...ACTOR },
      h.clock.now,
      2,
    );
    await backupNow(
      em,
      tb,
      eb.map((e) => e.id),
      { kind: 'user', ...ACTOR },
      h.clock.now,
      2,
    );
    // A second job for an entity that already has one waiting is not added.
    const again = await backupNow(em, ta, [at(ea, 0).id], { kind: 'user', ...ACTOR }, h.clock.now, 2);
    expect(await h.em().count(Job, { task: a.id })).toBe(3);
    expect(again.done).toBe(1);

    const claimed = await claimJobs(
      h.em(),
      'limits',
      { slots: 10, perOrganization: 2, perTask: 1 },
      30_000,
      h.clock.now,
    );
    expect(claimed.length).toBe(2);
    expect(new Set(claimed.map((j) => j.task?.id))).toEqual(new Set([a.id, b.id]));
    expect(
      await claimJobs(h.em(), 'limits', { slots: 10, perOrganization: 3, perTask: 1 }, 30_000, h.clock.now),
    ).toEqual([]);
    const more = await claimJobs(h.em(), 'limits', { slots: 10, perOrganization: 3, perTask: 2 }, 30_000, h.clock.now);
    expect(more.length).toBe(1);
    await h.em().nativeDelete(Job, { task: { $in: [a.id, b.id] } });
  });
});

describe('fair claiming', () => {
  async function queue(orgId: string, taskId: string | null, count: number) {
    const ids: string[] = [];
    for (let i = 0; i < count; i++)
      ids.push(
        await enqueueJob(
          h.em(),
          {
            organizationId: orgId,
            kind: 'maintenance',
            label: `job ${i}`,
            taskId,
            initiator: { kind: 'system' },
            maxAttempts: 1,
          },
          h.clock.now,
        ),
      );
    return ids;
  }

  it("reaches a later tenant's job behind 500 queued by another, and takes turns between tenants", async () => {
    const busy = await h.organization('Busy tenant');
    const busyTask = await h.task(busy);
    const quiet = await h.organization('Quiet tenant');
    const busyJobs = await queue(busy.id, busyTask.id, 500);
    h.advance(1000);
    const [quietJob] = await queue(quiet.id, null, 1);
    try {
      // The busy task may run one job at a time: every other job of it waits, and must not hide
      // the quiet tenant's job.
      const first = await claimJobs(h.em(), 'fair', { slots: 4, perOrganization: 4, perTask: 1 }, 30_000, h.clock.now);
      expect(first.length).toBe(2);
      expect(first.map((j) => j.id)).toContain(quietJob);
      expect(busyJobs).toContain(first.find((j) => j.id !== quietJob)?.id);
      await h.em().nativeDelete(Job, { id: { $in: first.map((j) => j.id) } });

      // With room for both, two slots go one to each tenant, not both to the oldest jobs.
      const [again] = await queue(quiet.id, null, 1);
      const second = await claimJobs(
        h.em(),
        'fair',
        { slots: 2, perOrganization: 10, perTask: 10 },
        30_000,
        h.clock.now,
      );
      expect(second.map((j) => j.organization.id).sort()).toEqual([busy.id, quiet.id].sort());
      expect(second.map((j) => j.id)).toContain(again);
    } finally {
      await h.em().nativeDelete(Job, { organization: { $in: [busy.id, quiet.id] } });
    }
  });

  it('reaches a task queued behind 500 jobs of another task of the same tenant', async () => {
    const org = await h.organization('Two tasks');
    const crowded = await h.task(org);
    const other = await h.task(org, { account: 'other-account' });
    const crowdedJobs = await queue(org.id, crowded.id, 500);
    h.advance(1000);
    const [otherJob] = await queue(org.id, other.id, 1);
    try {
      const claimed = await claimJobs(
        h.em(),
        'fair',
        { slots: 4, perOrganization: 4, perTask: 1 },
        30_000,
        h.clock.now,
      );
      expect(claimed.length).toBe(2);
      expect(claimed.map((j) => j.id)).toContain(otherJob);
      expect(crowdedJobs).toContain(claimed.find((j) => j.id !== otherJob)?.id);
    } finally {
      await h.em().nativeDelete(Job, { organization: org.id });
    }
  });
});

describe('lapsed leases', () => {
  it('resumes a job whose worker stopped, then fails it with the reason when no attempts are left', async () => {
    const org = await h.organization('Crashes');
    const task = await h.task(org, { entities: 1 });
    const entity = at(await discover(task.id), 0);
    const em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    const { jobIds } = await backupNow(em, t, [entity.id], { kind: 'user', ...ACTOR }, h.clock.now, 2);
    const limits = { slots: 1, perOrganization: 5, perTask: 5 };

    // A worker claims it, marks the entity In Process, and dies without a word.
    expect((await claimJobs(h.em(), 'dead-1', limits, 30_000, h.clock.now)).length).toBe(1);
    await h.em().nativeUpdate(TaskEntity, { id: entity.id }, { status: 'in_process' });
    h.advance(29_000);
    expect(await runJobMaintenance(h.ctx, h.clock.now)).toMatchObject({ resumed: 0, failed: 0 });
    h.advance(2_000);
    expect(await runJobMaintenance(h.ctx, h.clock.now)).toMatchObject({ resumed: 1, failed: 0 });
    let job = await h.em().findOneOrFail(Job, { id: at(jobIds, 0) });
    expect(job).toMatchObject({ state: 'pending', leaseOwner: null, attempts: 1 });
    expect(job.log.at(-1)?.message).toBe('the appliance stopped during the run; resumed (attempt 2 of 2 next)');
    expect((await h.em().findOneOrFail(TaskEntity, { id: entity.id })).status).toBe('scheduled');

    // Claimed again and lost again: no attempts left, so it fails and says why.
    expect((await claimJobs(h.em(), 'dead-2', limits, 30_000, h.clock.now)).length).toBe(1);
    await h.em().nativeUpdate(TaskEntity, { id: entity.id }, { status: 'in_process' });
    h.advance(31_000);
    expect(await runJobMaintenance(h.ctx, h.clock.now)).toMatchObject({ resumed: 0, failed: 1 });
    job = await h.em().findOneOrFail(Job, { id: at(jobIds, 0) });
    expect(job).toMatchObject({ state: 'failed', error: 'The job failed: the appliance stopped during the run.' });
    expect(job.finishedAt?.toISOString()).toBe(h.clock.now.toISOString());
    expect(await h.em().findOneOrFail(TaskEntity, { id: entity.id })).toMatchObject({
      status: 'failed',
      lastError: 'The last backup failed: the appliance stopped during the run.',
    });
  });
});

describe('leases of a live node', () => {
  it('stay held while the executor has not started the job yet (a worker thread still starting)', async () => {
    const org = await h.organization('Slow start');
    const jobId = await enqueueJob(
      h.em(),
      {
        organizationId: org.id,
        kind: 'export',
        label: 'slow start',
        initiator: { kind: 'user', ...ACTOR },
        maxAttempts: 2,
      },
      h.clock.now,
    );
    // An executor that holds the job without running it (so without its own heartbeat) until told.
    let release = () => {};
    const started = new Promise<void>((resolve) => {
      release = resolve;
    });
    const runner = new JobRunner(h.ctx, { run: () => started, close: async () => {} });
    await runner.poke();
    expect((await h.em().findOneOrFail(Job, { id: jobId })).leaseOwner).toBe(runner.owner);

    // Twice most of a lease (30 s) later, renewed by the runner each time: never lapsed.
    for (let i = 0; i < 2; i++) {
      h.advance(25_000);
      await runner.extendLeases();
    }
    h.advance(25_000);
    expect(await runJobMaintenance(h.ctx, h.clock.now)).toMatchObject({ resumed: 0, failed: 0 });
    const held = await h.em().findOneOrFail(Job, { id: jobId });
    expect(held).toMatchObject({ state: 'in_progress', leaseOwner: runner.owner, attempts: 1 });
    expect(held.leaseExpiresAt?.getTime()).toBe(h.clock.now.getTime() + 5_000);

    release();
    await runner.stop(1000);
    await h.em().nativeDelete(Job, { id: jobId });
  });

  it("refuses a log line from an earlier attempt, even of the same node's runner", async () => {
    const org = await h.organization('Log fence');
    const jobId = await enqueueJob(
      h.em(),
      {
        organizationId: org.id,
        kind: 'export',
        label: 'log fence',
        initiator: { kind: 'user', ...ACTOR },
        maxAttempts: 3,
      },
      h.clock.now,
    );
    const limits = { slots: 1, perOrganization: 5, perTask: 5 };
    // As a run reads its job once claimed (run-job.ts): the row with its lease and attempt.
    const claimed = async () => {
      expect(at(await claimJobs(h.em(), 'node-a', limits, 30_000, h.clock.now), 0).id).toBe(jobId);
      return h.em().findOneOrFail(Job, { id: jobId });
    };
    const first = await claimed();
    // Its first attempt is put back (a transient failure) and the same runner claims the job again.
    expect(
      await releaseJob(h.em(), first, 'node-a', { runAfter: h.clock.now, message: 'transient' }, h.clock.now),
    ).toBe(true);
    const second = await claimed();
    expect(second.attempts).toBe(first.attempts + 1);

    // The first attempt, still running somewhere in that node, writes a line: refused.
    const late = logEntry('warn', 'from the first attempt', h.clock.now);
    expect(await appendJobLog(h.em(), fenceOf(first, 'node-a'), [late])).toBe(false);
    expect(
      await appendJobLog(h.em(), fenceOf(second, 'node-a'), [logEntry('info', 'from the second', h.clock.now)]),
    ).toBe(true);
    const messages = (await h.em().findOneOrFail(Job, { id: jobId })).log.map((l) => l.message);
    expect(messages).toContain('from the second');
    expect(messages).not.toContain('from the first attempt');
    await h.em().nativeDelete(Job, { id: jobId });
  });
});

describe('cancel', () => {
  it('cancels a queued job at once', async () => {
    const org = await h.organization('Cancel queued');
    const task = await h.task(org, { entities: 1 });
    const entity = at(await discover(task.id), 0);
    const em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    const { jobIds } = await backupNow(em, t, [entity.id], { kind: 'user', ...ACTOR }, h.clock.now, 2);
    // Another tenant cannot see or cancel it.
    const stranger = await h.organization('Stranger');
    await expect(cancelJob(h.em(), stranger, at(jobIds, 0), ACTOR, h.clock.now)).rejects.toThrow('No such job.');
    expect((await listJobs(h.em(), stranger)).total).toBe(0);
    expect(await cancelJob(h.em(), org, at(jobIds, 0), ACTOR, h.clock.now)).toBe('canceled');
    expect(
      (await h.em().findOneOrFail(AuditEvent, { organization: org.id, activity: 'Job canceled' })).description,
    ).toBe(`Backup of user-001@acct-${org.id.slice(0, 8)}.example: canceled before it started.`);
    expect((await listJobs(h.em(), org, { states: ['canceled'] })).jobs.map((j) => j.id)).toEqual(jobIds);
    expect(await h.em().findOneOrFail(Job, { id: at(jobIds, 0) })).toMatchObject({
      state: 'canceled',
      error: 'Canceled by admin@acme.example.',
    });
    expect(await requestCancel(h.em(), at(jobIds, 0), h.clock.now, 'admin')).toBe('finished');
  });

  it('stops a running backup within seconds, commits nothing, and ends Canceled', async () => {
    const org = await h.organization('Cancel running');
    // 400 items × 25 ms: ten seconds if nobody stops it.
    const task = await h.task(org, { entities: 1, items: 400, itemDelayMs: 25 });
    const entity = at(await discover(task.id), 0);
    const em = h.em();
    const t = await em.findOneOrFail(BackupTask, { id: task.id });
    const { jobIds } = await backupNow(em, t, [entity.id], { kind: 'user', ...ACTOR }, h.clock.now, 2);
    const jobId = at(jobIds, 0);
    const running = h.runner.runUntilIdle();
    await waitFor('the backup to make progress', async () => {
      const j = await h.em().findOne(Job, { id: jobId });
      return j?.state === 'in_progress' && j.progressItems > 5 ? j : undefined;
    });
    expect((await h.em().findOneOrFail(TaskEntity, { id: entity.id })).status).toBe('in_process');
    expect(await requestCancel(h.em(), jobId, h.clock.now, 'admin')).toBe('requested');
    await running;
    const job = await h.em().findOneOrFail(Job, { id: jobId });
    expect(job.state).toBe('canceled');
    expect(job.progressItems).toBeLessThan(400);
    expect(job.log.at(-1)?.message).toBe('canceled; nothing was committed');
    const after = await h.em().findOneOrFail(TaskEntity, { id: entity.id });
    expect(after).toMatchObject({ status: 'scheduled', lastSnapshotId: null, pluginState: null });
    const opened = await h.ctx.storage.open({ id: task.id, organizationId: org.id, storageLocation: null });
    const snapshots = (await opened.repo.listSnapshots()).filter((s) => s.manifest.task === task.id);
    await opened.close();
    expect(snapshots).toEqual([]);
  });
});
