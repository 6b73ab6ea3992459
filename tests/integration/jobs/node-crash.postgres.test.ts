// A worker node SIGKILLed mid-backup, in a cluster of two worker processes on one PostgreSQL and
// one S3 stand-in: once the killed node's lease lapses, the other node (already running, not
// restarted) resumes the job from the repository's committed state and finishes it. One snapshot
// is committed, with every item, and the job ran on the survivor as attempt 2.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../../../core/jobs/entities.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import {
  CLUSTER_BUCKET,
  clusterEnv,
  makeTestTask,
  startWebNode,
  startWorkerNode,
  type WorkerNode,
} from '../../helpers/cluster.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import type { TestApp } from '../../helpers/kernel.ts';
import { type LoopbackS3, startS3rver } from '../../helpers/s3rver.ts';
import { rootOf } from '../../helpers/tenants.ts';

const LEASE_SECONDS = 10;
let s3: LoopbackS3;
let web: TestApp;
let env: Record<string, string>;
const workers: WorkerNode[] = [];

beforeAll(async () => {
  s3 = await startS3rver([CLUSTER_BUCKET]);
  // The web node's own database (this run's PostgreSQL), shared by the workers.
  const probe = tempDir();
  const databaseUrl = testConfig(probe.path).databaseUrl as string;
  probe.remove();
  // A lease short enough for a test, long enough that renewals (every third) survive a busy machine.
  env = clusterEnv(databaseUrl, s3, {
    HOLDFAST_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
    HOLDFAST_JOB_MAX_ATTEMPTS: '3',
  });
  web = await startWebNode(env);
  workers.push(await startWorkerNode(env), await startWorkerNode(env));
}, 120_000);
afterAll(async () => {
  for (const w of workers) await w.stop();
  await web?.close();
  await s3?.stop();
});

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1200; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `gave up waiting for ${what}\n${workers.map((w) => w.stdout().slice(-2000) + w.stderr()).join('\n')}`,
  );
}

describe('a worker node killed mid-backup', () => {
  it('has its backup resumed by another node after the lease lapses: one snapshot, every item', async () => {
    const em = web.kernel.orm.em.fork();
    const root = await rootOf(em);
    // One entity whose backup takes about 6 s (60 items × 100 ms).
    const { task, entityIds } = await makeTestTask(web, em, root, { entities: 1, items: 60, itemDelayMs: 100 });
    const { jobIds } = await backupNow(
      em,
      task,
      entityIds,
      { kind: 'user', label: 'admin@acme.example' },
      new Date(),
      3,
    );
    const jobId = jobIds[0] as string;
    const read = () => web.kernel.orm.em.fork().findOneOrFail(Job, { id: jobId });

    const running = await waitFor('the backup to make progress', async () => {
      const job = await read();
      return job.state === 'in_progress' && job.progressItems >= 5 ? job : undefined;
    });
    const victim = workers.find((w) => running.leaseOwner?.includes(`/${w.pid}/`));
    const survivor = workers.find((w) => w !== victim);
    expect(victim).toBeDefined();
    victim?.child.kill('SIGKILL');
    expect(await victim?.exited).toBe('SIGKILL');
    const killed = await read();
    expect(killed.state).toBe('in_progress');

    const done = await waitFor('the killed job to end', async () => {
      const job = await read();
      return ['succeeded', 'failed', 'partially_succeeded'].includes(job.state) ? job : undefined;
    });
    expect(done).toMatchObject({ state: 'succeeded', attempts: 2, result: { items: 60, added: 60 } });
    const recovery = done.log.find((l) => l.message.startsWith('the appliance stopped during the run'));
    expect(recovery?.message).toBe('the appliance stopped during the run; resumed (attempt 2 of 3 next)');
    // Resumed only once the killed node's lease had lapsed, by the node that kept running.
    expect(Date.parse(recovery?.at as string)).toBeGreaterThanOrEqual((killed.leaseExpiresAt as Date).getTime());
    expect(survivor?.child.exitCode).toBeNull();
    expect(survivor?.stdout()).toContain('recovered jobs whose appliance stopped during the run');

    // Exactly one snapshot in the shared repository, the one the entity and the job name.
    const entity = await web.kernel.orm.em.fork().findOneOrFail(TaskEntity, { id: entityIds[0] as string });
    expect(entity.lastSnapshotId).toBe(done.result?.snapshotId);
    const stored = await web.kernel.orm.em.fork().findOneOrFail(BackupTask, { id: task.id });
    const opened = await web.kernel.storage.open({
      id: stored.id,
      organizationId: root.id,
      storageLocation: stored.storageLocation ?? null,
    });
    try {
      expect(await opened.repo.snapshotIds()).toEqual([done.result?.snapshotId]);
    } finally {
      await opened.close();
    }
    expect(await web.kernel.orm.em.fork().count(Job, { task: task.id, kind: 'backup' })).toBe(1);
  }, 180_000);
});
