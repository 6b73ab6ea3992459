// When restore drills run: the scheduler's tick queues one for each active task with a backup
// whose latest drill is older than its account's drill policy (drill-policy.ts: the nearest
// organization up the tree that sets one, else HOLDFAST_DRILL_INTERVAL_DAYS; 0: none) — once per
// task and day, by the dedupe key; a task's first drill comes that long after it was created —
// and a user can start one from the task page or the API at any time.
import type { EntityManager } from '@mikro-orm/core';
import { raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { dateFromSql } from '../db/run-sql.ts';
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
  const withPolicy = tasks
    .map((task) => ({
      task,
      days: effectivePolicy(policies, task.organization as IOrganization, ctx.settings.drillIntervalDays).days,
    }))
    .filter(({ days }) => days > 0);
  // Two grouped queries for all the tasks, not two per task: the tick runs every interval on one
  // node of the cluster, over every task of the appliance.
  const ids = withPolicy.map(({ task }) => task.id);
  const [backedUp, lastDrills] = await Promise.all([tasksWithSnapshots(em, ids), lastDrillByTask(em, ids)]);
  const due: NewJob[] = [];
  for (const { task, days } of withPolicy) {
    if (!backedUp.has(task.id)) continue;
    // Every `days` days, counted from the task's creation until its first drill.
    const last = lastDrills.get(task.id) ?? task.createdAt;
    if (now.getTime() - last.getTime() < days * DAY_MS) continue;
    due.push({
      ...drillJob(task, { kind: 'schedule', label: 'Schedule' }, 1),
      dedupeKey: `drill:${task.id}:${now.toISOString().slice(0, 10)}`,
      scheduledFor: now,
    });
  }
  return due.length ? enqueueJobsOnce(em, due, now) : 0;
}

/** The tasks among `taskIds` with an entity (not deleted) that has a snapshot. */
async function tasksWithSnapshots(em: EntityManager, taskIds: string[]): Promise<Set<string>> {
  if (taskIds.length === 0) return new Set();
  const rows = (await (em as SqlEntityManager)
    .createQueryBuilder(TaskEntity, 'e')
    .select(['e.task'])
    .distinct()
    .where({ task: { $in: taskIds }, deletedAt: null, lastSnapshotId: { $ne: null } })
    .execute('all', false)) as { task_id: string }[];
  return new Set(rows.map((r) => r.task_id));
}

/** When each task's latest drill finished (tasks without a drill are absent). */
async function lastDrillByTask(em: EntityManager, taskIds: string[]): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  if (taskIds.length === 0) return out;
  const rows = (await (em as SqlEntityManager)
    .createQueryBuilder(RestoreDrill, 'd')
    .select(['d.task', raw('max(d.finished_at) as last')])
    .where({ task: { $in: taskIds } })
    .groupBy('d.task')
    .execute('all', false)) as { task_id: string; last: number | string | null }[];
  for (const row of rows) {
    const last = dateFromSql(row.last);
    if (last) out.set(row.task_id, last);
  }
  return out;
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
