// Jobs in the real appliance process (jobs in worker threads, the test service loaded through
// HOLDFAST_PLUGINS): SIGKILL during a backup, restart, and the job is resumed (or failed with the
// reason) once its lease lapses; the scheduled run that came due while the appliance was down
// happens; SIGTERM lets the appliance stop cleanly.
import { join } from 'node:path';
import type { MikroORM } from '@mikro-orm/core';
import { afterAll, describe, expect, it } from 'vitest';
import { openKernel } from '../../../core/appliance.ts';
import { openDatabase } from '../../../core/db/database.ts';
import { Organization } from '../../../core/identity/entities.ts';
import { Job } from '../../../core/jobs/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { latestRunAtOrBefore } from '../../../core/scheduler/schedule.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { TEST_SERVICE_KIND, VALID_TOKEN } from '../../fakes/test-service.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { baseEnv, type RunningProcess, repoRoot, startApplianceProcess } from '../../helpers/process.ts';

const cleanups: (() => void | Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const JOB_ENV = {
  HOLDFAST_PLUGINS: join(repoRoot, 'tests/fakes/test-service.ts'),
  // Long enough that a worker's renewals (every third of it) survive a busy machine's stalls.
  HOLDFAST_JOB_LEASE_SECONDS: '10',
  HOLDFAST_SCHEDULER_INTERVAL_SECONDS: '1',
  HOLDFAST_JOB_MAX_ATTEMPTS: '3',
};

async function start(dir: string): Promise<RunningProcess> {
  const p = await startApplianceProcess(baseEnv(dir, JOB_ENV));
  cleanups.push(() => {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  });
  return p;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, p?: RunningProcess): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting for ${what}${p ? `\n${p.stdout().slice(-3000)}\n${p.stderr()}` : ''}`);
}

describe('jobs in the appliance process', () => {
  it('resumes a backup killed by SIGKILL after its lease lapses, and runs the schedule that came due', async () => {
    const dir = tempDir();
    cleanups.push(dir.remove);
    const config = testConfig(dir.path, JOB_ENV);

    // Set up a task as the UI would: one entity whose backup takes about 4 s (40 items × 100 ms).
    const kernel = await openKernel(config, createLogger('silent'));
    const em = kernel.orm.em.fork();
    const id = crypto.randomUUID();
    const org = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Crash test' });
    await em.flush();
    const plugin = servicePlugin(TEST_SERVICE_KIND);
    if (!plugin) throw new Error('HOLDFAST_PLUGINS did not register the test service');
    const task = await createTask(
      em,
      { credentials: kernel.credentials, services: servicePlugin, now: () => new Date(), log: kernel.deps.log },
      org,
      {
        service: TEST_SERVICE_KIND,
        name: 'Crash test',
        connection: { account: 'crash', token: VALID_TOKEN, entities: 1, items: 40, itemDelayMs: 100 },
        settings: { frequency: 'three_times_daily', backupHour: '0' },
      },
      { label: 'admin@crash.example' },
    );
    // Created two days ago, its latest slot already enqueued: nothing is due when it starts.
    task.createdAt = new Date(Date.now() - 2 * 86_400_000);
    task.lastScheduledFor =
      latestRunAtOrBefore({ frequency: 'three_times_daily', backupHour: 0, anchor: task.createdAt }, new Date()) ??
      null;
    await em.flush();
    await discoverEntities(em, task, plugin, kernel.credentials, {
      signal: AbortSignal.timeout(10_000),
      log: kernel.deps.log,
      now: new Date(),
    });
    const entity = await em.findOneOrFail(TaskEntity, { task });
    const { jobIds } = await backupNow(
      em,
      task,
      [entity.id],
      { kind: 'user', label: 'admin@crash.example' },
      new Date(),
      3,
    );
    const jobId = jobIds[0] as string;
    await kernel.close();

    const db: MikroORM = await openDatabase(config);
    cleanups.push(() => db.close());
    const read = () => db.em.fork().findOneOrFail(Job, { id: jobId });

    // First life: the worker thread makes progress, then the whole process is killed.
    const first = await start(dir.path);
    const running = await waitFor(
      'the backup to make progress',
      async () => {
        const job = await read();
        return job.state === 'in_progress' && job.progressItems >= 3 ? job : undefined;
      },
      first,
    );
    expect(running.attempts).toBe(1);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const killed = await read();
    expect(killed.state).toBe('in_progress');
    expect((await db.em.fork().findOneOrFail(TaskEntity, { id: entity.id })).status).toBe('in_process');

    // While it was down, a schedule slot came due.
    await db.em.fork().nativeUpdate(BackupTask, { id: task.id }, { lastScheduledFor: null });

    // Second life: the lapsed job is resumed and finishes; the scheduled backup runs too.
    const second = await start(dir.path);
    const done = await waitFor(
      'the killed job to end',
      async () => {
        const job = await read();
        return ['succeeded', 'failed'].includes(job.state) ? job : undefined;
      },
      second,
    );
    const recovery = done.log.find((l) => l.message.startsWith('the appliance stopped during the run'));
    expect(recovery?.message).toBe('the appliance stopped during the run; resumed (attempt 2 of 3 next)');
    // Recovered after the lease lapsed, within one lease period of that (plus one scheduler tick).
    const lapsed = (killed.leaseExpiresAt as Date).getTime();
    const recoveredAt = Date.parse(recovery?.at as string);
    expect(recoveredAt).toBeGreaterThanOrEqual(lapsed);
    expect(done).toMatchObject({ state: 'succeeded', attempts: 2, result: { items: 40 } });

    const scheduled = await waitFor(
      'the scheduled backup',
      async () => {
        const job = await db.em.fork().findOne(Job, { entity: entity.id, initiatorKind: 'schedule' });
        return job && ['succeeded', 'failed'].includes(job.state) ? job : undefined;
      },
      second,
    );
    expect(scheduled).toMatchObject({ state: 'succeeded', attempts: 1, result: { items: 40 } });
    // Whichever ran first made the entity's first snapshot; the other changed one item.
    const [earlier, later] = [done, scheduled].sort(
      (a, b) => (a.finishedAt as Date).getTime() - (b.finishedAt as Date).getTime(),
    );
    expect(earlier?.result).toMatchObject({ added: 40, updated: 0 });
    expect(later?.result).toMatchObject({ added: 0, updated: 1 });
    const after = await db.em.fork().findOneOrFail(TaskEntity, { id: entity.id });
    expect(after.status).toBe('success');
    expect(after.lastSnapshotId).toBe(later?.result?.snapshotId);
    expect(second.stdout()).toContain('recovered jobs whose appliance stopped during the run');

    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  }, 120_000);
});
