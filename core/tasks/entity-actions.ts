// The actions on a task's entities, for one or many at once: Activate, Pause, Backup Now, Delete
// (hidden at once, restorable for the grace period, then its snapshots are purged), and Restore.
// Entities are always looked up inside the given task, so ids of other tasks are ignored.
import type { EntityManager } from '@mikro-orm/core';
import { addActivity } from '../activity/activity-service.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { AppError } from '../errors.ts';
import { Organization } from '../identity/entities.ts';
import { Job } from '../jobs/entities.ts';
import { enqueueJob, type Initiator, jobLabel, requestCancel } from '../jobs/queue.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { type IBackupTask, type ITaskEntity, TaskEntity } from './entities.ts';
import { TASK_GRACE_DAYS } from './tasks-service.ts';

export interface ActionResult {
  /** Entities the action changed (or queued). */
  done: number;
  /** Selected entities it does not apply to (e.g. Activate on an archived one). */
  skipped: number;
}

async function selected(em: EntityManager, task: IBackupTask, ids: readonly string[]): Promise<ITaskEntity[]> {
  if (ids.length === 0) throw new AppError('nothing_selected', 'Select at least one entity.', 422);
  return em.find(TaskEntity, { task, id: { $in: [...new Set(ids)] }, deletedAt: null });
}

async function audit(
  em: EntityManager,
  task: IBackupTask,
  activity: 'Backups activated' | 'Backups paused' | 'Backup started' | 'Backups deleted' | 'Backups restored',
  entities: ITaskEntity[],
  actor: AuditActor,
) {
  if (entities.length === 0) return;
  const names = entities.slice(0, 5).map((e) => e.name);
  const more = entities.length > 5 ? ` and ${entities.length - 5} more` : '';
  await recordAudit(em, {
    organization: task.organization,
    activity,
    // The service's name, as the task's other audit entries say it ("Dropbox", not "dropbox").
    service: servicePlugin(task.service)?.label ?? task.service,
    account: entities.length === 1 ? (entities[0] as ITaskEntity).name : null,
    description: `Backup task "${task.name}": ${names.join(', ')}${more}.`,
    actor,
  });
}

/** One System Activity event per entity, written by the caller's flush. */
function addEvents(
  em: EntityManager,
  task: IBackupTask,
  activity: 'Backup activated' | 'Backup paused',
  entities: ITaskEntity[],
  actor: AuditActor,
  now: Date,
): void {
  const by = actor.label ?? 'a user';
  for (const entity of entities) {
    addActivity(em, {
      organization: task.organization,
      activity,
      status: 'succeeded',
      at: now,
      task,
      entity,
      summary: `Backups of ${entity.name} ${activity === 'Backup activated' ? 'activated' : 'paused'} by ${by}.`,
    });
  }
}

export async function activateEntities(
  em: EntityManager,
  task: IBackupTask,
  ids: readonly string[],
  actor: AuditActor,
  now: Date = new Date(),
): Promise<ActionResult> {
  const entities = await selected(em, task, ids);
  const changed = entities.filter((e) => e.status === 'not_active' || e.status === 'paused');
  for (const e of changed) e.status = 'scheduled';
  addEvents(em, task, 'Backup activated', changed, actor, now);
  await em.flush();
  await audit(em, task, 'Backups activated', changed, actor);
  return { done: changed.length, skipped: ids.length - changed.length };
}

export async function pauseEntities(
  em: EntityManager,
  task: IBackupTask,
  ids: readonly string[],
  actor: AuditActor,
  now: Date,
): Promise<ActionResult> {
  const entities = await selected(em, task, ids);
  const changed = entities.filter(
    (e) => e.status !== 'paused' && e.status !== 'archived' && e.status !== 'not_active' && e.status !== 'unavailable',
  );
  for (const e of changed) e.status = 'paused';
  addEvents(em, task, 'Backup paused', changed, actor, now);
  await em.flush();
  // Queued runs of paused entities are dropped; a running one finishes.
  await cancelEntityJobs(em, changed, now, actor.label ?? 'a user', ['pending']);
  await audit(em, task, 'Backups paused', changed, actor);
  return { done: changed.length, skipped: ids.length - changed.length };
}

/**
 * Queues a backup of each selected entity now (a Not Active one is activated by it). An entity
 * that already has a backup waiting counts as done; paused, archived and unavailable ones are skipped.
 */
export async function backupNow(
  em: EntityManager,
  task: IBackupTask,
  ids: readonly string[],
  initiator: Initiator & { ip?: string | null },
  now: Date,
  maxAttempts: number,
): Promise<ActionResult & { jobIds: string[] }> {
  if (task.deletedAt) throw new AppError('task_deleted', 'This backup task is deleted.', 409);
  // An account whose backups are held (an ended trial) says why instead of starting one.
  const owner = await em.findOne(Organization, { id: task.organization.id }, { fields: ['backupHold'] });
  if (owner?.backupHold) throw new AppError('backups_held', owner.backupHold, 409);
  const entities = await selected(em, task, ids);
  const eligible = entities.filter(
    (e) => e.status !== 'paused' && e.status !== 'archived' && e.status !== 'unavailable',
  );
  const jobIds: string[] = [];
  for (const entity of eligible) {
    if (entity.status === 'not_active') entity.status = 'scheduled';
    const waiting = await em.findOne(Job, { entity, kind: 'backup', state: 'pending' }, { fields: ['id'] });
    if (waiting) {
      jobIds.push(waiting.id);
      continue;
    }
    jobIds.push(
      await enqueueJob(
        em,
        {
          organizationId: task.organization.id,
          kind: 'backup',
          label: jobLabel(`Backup of ${entity.name}`),
          taskId: task.id,
          entityId: entity.id,
          initiator,
          maxAttempts,
        },
        now,
      ),
    );
  }
  await em.flush();
  await audit(em, task, 'Backup started', eligible, {
    label: initiator.label ?? initiator.kind,
    id: initiator.id ?? null,
    ip: initiator.ip ?? null,
  });
  return { done: eligible.length, skipped: ids.length - eligible.length, jobIds };
}

export async function deleteEntities(
  em: EntityManager,
  task: IBackupTask,
  ids: readonly string[],
  actor: AuditActor,
  now: Date,
): Promise<ActionResult> {
  const entities = await selected(em, task, ids);
  const purgeAfter = new Date(now.getTime() + TASK_GRACE_DAYS * 86_400_000);
  for (const e of entities) {
    e.deletedAt = now;
    e.purgeAfter = purgeAfter;
  }
  await em.flush();
  await cancelEntityJobs(em, entities, now, actor.label ?? 'a user', ['pending', 'in_progress']);
  await audit(em, task, 'Backups deleted', entities, actor);
  return { done: entities.length, skipped: ids.length - entities.length };
}

/** Brings deleted entities back while their grace period lasts. */
export async function restoreEntities(
  em: EntityManager,
  task: IBackupTask,
  ids: readonly string[],
  actor: AuditActor,
  now: Date,
): Promise<ActionResult> {
  const entities = await em.find(TaskEntity, {
    task,
    id: { $in: [...new Set(ids)] },
    deletedAt: { $ne: null },
    purgeAfter: { $gt: now },
  });
  for (const e of entities) {
    e.deletedAt = null;
    e.purgeAfter = null;
  }
  await em.flush();
  await audit(em, task, 'Backups restored', entities, actor);
  return { done: entities.length, skipped: ids.length - entities.length };
}

async function cancelEntityJobs(
  em: EntityManager,
  entities: ITaskEntity[],
  now: Date,
  by: string,
  states: ('pending' | 'in_progress')[],
): Promise<void> {
  if (entities.length === 0) return;
  const jobs = await em.find(
    Job,
    { entity: { $in: entities.map((e) => e.id) }, state: { $in: states } },
    { fields: ['id'] },
  );
  for (const job of jobs) await requestCancel(em, job.id, now, by);
}

export interface EntityFilter {
  status?: ITaskEntity['status'] | undefined;
  /** Substring of the name or external id. */
  search?: string | undefined;
}

/** The task's entities (not deleted), filtered, by name. */
export async function listEntities(
  em: EntityManager,
  task: IBackupTask,
  filter: EntityFilter = {},
): Promise<ITaskEntity[]> {
  const where: Record<string, unknown> = { task, deletedAt: null };
  if (filter.status) where.status = filter.status;
  if (filter.search) {
    // % and _ typed by a user act as wildcards: harmless in a search box.
    const like = `%${filter.search}%`;
    where.$or = [{ name: { $like: like } }, { externalId: { $like: like } }];
  }
  return em.find(TaskEntity, where, { orderBy: { name: 'asc' } });
}
