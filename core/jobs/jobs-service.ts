// What pages and the API ask of jobs: the jobs of the organization acted on (filtered), one job,
// and cancelling one (audited). Another tenant's job is "not found".
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { NotFoundError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { type IJob, type InitiatorKind, Job, type JobKind, type JobState } from './entities.ts';
import { type CancelOutcome, requestCancel } from './queue.ts';

export interface JobFilters {
  kinds?: JobKind[] | undefined;
  states?: JobState[] | undefined;
  initiator?: InitiatorKind | undefined;
  taskId?: string | undefined;
  /** Created at or after. */
  since?: Date | undefined;
  order?: 'latest' | 'oldest';
  limit?: number;
  offset?: number;
}

export async function listJobs(
  em: EntityManager,
  organization: IOrganization,
  filters: JobFilters = {},
): Promise<{ jobs: IJob[]; total: number }> {
  const where: FilterQuery<IJob> = { organization };
  if (filters.kinds?.length) where.kind = { $in: filters.kinds };
  if (filters.states?.length) where.state = { $in: filters.states };
  if (filters.initiator) where.initiatorKind = filters.initiator;
  if (filters.taskId) where.task = filters.taskId;
  if (filters.since) where.createdAt = { $gte: filters.since };
  const [jobs, total] = await em.findAndCount(Job, where, {
    orderBy: { createdAt: filters.order === 'oldest' ? 'asc' : 'desc', id: 'asc' },
    limit: filters.limit ?? 50,
    offset: filters.offset ?? 0,
  });
  return { jobs, total };
}

export async function getJob(em: EntityManager, organization: IOrganization, id: string): Promise<IJob> {
  const job = await em.findOne(Job, { id, organization });
  if (!job) throw new NotFoundError('No such job.');
  return job;
}

export async function cancelJob(
  em: EntityManager,
  organization: IOrganization,
  id: string,
  actor: AuditActor,
  now: Date,
): Promise<CancelOutcome> {
  const job = await getJob(em, organization, id);
  const outcome = await requestCancel(em, job.id, now, actor.label ?? 'a user');
  if (outcome !== 'finished') {
    await recordAudit(em, {
      organization,
      activity: 'Job canceled',
      description: `${job.label}: ${outcome === 'canceled' ? 'canceled before it started' : 'asked to stop'}.`,
      actor,
    });
  }
  return outcome;
}
