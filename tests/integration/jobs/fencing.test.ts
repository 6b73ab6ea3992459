// Fencing of a job's outcome: node A's lease lapses while it is committing a backup (stalled in a
// storage write), the scheduler resumes the job and node B (its own database connection) runs it
// to the end; when A wakes up, its late commit is refused because the job's lease owner and
// attempt number (the fencing token) are no longer its own. From the user's view the job ran
// once: one snapshot in the repository and the catalog, the entity and the job naming B's, one
// activity row. Runs on SQLite and on PostgreSQL (project `postgres`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { CatalogSnapshot } from '../../../core/catalog/entities.ts';
import { openDatabase } from '../../../core/db/database.ts';
import type { WorkContext } from '../../../core/jobs/context.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { claimJobs } from '../../../core/jobs/queue.ts';
import { runClaimedJob } from '../../../core/jobs/run-job.ts';
import type { Sink } from '../../../core/plugins/sink.ts';
import { runJobMaintenance } from '../../../core/scheduler/scheduler.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import type { TaskStorage } from '../../../core/tasks/storage.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

const LEASE_MS = 30_000;
const LIMITS = { slots: 1, perOrganization: 5, perTask: 5 };
let h: JobsHarness;
beforeAll(async () => {
  h = await createJobsHarness({ HOLDFAST_JOB_LEASE_SECONDS: String(LEASE_MS / 1000), HOLDFAST_JOB_MAX_ATTEMPTS: '3' });
});
afterAll(async () => {
  await h.close();
});

/** Storage whose repositories hold the first write of a key under `prefix` until released. */
function stalledStorage(storage: TaskStorage, prefix: string) {
  let reached = () => {};
  const stalled = new Promise<void>((resolve) => {
    reached = resolve;
  });
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let armed = true;
  const wrapped: TaskStorage = {
    ...storage,
    async open(task, options) {
      const opened = await storage.open(task, options);
      const sink = opened.repo.sink as Sink;
      const put = sink.put.bind(sink);
      sink.put = (async (key: string, ...rest: unknown[]) => {
        if (armed && key.startsWith(prefix)) {
          armed = false;
          reached();
          await released;
        }
        return (put as (...args: unknown[]) => unknown)(key, ...rest);
      }) as Sink['put'];
      return opened;
    },
  };
  return { storage: wrapped, stalled, release };
}

async function backupJob(name: string) {
  const org = await h.organization(name);
  const task = await h.task(org, { entities: 1, items: 5 });
  const em = h.em();
  const stored = await em.findOneOrFail(BackupTask, { id: task.id });
  await discoverEntities(em, stored, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const [entity] = await h.em().find(TaskEntity, { task: task.id });
  if (!entity) throw new Error('no entity discovered');
  const { jobIds } = await backupNow(h.em(), stored, [entity.id], { kind: 'user', ...ACTOR }, h.clock.now, 3);
  return { org, task: stored, entity, jobId: jobIds[0] as string };
}

describe("a job's late commit after its lease lapsed", () => {
  // `index/`: A stalls before its snapshot is written (the fence before the manifest refuses it);
  // `snapshots/`: A stalls writing the manifest itself (the fence of the record refuses it, and A
  // takes its manifest and catalog rows back out).
  it.each([
    ['index/', 'before its snapshot manifest is written'],
    ['snapshots/', 'while its snapshot manifest is written'],
  ])('is refused when node A stalls %s (%s): one snapshot, one result, B’s', async (prefix) => {
    const { task, entity, jobId } = await backupJob(`Fenced ${prefix}`);
    const t0 = h.clock.now;
    expect((await claimJobs(h.em(), 'node-a', LIMITS, LEASE_MS, t0)).map((j) => j.id)).toEqual([jobId]);
    // Node A's clock stands still: its renewals never reach past t0 + lease, as a stalled node's.
    const stall = stalledStorage(h.ctx.storage, prefix);
    const ctxA: WorkContext = { ...h.ctx, storage: stall.storage, now: () => t0 };
    const runA = runClaimedJob(ctxA, jobId, { owner: 'node-a' });
    await stall.stalled;

    // A's lease lapses; the scheduler resumes the job and node B, on its own connection, runs it.
    h.advance(LEASE_MS + 1000);
    expect(await runJobMaintenance(h.ctx, h.clock.now)).toMatchObject({ resumed: 1 });
    const orm = await openDatabase(h.app.kernel.deps.config);
    try {
      const ctxB: WorkContext = { ...h.ctx, orm };
      expect((await claimJobs(orm.em.fork(), 'node-b', LIMITS, LEASE_MS, h.clock.now)).map((j) => j.id)).toEqual([
        jobId,
      ]);
      await runClaimedJob(ctxB, jobId, { owner: 'node-b' });
    } finally {
      await orm.close();
    }
    const byB = await h.em().findOneOrFail(Job, { id: jobId });
    expect(byB).toMatchObject({ state: 'succeeded', attempts: 2, result: { items: 5, added: 5 } });
    const snapshotOfB = byB.result?.snapshotId as string;

    // A wakes up and tries to commit: refused.
    stall.release();
    await runA;
    const job = await h.em().findOneOrFail(Job, { id: jobId });
    expect(job).toMatchObject({
      state: 'succeeded',
      attempts: 2,
      leaseOwner: null,
      result: { snapshotId: snapshotOfB },
    });
    expect(job.log.filter((l) => l.message.startsWith('Backup saved')).length).toBe(1);
    expect((await h.em().findOneOrFail(TaskEntity, { id: entity.id })).lastSnapshotId).toBe(snapshotOfB);
    const opened = await h.ctx.storage.open({
      id: task.id,
      organizationId: task.organization.id,
      storageLocation: task.storageLocation ?? null,
    });
    try {
      expect(await opened.repo.snapshotIds()).toEqual([snapshotOfB]);
      expect((await h.em().find(CatalogSnapshot, { repository: opened.repo.id })).map((s) => s.id)).toEqual([
        snapshotOfB,
      ]);
    } finally {
      await opened.close();
    }
    expect(await h.em().count(ActivityEvent, { jobId })).toBe(1);
  });
});
