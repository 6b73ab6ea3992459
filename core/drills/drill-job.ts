// The restore drill job (a maintenance job with operation "drill", queued by the schedule or by
// a user): opens the task's repository under a shared lock, drills each active entity's latest
// snapshot (drill.ts) with the scratch folder under the data folder, records the result, and
// raises an exceptions incident when it failed (resolved by the next drill that passes). No call
// is made to the service: only the storage location is read.
import { join } from 'node:path';
import { withLock } from '../../storage/locks.ts';
import { itemFieldMap } from '../catalog/item-fields.ts';
import { JobNotApplicableError, type JobOutcome, type JobRun } from '../jobs/handler.ts';
import { type IncidentEvent, incidentCleared, incidentFailed } from '../notifications/incidents.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import { runDrill } from './drill.ts';
import { describeDrill } from './drill-status.ts';
import { type DrillFailure, RestoreDrill } from './entities.ts';

/** Failures named in the job's error and the notification (all are kept on the drill's row). */
const NAMED = 10;

/** Where drills restore to: under the data folder, one folder per job, removed after it. */
export function drillScratchDir(dataDir: string, jobId: string): string {
  return join(dataDir, 'drills', jobId);
}

export async function runDrillJob(run: JobRun): Promise<JobOutcome> {
  const { ctx, em, job } = run;
  const task = await em.findOne(BackupTask, { id: job.params.taskId as string }, { populate: ['organization'] });
  if (!task || task.deletedAt) throw new JobNotApplicableError('The backup task was deleted.');
  const entities = await em.find(
    TaskEntity,
    { task, deletedAt: null, lastSnapshotId: { $ne: null } },
    { orderBy: { name: 'asc' } },
  );
  if (entities.length === 0) throw new JobNotApplicableError('The task has no backup to drill yet.');
  const plugin = ctx.services(task.service);
  if (!plugin) throw new Error(`the service plugin "${task.service}" is not installed on this appliance`);
  run.progress.step = 'restoring a sample';
  const startedAt = ctx.now();
  const started = performance.now();
  const opened = await ctx.storage.open({
    id: task.id,
    organizationId: task.organization.id,
    storageLocation: task.storageLocation ?? null,
  });
  let report: Awaited<ReturnType<typeof runDrill>>;
  try {
    report = await withLock(
      opened.repo.sink,
      'shared',
      { purpose: `restore drill of ${task.name}`.slice(0, 200) },
      () =>
        runDrill({
          repo: opened.repo,
          em: em.fork(),
          taskId: task.id,
          targets: entities.map((e) => ({
            entity: { name: e.name, externalId: e.externalId },
            snapshotId: e.lastSnapshotId as string,
          })),
          sampleSize: ctx.settings.drillSampleItems,
          scratchDir: drillScratchDir(ctx.settings.dataDir, job.id),
          fields: itemFieldMap(plugin.searchFields),
          contentHash: plugin.contentHash,
          signal: run.signal,
        }),
    );
  } finally {
    await opened.close();
  }
  const durationMs = Math.round(performance.now() - started);
  const finishedAt = ctx.now();
  const passed = report.failures.length === 0;
  run.progress.items = report.items;
  run.progress.bytes = report.bytes;
  await em.fork().transactional(async (tx) => {
    // Recorded only while the job is still this run's (fenced).
    await run.confirmHeld(tx);
    tx.create(RestoreDrill, {
      organization: task.organization.id,
      task: task.id,
      jobId: job.id,
      startedAt,
      finishedAt,
      passed,
      snapshots: report.snapshots,
      items: report.items,
      bytes: report.bytes,
      storageBytesRead: report.storageBytesRead,
      durationMs,
      failures: report.failures,
    });
    const event = incident(task, report.failures, finishedAt, passed);
    if (passed) await incidentCleared(tx, event);
    else await incidentFailed(tx, event);
  });
  const summary = describeDrill({ passed, finishedAt, items: report.items, bytes: report.bytes, durationMs });
  if (!passed) throw new Error(`${summary}: ${namedFailures(report.failures)}`);
  return {
    state: 'succeeded',
    result: {
      snapshots: report.snapshots,
      items: report.items,
      bytes: report.bytes,
      storageBytesRead: report.storageBytesRead,
      durationMs,
    },
    message: `${summary}; read ${report.storageBytesRead} bytes from storage, no service API calls`,
  };
}

function namedFailures(failures: readonly DrillFailure[]): string {
  const named = failures.slice(0, NAMED).map((f) => `${f.entity}: ${f.item} (${f.reason})`);
  if (failures.length > NAMED) named.push(`and ${failures.length - NAMED} more`);
  return named.join('; ');
}

function incident(task: IBackupTask, failures: readonly DrillFailure[], at: Date, passed: boolean): IncidentEvent {
  return {
    organizationId: task.organization.id,
    subject: `drill:${task.id}`,
    member: task.id,
    at,
    payload: {
      event: passed ? 'drill_passed' : 'drill_failed',
      organizationName: task.organization.name,
      taskId: task.id,
      taskName: task.name,
      items: failures.slice(0, NAMED).map((f) => `${f.entity}: ${f.item}`),
      reason: passed ? null : namedFailures(failures).slice(0, 1000),
      linkPath: `/tasks/${task.id}`,
      linkLabel: 'Open the task',
    },
  };
}
