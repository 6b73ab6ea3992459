// A job worker's task storage keeps a backup's repository open for the next backup job of the
// same account (storage-locations/repository-pool.ts): the next open with `keep` hands back the
// same object, brought up to date with what another worker wrote meanwhile; another account gets
// its own; opens without `keep` (restores, maintenance, pages) always open afresh.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InlineExecutor } from '../../../core/jobs/executors.ts';
import { JobRunner } from '../../../core/jobs/runner.ts';
import { locationTaskStorage } from '../../../core/storage-locations/task-storage.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import type { TaskStorage } from '../../../core/tasks/storage.ts';
import testServicePlugin from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

let h: JobsHarness;
let kept: TaskStorage;
let keptRunner: JobRunner;

beforeAll(async () => {
  h = await createJobsHarness();
  kept = locationTaskStorage({
    orm: h.app.kernel.orm,
    credentials: h.ctx.credentials,
    storageDir: h.ctx.settings.storageDir,
    masterKey: h.app.kernel.masterKey,
    keepOpen: { idleMs: 60_000, maxAgeMs: 600_000 },
  });
  const ctx = { ...h.ctx, storage: kept };
  keptRunner = new JobRunner(ctx, new InlineExecutor(ctx));
});
afterAll(async () => {
  await keptRunner.stop(1000);
  await kept.close?.();
  await h.close();
});

async function backupAll(task: IBackupTask, runner: JobRunner): Promise<void> {
  const em = h.em();
  const fresh = await em.findOneOrFail(BackupTask, { id: task.id });
  await discoverEntities(em, fresh, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  const ids = (await h.em().find(TaskEntity, { task: task.id })).map((e) => e.id);
  await backupNow(em, fresh, ids, { kind: 'user', ...ACTOR }, h.clock.now, 3);
  await runner.runUntilIdle();
  h.advance(60_000);
}

const ref = (task: IBackupTask) => ({ id: task.id, organizationId: task.organization.id, storageLocation: null });

describe('repositories kept open between backup jobs', () => {
  it('hands the next backup of the account the same repository, up to date with another worker’s backup', async () => {
    const a = await h.organization('Kept A');
    // Every run changes two items: the other worker's backup writes trees the kept index has not seen.
    const taskA = await h.task(a, { changesPerRun: 2 });
    await backupAll(taskA, keptRunner);
    const first = await kept.open(ref(taskA), { keep: true });
    await first.close();
    const again = await kept.open(ref(taskA), { keep: true });
    expect(again.repo).toBe(first.repo);
    await again.close();

    // Another worker (the harness's own storage, no keeping) backs the account up meanwhile.
    h.advance(3_600_000);
    await backupAll(taskA, h.runner);
    const entities = await h.em().find(TaskEntity, { task: taskA.id, lastSnapshotId: { $ne: null } });
    expect(entities.length).toBeGreaterThan(0);
    const reopened = await kept.open(ref(taskA), { keep: true });
    expect(reopened.repo).toBe(first.repo);
    for (const e of entities) {
      const manifest = await reopened.repo.loadSnapshot(e.lastSnapshotId as string);
      // The other worker's tree blobs are known to the kept index: a backup now dedups against them.
      for (const tree of [manifest.tree, ...(manifest.layers ?? [])]) expect(reopened.repo.has(tree)).toBe(true);
    }
    await reopened.close();

    // Another account has a repository of its own; an open without `keep` is always fresh.
    const b = await h.organization('Kept B');
    const taskB = await h.task(b);
    await backupAll(taskB, keptRunner);
    const other = await kept.open(ref(taskB), { keep: true });
    expect(other.repo).not.toBe(first.repo);
    expect(other.repo.id).not.toBe(first.repo.id);
    await other.close();
    const plain = await kept.open(ref(taskA));
    expect(plain.repo).not.toBe(first.repo);
    await plain.close();
  });
});
