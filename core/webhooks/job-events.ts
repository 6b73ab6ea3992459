// job.succeeded / job.failed: registered as a job-finished hook (core/job-kinds.ts), so the
// event is queued in the transaction that ends the job. A partial success is a job.failed with
// jobState partially_succeeded; a canceled job is neither.
import type { EntityManager } from '@mikro-orm/core';
import type { IJob } from '../jobs/entities.ts';
import { queueWebhookEvent } from './events.ts';

export async function webhookJobFinished(tx: EntityManager, job: IJob): Promise<void> {
  if (!job.finishedAt || job.state === 'canceled') return;
  const succeeded = job.state === 'succeeded';
  await queueWebhookEvent(tx, {
    organizationId: job.organization.id,
    type: succeeded ? 'job.succeeded' : 'job.failed',
    eventKey: job.id,
    at: job.finishedAt,
    payload: {
      event: succeeded ? 'succeeded' : 'failed',
      organizationName: job.organization.name,
      taskId: job.task?.id ?? null,
      taskName: job.task?.name ?? null,
      items: job.entity ? [job.entity.name] : [],
      jobId: job.id,
      jobKind: job.kind,
      jobState: job.state,
      jobLabel: job.label,
      reason: job.error ?? null,
      linkPath: job.task ? `/tasks/${job.task.id}` : '/jobs',
    },
  });
}
