// Maintenance jobs of a task, queued by the scheduler and run like any other job (in a worker,
// under the job limits):
// - discover: refresh the entity list; entities it activates get the slot's backup at once;
// - retention: forget snapshots outside the task's retention policy, those of entities archived
//   longer than the task keeps archived backups, and those of entities deleted past their grace
//   period; then prune the repository; on a location with immutability, renew the locks of what
//   is still in use (storage/object-locks.ts) — a snapshot still locked is forgotten once it lapses;
// - purge_task: a task deleted past its grace period loses all its snapshots (forget + prune),
//   its catalog rows and its database rows.
import type { EntityManager } from '@mikro-orm/core';
import { withLock } from '../../storage/locks.ts';
import { type RenewReport, renewLocks } from '../../storage/object-locks.ts';
import { pruneRepository } from '../../storage/prune.ts';
import type { DamagedSnapshot, Repository } from '../../storage/repository.ts';
import { applyRetention } from '../../storage/retention.ts';
import { recordActivity } from '../activity/activity-service.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { forgetMissingSnapshots } from '../catalog/forget.ts';
import type { WorkContext } from '../jobs/context.ts';
import { Job } from '../jobs/entities.ts';
import { JobNotApplicableError, type JobOutcome, type JobRun } from '../jobs/handler.ts';
import { enqueueJobsOnce, jobLabel, logEntry } from '../jobs/queue.ts';
import { discoverEntities } from './discovery.ts';
import { BackupTask, type IBackupTask, TaskEntity } from './entities.ts';

export type MaintenanceOperation = 'discover' | 'retention' | 'purge_task';

export async function runMaintenanceJob(run: JobRun): Promise<JobOutcome> {
  const operation = run.job.params.operation as MaintenanceOperation;
  const taskId = run.job.params.taskId as string;
  const task = await run.em.findOne(BackupTask, { id: taskId });
  if (!task) throw new JobNotApplicableError('The backup task no longer exists.');
  if (operation === 'discover') return discover(run, task);
  if (operation === 'retention') return retention(run, task);
  if (operation === 'purge_task') return purgeTask(run, task);
  throw new Error(`unknown maintenance operation ${String(operation)}`);
}

async function discover(run: JobRun, task: IBackupTask): Promise<JobOutcome> {
  if (task.deletedAt) throw new JobNotApplicableError('The backup task was deleted.');
  const plugin = run.ctx.services(task.service);
  if (!plugin) throw new Error(`the service plugin "${task.service}" is not installed on this appliance`);
  run.progress.step = 'discovering';
  const now = run.ctx.now();
  const report = await discoverEntities(run.em, task, plugin, run.ctx.credentials, {
    signal: run.signal,
    log: run.log,
    now,
  });
  // Entities this discovery activated join the slot it ran for.
  const slot = typeof run.job.params.slot === 'string' ? new Date(run.job.params.slot) : null;
  if (slot && task.status === 'active') {
    await enqueueJobsOnce(
      run.em,
      report.activated.map((entity) => scheduledBackup(run.ctx, task, entity, slot)),
      now,
    );
  }
  return {
    state: 'succeeded',
    result: { found: report.found, added: report.added, archived: report.archived, returned: report.returned },
    message: `discovery: ${report.found} found, ${report.added} new, ${report.archived} archived`,
  };
}

export function scheduledBackup(
  ctx: Pick<WorkContext, 'settings'>,
  task: IBackupTask,
  entity: { id: string; name: string },
  slot: Date,
) {
  return {
    organizationId: task.organization.id,
    kind: 'backup' as const,
    label: jobLabel(`Backup of ${entity.name}`),
    taskId: task.id,
    entityId: entity.id,
    initiator: { kind: 'schedule' as const, label: 'Schedule' },
    dedupeKey: `backup:${entity.id}:${slot.toISOString()}`,
    scheduledFor: slot,
    maxAttempts: ctx.settings.jobMaxAttempts,
  };
}

async function retention(run: JobRun, task: IBackupTask): Promise<JobOutcome> {
  const { ctx, em } = run;
  const now = ctx.now();
  const entities = await em.find(TaskEntity, { task });
  const archivedGone = task.archivedRetentionDays
    ? entities.filter(
        (e) =>
          e.status === 'archived' &&
          e.archivedAt &&
          e.archivedAt.getTime() + (task.archivedRetentionDays as number) * 86_400_000 <= now.getTime(),
      )
    : [];
  const deletedGone = entities.filter((e) => e.deletedAt && e.purgeAfter && e.purgeAfter <= now);
  const dropWhole = new Set([...archivedGone, ...deletedGone].map((e) => e.externalId));

  const opened = await ctx.storage.open({
    id: task.id,
    organizationId: task.organization.id,
    storageLocation: task.storageLocation ?? null,
  });
  let forgotten = 0;
  let stillLocked = 0;
  let pruned: Awaited<ReturnType<typeof pruneRepository>> | undefined;
  let renewed: RenewReport | undefined;
  const clock = () => ctx.now().getTime();
  // Unreadable snapshots are skipped (their task is unknown); prune then keeps all data.
  const damaged: DamagedSnapshot[] = [];
  try {
    const { repo } = opened;
    run.progress.step = 'applying retention';
    const snapshots = (await repo.listSnapshots({ onDamaged: (d) => damaged.push(d) })).filter(
      (s) => s.manifest.task === task.id,
    );
    const forget = new Set(applyRetention(snapshots, task.retention, now).forget);
    for (const s of snapshots) if (dropWhole.has(s.manifest.entity)) forget.add(s.id);
    if (forget.size > 0) {
      pruned = await withLock(repo.sink, 'exclusive', { purpose: `retention of task ${task.id}` }, async () => {
        for (const id of forget) if (await repo.forgetSnapshot(id, clock)) stillLocked++;
        await forgetInCatalog(run, repo);
        run.progress.step = 'pruning';
        return pruneRepository(repo, { now: clock });
      });
      forgotten = forget.size - stillLocked;
    }
    const policy = repo.sink.immutability;
    if (policy) {
      run.progress.step = 'renewing object locks';
      renewed = await withLock(repo.sink, 'shared', { purpose: `lock renewal of task ${task.id}` }, () =>
        renewLocks(repo, { periodMs: policy.days * 86_400_000, now: clock }),
      );
    }
  } finally {
    await opened.close();
  }
  const removed = [...archivedGone, ...deletedGone];
  if (removed.length) await em.nativeDelete(TaskEntity, { id: { $in: removed.map((e) => e.id) } });
  await run.appendLog(
    damaged.map((d) =>
      logEntry(
        'warn',
        `snapshot ${d.id} cannot be read and was skipped (${d.reason}); prune keeps all data until ` +
          '"holdfast repo repair snapshots" removes or repairs it',
        ctx.now(),
      ),
    ),
  );
  return {
    state: damaged.length ? 'partially_succeeded' : 'succeeded',
    result: {
      forgotten,
      entitiesRemoved: removed.length,
      packsDeleted: pruned?.packsDeleted ?? 0,
      ...(stillLocked ? { stillLocked } : {}),
      ...(pruned?.lockedPacks
        ? {
            lockedPacks: pruned.lockedPacks,
            lockedBytes: pruned.lockedBytes,
            reclaimableAfter: pruned.reclaimableAfter,
          }
        : {}),
      ...(renewed ? { locksRenewed: renewed.renewed } : {}),
      ...(damaged.length ? { damagedSnapshots: damaged.map((d) => d.id) } : {}),
    },
    message:
      `retention: ${forgotten} snapshot(s) forgotten, ${removed.length} entit(ies) removed` +
      (stillLocked ? `; ${stillLocked} snapshot(s) locked, forgotten when their lock lapses` : '') +
      (pruned?.lockedPacks
        ? `; ${pruned.lockedPacks} locked pack(s) (${pruned.lockedBytes} bytes) reclaimed after ${pruned.reclaimableAfter}`
        : '') +
      (renewed ? `; ${renewed.renewed} object lock(s) renewed` : '') +
      (damaged.length ? `; ${damaged.length} unreadable snapshot(s) skipped, all data kept` : ''),
  };
}

async function purgeTask(run: JobRun, task: IBackupTask): Promise<JobOutcome> {
  const { ctx, em } = run;
  const now = ctx.now();
  if (!task.deletedAt || !task.purgeAfter || task.purgeAfter > now) {
    throw new JobNotApplicableError('The backup task was restored or its grace period has not ended.');
  }
  let forgotten = 0;
  let packsDeleted = 0;
  // A task that never committed a snapshot has nothing stored.
  if (task.storageLocation) {
    const opened = await ctx.storage.open({
      id: task.id,
      organizationId: task.organization.id,
      storageLocation: task.storageLocation,
    });
    try {
      const { repo } = opened;
      run.progress.step = 'forgetting snapshots';
      const report = await withLock(repo.sink, 'exclusive', { purpose: `purge of task ${task.id}` }, async () => {
        const ids = (await repo.listSnapshots()).filter((s) => s.manifest.task === task.id).map((s) => s.id);
        for (const id of ids) await repo.forgetSnapshot(id);
        await forgetInCatalog(run, repo);
        forgotten = ids.length;
        run.progress.step = 'pruning';
        return pruneRepository(repo, { now: () => ctx.now().getTime() });
      });
      packsDeleted = report.packsDeleted;
    } finally {
      await opened.close();
    }
  }
  await deleteTaskRows(em, task);
  await recordActivity(em, [
    {
      organization: task.organization,
      activity: 'Task purged',
      status: 'succeeded',
      at: ctx.now(),
      task,
      summary: `Backup task "${task.name}" purged after its grace period: ${forgotten} snapshot(s) removed.`,
    },
  ]);
  await recordAudit(em, {
    organization: task.organization,
    activity: 'Backup task purged',
    service: task.service,
    description: `Backup task "${task.name}" purged after its grace period: ${forgotten} snapshot(s) removed.`,
    actor: { label: 'System' },
  });
  return {
    state: 'succeeded',
    result: { forgotten, packsDeleted },
    message: `task purged: ${forgotten} snapshot(s) forgotten, ${packsDeleted} pack(s) deleted`,
  };
}

/** The catalog must not name snapshots that are gone (core/catalog/forget.ts keeps it as a reindex would). */
async function forgetInCatalog(run: JobRun, repo: Repository): Promise<void> {
  run.progress.step = 'updating the catalog';
  // Gone from the repository only: an unreadable snapshot is still there.
  const still = new Set(await repo.snapshotIds());
  await forgetMissingSnapshots(run.em, repo.id, still);
}

/** The task's rows; its jobs stay in the history with the task cleared. */
async function deleteTaskRows(em: EntityManager, task: IBackupTask): Promise<void> {
  await em.nativeUpdate(Job, { task: task.id }, { task: null, entity: null });
  await em.nativeDelete(TaskEntity, { task: task.id });
  await em.nativeDelete(BackupTask, { id: task.id });
}
