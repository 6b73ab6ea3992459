// Scheduler ticks across nodes on PostgreSQL: one tick at a time (an advisory lock; a node that
// finds it taken skips its tick), and three nodes ticking at the same instant enqueue each due
// backup once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Kernel, openKernel, workContext } from '../../../core/appliance.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { Scheduler } from '../../../core/scheduler/loop.ts';
import { SCHEDULER_LOCK_KEY } from '../../../core/scheduler/tick-lock.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

const HOUR = 3_600_000;
let h: JobsHarness;
/** Two more nodes: kernels of their own (connection pools) on the same database. */
let others: Kernel[];
beforeAll(async () => {
  h = await createJobsHarness();
  const config = h.app.kernel.deps.config;
  others = [await openKernel(config, createLogger('silent')), await openKernel(config, createLogger('silent'))];
});
afterAll(async () => {
  for (const k of others ?? []) await k.close();
  await h?.close();
});

/** A node's scheduler on the test's clock. */
function schedulerOf(kernel: Kernel): Scheduler {
  return new Scheduler({ ...workContext(kernel), now: () => h.clock.now });
}

async function dueTask(name: string, entities: number) {
  const task = await h.task(await h.organization(name), { entities }, { backupHour: '2' });
  const em = h.em();
  await discoverEntities(
    em,
    await em.findOneOrFail(BackupTask, { id: task.id }),
    testServicePlugin as never,
    h.ctx.credentials,
    {
      signal: AbortSignal.timeout(10_000),
      log: h.ctx.log,
      now: h.clock.now,
    },
  );
  expect(await h.em().count(TaskEntity, { task: task.id })).toBe(entities);
  // Past the task's first daily slot.
  h.advance(26 * HOUR);
  return task;
}

describe('scheduler ticks on several nodes', () => {
  it('skips a tick while another node holds the scheduler lock, and runs it once the lock is free', async () => {
    const task = await dueTask('Locked out', 2);
    const holder = h.app.kernel.orm.em.fork();
    await holder.begin();
    try {
      const [row] = (await holder
        .getConnection()
        .execute(
          'select pg_try_advisory_xact_lock(?) as locked',
          [SCHEDULER_LOCK_KEY],
          'all',
          holder.getTransactionContext(),
        )) as {
        locked: boolean;
      }[];
      expect(row?.locked).toBe(true);
      expect(await schedulerOf(others[0] as Kernel).tick()).toBe('skipped');
      expect(await h.em().count(Job, { task: task.id })).toBe(0);
    } finally {
      await holder.rollback();
    }
    expect(await schedulerOf(others[0] as Kernel).tick()).toBe('ran');
    expect(await h.em().count(Job, { task: task.id, kind: 'backup' })).toBe(2);
  });

  it('enqueues each due backup once when three nodes tick at the same instant', async () => {
    const task = await dueTask('Three nodes', 5);
    const schedulers = [h.app.kernel, ...others].map(schedulerOf);
    const outcomes = await Promise.all(schedulers.map((s) => s.tick()));
    expect(outcomes.filter((o) => o === 'ran').length).toBeGreaterThanOrEqual(1);
    expect(outcomes.filter((o) => o === 'ran' || o === 'skipped').length).toBe(3);
    // And again, all three at a later instant of the same slot: nothing more. Halfway to the
    // next daily slot — a fixed hour would cross into it when the test runs near 02:00.
    const queued = await h.em().findOneOrFail(Job, { task: task.id, kind: 'backup' });
    const nextSlot = (queued.scheduledFor as Date).getTime() + 24 * HOUR;
    h.advance(Math.floor((nextSlot - h.clock.now.getTime()) / 2));
    await Promise.all(schedulers.map((s) => s.tick()));

    const backups = await h.em().find(Job, { task: task.id, kind: 'backup' });
    expect(backups.length).toBe(5);
    expect(new Set(backups.map((j) => j.entity?.id)).size).toBe(5);
    expect(new Set(backups.map((j) => j.scheduledFor?.toISOString())).size).toBe(1);
    expect(await h.em().count(Job, { task: task.id, kind: 'maintenance', params: { operation: 'discover' } })).toBe(1);
  });
});
