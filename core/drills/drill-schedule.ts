// When restore drills run: the scheduler's tick queues one for each active task with a backup
// whose latest drill is older than its account's drill policy (drill-policy.ts: the nearest
// organization up the tree that sets one, else HOLDFAST_DRILL_INTERVAL_DAYS; 0: none) — once per
// task and day, by the dedupe key; a task's first drill comes that long after it was created —
// and a user can start one from the task page or the API at any time.
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import type { WorkContext } from '../jobs/context.ts';
import { enqueueJob, enqueueJobsOnce, type Initiator, jobLabel, type NewJob } from '../jobs/queue.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import { drillPolicies, effectivePolicy } from './drill-policy.ts';
import { RestoreDrill } from './entities.ts';

const DAY_MS = 24 * 60 * 60 * 1000;

function drillJob(task: IBackupTask, initiator: Initiator, maxAttempts: number): NewJob {
  return {
    organizationId: task.organization.id,
    kind: 'maintenance',
    label: jobLabel(`Restore drill of ${task.name}`),
    taskId: task.id,
    initiator,
    params: { operation: 'drill', taskId: task.id },
    maxAttempts,
  };
}

/** Queues the drills that are due; returns how many. */
export async function enqueueDueDrills(ctx: Pick<WorkContext, 'orm' | 'settings'>, now: Date): Promise<number> {
  const em = ctx.orm.em.fork();
  const policies = await drillPolicies(em);
  if (ctx.settings.drillIntervalDays === 0 && ![...policies.values()].some((d) => d > 0)) return 0;
  const tasks = await em.find(
    BackupTask,
    { status: 'active', deletedAt: null, organization: { status: 'active' } },
    { populate: ['organization'] },
  );
  const due: NewJob[] = [];
  for (const task of tasks) {
    const { days } = effectivePolicy(policies, task.organization as IOrganization, ctx.settings.drillIntervalDays);
    if (days === 0) continue;
    const backedUp = await em.count(TaskEntity, { task, deletedAt: null, lastSnapshotId: { $ne: null } });
    if (backedUp === 0) continue;
    // Every `days` days, counted from the task's creation until its first drill.
    const last = await em.findOne(RestoreDrill, { task }, { orderBy: { finishedAt: 'desc' } });
    if (now.getTime() - (last?.finishedAt ?? task.createdAt).getTime() < days * DAY_MS) continue;
    due.push({
      ...drillJob(task, { kind: 'schedule', label: 'Schedule' }, 1),
      dedupeKey: `drill:${task.id}:${now.toISOString().slice(0, 10)}`,
      scheduledFor: now,
    });
  }
  return due.length ? enqueueJobsOnce(em, due, now) : 0;
}

/** A drill started by a user or an API key now; returns the job's id. */
export function startDrill(
  em: EntityManager,
  task: IBackupTask,
  initiator: Initiator,
  now: Date,
  maxAttempts: number,
): Promise<string> {
  return enqueueJob(em, drillJob(task, initiator, maxAttempts), now);
}
