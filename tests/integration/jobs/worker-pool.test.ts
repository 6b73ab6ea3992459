// The worker executor's pool of warm job threads: a worker is reused for the next job, one whose
// thread died is replaced (its job failed with the reason), and a busy worker — a job being
// canceled included — is never handed another job before its own has ended. The next job of a
// task is claimed only once the previous one's executor has returned (its worker is back).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../../../core/jobs/entities.ts';
import { InlineExecutor, type JobExecutor, WorkerExecutor } from '../../../core/jobs/executors.ts';
import { requestCancel } from '../../../core/jobs/queue.ts';
import { JobRunner } from '../../../core/jobs/runner.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin, { type TestServiceInput } from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { repoRoot } from '../../helpers/process.ts';

let h: JobsHarness;
beforeAll(async () => {
  h = await createJobsHarness({ HOLDFAST_JOB_LEASE_SECONDS: '30', HOLDFAST_JOB_CONCURRENCY: '4' });
});
afterAll(async () => {
  await h.close();
});

/** A runner whose jobs run in worker threads that load the test service as an external plugin. */
function workerRunner(jobsPerThread = 1): { runner: JobRunner; executor: WorkerExecutor } {
  const config = {
    ...h.app.kernel.deps.config,
    jobsPerThread,
    plugins: [join(repoRoot, 'tests/fakes/test-service.ts')],
  };
  const executor = new WorkerExecutor(h.ctx, config, h.app.kernel.masterKey);
  return { runner: new JobRunner(h.ctx, executor), executor };
}

async function entitiesOf(connection: Partial<TestServiceInput>): Promise<{ task: string; entities: string[] }> {
  const task = await h.task(await h.organization(), connection);
  const em = h.em();
  const t = await em.findOneOrFail(BackupTask, { id: task.id });
  await discoverEntities(em, t, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const entities = await em.find(TaskEntity, { task: task.id }, { orderBy: { externalId: 'asc' } });
  return { task: task.id, entities: entities.map((e) => e.id) };
}

async function backup(task: string, entity: string | undefined): Promise<string> {
  if (!entity) throw new Error('no entity');
  const em = h.em();
  const t = await em.findOneOrFail(BackupTask, { id: task });
  const { jobIds } = await backupNow(em, t, [entity], { kind: 'user', ...ACTOR }, h.clock.now, 2);
  const [id] = jobIds;
  if (!id) throw new Error('no job queued');
  return id;
}

const job = (id: string) => h.em().findOneOrFail(Job, { id });

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`gave up waiting for ${what}`);
}

describe('job worker pool', () => {
  it('runs consecutive jobs in one warm worker thread', async () => {
    const { runner, executor } = workerRunner();
    const { task, entities } = await entitiesOf({ entities: 3 });
    for (const entity of entities) {
      const id = await backup(task, entity);
      await runner.runUntilIdle();
      expect((await job(id)).state).toBe('succeeded');
    }
    expect(executor.stats).toEqual({ started: 1, alive: 1, idle: 1 });
    await runner.stop(1000);
    expect(executor.stats.alive).toBe(0);
  });

  it('fails the job whose thread died with the reason and replaces the worker', async () => {
    const { runner, executor } = workerRunner();
    const { task, entities } = await entitiesOf({ entities: 3, exitEntities: ['user-002'] });
    const first = await backup(task, entities[0]);
    await runner.runUntilIdle();
    const crashed = await backup(task, entities[1]);
    await runner.runUntilIdle();
    expect(executor.stats).toEqual({ started: 1, alive: 0, idle: 0 });
    const last = await backup(task, entities[2]);
    await runner.runUntilIdle();
    expect((await job(first)).state).toBe('succeeded');
    expect(await job(crashed)).toMatchObject({
      state: 'failed',
      error: "The job's worker stopped unexpectedly (exit code 1).",
    });
    expect((await job(last)).state).toBe('succeeded');
    expect(executor.stats).toEqual({ started: 2, alive: 1, idle: 1 });
    await runner.stop(1000);
  });

  it('gives a job claimed while another is being canceled a worker of its own, then reuses them', async () => {
    const { runner, executor } = workerRunner();
    // 400 items × 25 ms: ten seconds if nobody stops it.
    const slow = await entitiesOf({ entities: 1, items: 400, itemDelayMs: 25 });
    const quick = await entitiesOf({ entities: 2 });
    const canceled = await backup(slow.task, slow.entities[0]);
    const running = runner.runUntilIdle();
    await waitFor('the slow backup to make progress', async () => {
      const j = await job(canceled);
      return j.state === 'in_progress' && j.progressItems > 5 ? j : undefined;
    });
    expect(await requestCancel(h.em(), canceled, h.clock.now, 'admin')).toBe('requested');
    const other = await backup(quick.task, quick.entities[0]);
    await runner.poke();
    expect(executor.stats).toEqual({ started: 2, alive: 2, idle: 0 });
    await running;
    await runner.runUntilIdle();
    expect((await job(canceled)).state).toBe('canceled');
    expect((await job(other)).state).toBe('succeeded');
    expect(executor.stats).toEqual({ started: 2, alive: 2, idle: 2 });
    // Both are back in the pool: the next job takes one of them, no thread is started.
    const next = await backup(quick.task, quick.entities[1]);
    await runner.runUntilIdle();
    expect((await job(next)).state).toBe('succeeded');
    expect(executor.stats).toEqual({ started: 2, alive: 2, idle: 2 });
    await runner.stop(1000);
  });

  it("claims a task's next job only after the previous job's executor has returned", async () => {
    // The job's end is recorded inside the executor (in the worker) before the worker is handed
    // back; a claim in between would find no idle worker and start a second thread.
    const inline = new InlineExecutor(h.ctx);
    const ended: string[] = [];
    const handBack = Promise.withResolvers<void>();
    const held: JobExecutor = {
      async run(jobId, owner, shutdown) {
        await inline.run(jobId, owner, shutdown);
        ended.push(jobId);
        await handBack.promise;
      },
      close: async () => undefined,
    };
    const runner = new JobRunner(h.ctx, held);
    const { task, entities } = await entitiesOf({ entities: 2 });
    const t = await h.em().findOneOrFail(BackupTask, { id: task });
    const { jobIds } = await backupNow(h.em(), t, entities, { kind: 'user', ...ACTOR }, h.clock.now, 2);
    expect(jobIds).toHaveLength(2);
    await runner.poke();
    const first = await waitFor('the first job to end', async () => ended[0]);
    expect((await job(first)).state).toBe('succeeded');
    await runner.poke();
    const second = jobIds.find((id) => id !== first) as string;
    expect((await job(second)).state).toBe('pending');
    handBack.resolve();
    await runner.runUntilIdle();
    expect((await job(second)).state).toBe('succeeded');
    expect(ended).toEqual([first, second]);
    await runner.stop(1000);
  });

  it('runs jobs side by side in one thread when HOLDFAST_JOBS_PER_THREAD allows', async () => {
    const { runner, executor } = workerRunner(2);
    // 20 items × 25 ms each: half a second of waiting on the service per backup.
    const a = await entitiesOf({ entities: 1, items: 20, itemDelayMs: 25 });
    const b = await entitiesOf({ entities: 1, items: 20, itemDelayMs: 25 });
    const ids = [await backup(a.task, a.entities[0]), await backup(b.task, b.entities[0])];
    await runner.runUntilIdle();
    const [first, second] = await Promise.all(ids.map(job));
    expect([first?.state, second?.state]).toEqual(['succeeded', 'succeeded']);
    expect(executor.stats).toEqual({ started: 1, alive: 1, idle: 1 });
    // Side by side: each started before the other finished.
    const span = (j: typeof first) => [j?.startedAt?.getTime() ?? 0, j?.finishedAt?.getTime() ?? 0] as const;
    const [[aStart, aEnd], [bStart, bEnd]] = [span(first), span(second)];
    expect(aStart).toBeLessThan(bEnd);
    expect(bStart).toBeLessThan(aEnd);
    await runner.stop(1000);
    expect(executor.stats.alive).toBe(0);
  });
});
