// The scheduler's work, as functions of a context and an instant (so tests drive them with a
// controlled clock):
// - enqueueDueWork: for each active task whose schedule slot is due, one discovery, one backup per
//   active entity and one retention pass — each with a dedupe key naming the slot, so racing
//   ticks (or nodes) enqueue them exactly once;
// - runJobMaintenance: lapsed job leases (resume or fail), deleted tasks past their grace period
//   (a purge job each). The appliance housekeeping (expired sessions, organizations past their
//   removal grace period) is core/maintenance.ts, which the scheduler loop runs hourly.

import type { WorkContext } from '../jobs/context.ts';
import { enqueueJobsOnce, type NewJob, recoverLapsedJobs } from '../jobs/queue.ts';
import { ACTIVE_ENTITY_STATUSES, BackupTask, TaskEntity } from '../tasks/entities.ts';
import { scheduledBackup } from '../tasks/maintenance-job.ts';
import { dueSlot } from './schedule.ts';

export interface EnqueueReport {
  tasks: number;
  jobs: number;
}

export async function enqueueDueWork(ctx: WorkContext, now: Date): Promise<EnqueueReport> {
  const em = ctx.orm.em.fork();
  const report: EnqueueReport = { tasks: 0, jobs: 0 };
  const tasks = await em.find(BackupTask, {
    status: 'active',
    deletedAt: null,
    // An account whose backups are held (an ended trial, core/billing/trials.ts) is skipped; its data stays.
    organization: { status: 'active', backupHold: null },
  });
  for (const task of tasks) {
    const slot = dueSlot(
      { frequency: task.frequency, backupHour: task.backupHour, anchor: task.createdAt },
      task.lastScheduledFor ?? null,
      now,
    );
    if (!slot) continue;
    const iso = slot.toISOString();
    const entities = await em.find(
      TaskEntity,
      { task, status: { $in: [...ACTIVE_ENTITY_STATUSES] }, deletedAt: null },
      { fields: ['id', 'name'] },
    );
    const maintenance = (operation: 'discover' | 'retention', label: string): NewJob => ({
      organizationId: task.organization.id,
      kind: 'maintenance',
      label: `${label} of ${task.name}`,
      taskId: task.id,
      initiator: { kind: 'schedule', label: 'Schedule' },
      params: { operation, taskId: task.id, slot: iso },
      dedupeKey: `${operation}:${task.id}:${iso}`,
      scheduledFor: slot,
      maxAttempts: ctx.settings.jobMaxAttempts,
    });
    report.jobs += await enqueueJobsOnce(
      em,
      [
        maintenance('discover', 'Discovery'),
        ...entities.map((e) => scheduledBackup(ctx, task, e, slot)),
        maintenance('retention', 'Retention'),
      ],
      now,
    );
    // Conditional: a racing tick that already moved it on is left alone.
    await em.nativeUpdate(
      BackupTask,
      { id: task.id, $or: [{ lastScheduledFor: null }, { lastScheduledFor: { $lt: slot } }] },
      { lastScheduledFor: slot },
    );
    report.tasks++;
  }
  return report;
}

export interface JobMaintenanceReport {
  resumed: number;
  failed: number;
  purgeJobs: number;
}

export async function runJobMaintenance(ctx: WorkContext, now: Date): Promise<JobMaintenanceReport> {
  const em = ctx.orm.em.fork();
  const recovered = await recoverLapsedJobs(em, now);
  const due = await em.find(BackupTask, { deletedAt: { $ne: null }, purgeAfter: { $lte: now } });
  const purgeJobs = await enqueueJobsOnce(
    em,
    due.map((task) => ({
      organizationId: task.organization.id,
      kind: 'maintenance' as const,
      label: `Purge of ${task.name}`,
      taskId: task.id,
      initiator: { kind: 'system' as const, label: 'System' },
      params: { operation: 'purge_task', taskId: task.id },
      dedupeKey: `purge_task:${task.id}`,
      maxAttempts: ctx.settings.jobMaxAttempts,
    })),
    now,
  );
  return { ...recovered, purgeJobs };
}
