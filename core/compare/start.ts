// Starting a compare (seed 6.1/6.2): checked before the job is queued — the permission (a compare
// shows backed-up data, as an export does), both tasks inside the organization (another tenant's
// task is "not found") and of the same service, the objects chosen belonging to the left task, and
// both points in time being dates — or, for a live right side, the right task being connected.
import type { EntityManager } from '@mikro-orm/core';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission, type Principal } from '../access/principal.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { enqueueJob, jobLabel } from '../jobs/queue.ts';
import { initiatorOf, type StartedJob } from '../recovery/start.ts';
import { BackupTask, type IBackupTask, TaskEntity } from '../tasks/entities.ts';
import type { CompareParams } from './compare-job.ts';

export interface CompareRequest {
  taskId: string;
  /** Entities of the task; none: all of them. */
  entityIds?: string[] | undefined;
  /** ISO dates: each side is every object's newest snapshot at or before it. */
  leftTime: string;
  /** Another task of the same service; the same task when absent. */
  rightTaskId?: string | undefined;
  /** Ignored when `rightLive`. */
  rightTime: string;
  /** Compare with the right task's account as it is now (read by the job), not a backup. */
  rightLive?: boolean | undefined;
}

export interface CompareContext {
  em: EntityManager;
  principal: Principal;
  organization: IOrganization;
  actor: AuditActor;
  now: Date;
  maxAttempts: number;
}

async function taskOf(em: EntityManager, organization: IOrganization, id: unknown): Promise<IBackupTask | null> {
  if (typeof id !== 'string' || id.length > 36) return null;
  return em.findOne(BackupTask, { id, organization, deletedAt: null });
}

function instant(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

export async function startCompare(ctx: CompareContext, request: CompareRequest): Promise<StartedJob> {
  if (!hasPermission(ctx.principal, 'export_download')) throw new MissingPermissionError('export_download');
  const task = await taskOf(ctx.em, ctx.organization, request.taskId);
  if (!task) throw new NotFoundError('No such backup task.');
  const errors: Record<string, string> = {};
  const rightTask = request.rightTaskId ? await taskOf(ctx.em, ctx.organization, request.rightTaskId) : task;
  if (!rightTask) errors.rightTaskId = 'Choose a backup task of this account.';
  else if (rightTask.service !== task.service) errors.rightTaskId = 'Choose a backup task of the same service.';
  const leftTime = instant(request.leftTime);
  const live = request.rightLive === true;
  const rightTime = live ? '' : instant(request.rightTime);
  if (!leftTime) errors.leftTime = 'Enter the date and time of the left side.';
  if (!live && !rightTime) errors.rightTime = 'Enter the date and time of the right side.';
  if (live && rightTask?.connectionState === 'disconnected' && !errors.rightTaskId) {
    errors.rightTaskId = `${rightTask.name} is disconnected: authenticate it again to compare with its live account.`;
  }
  const entityIds = [...new Set(request.entityIds ?? [])];
  if (entityIds.length) {
    const found = await ctx.em.count(TaskEntity, { id: { $in: entityIds }, task, deletedAt: null });
    if (found !== entityIds.length) errors.entityIds = 'Choose objects of this task.';
  }
  if (Object.keys(errors).length) throw new ValidationError(errors, 'The compare needs attention.');
  const params: CompareParams = {
    entityIds,
    leftTime: leftTime as string,
    rightTaskId: (rightTask as IBackupTask).id,
    rightTime: rightTime as string,
    rightLive: live,
  };
  const label = jobLabel(`Compare of ${task.name}`);
  const id = await enqueueJob(
    ctx.em,
    {
      organizationId: ctx.organization.id,
      kind: 'compare',
      label,
      taskId: task.id,
      initiator: initiatorOf(ctx.principal),
      params: params as unknown as Record<string, unknown>,
      maxAttempts: ctx.maxAttempts,
    },
    ctx.now,
  );
  await recordAudit(ctx.em, {
    organization: ctx.organization,
    activity: 'Compare started',
    service: task.service,
    account: task.name,
    description: `Compare of ${entityIds.length ? `${entityIds.length} object(s)` : 'all objects'} at ${leftTime} with ${rightTask === task ? 'this task' : (rightTask as IBackupTask).name} ${live ? 'live (its account as it is now)' : `at ${rightTime}`}.`,
    actor: ctx.actor,
  });
  return { id, label };
}
