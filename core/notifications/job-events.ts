// What the end of a job means for notifications, registered as a job-finished hook by the
// composition root (core/job-kinds.ts), so it runs in the transaction that ends the job: a
// backup that failed or partially succeeded opens (or joins) its task's incident, a backup that
// succeeded may resolve it; a restore or export that ended is a recovery notification, with the
// export's download link. Generic over services: it reads the job, never a plugin.
import type { EntityManager } from '@mikro-orm/core';
import type { IJob } from '../jobs/entities.ts';
import { ExportResult } from '../recovery/entities.ts';
import type { NotificationPayload } from './entities.ts';
import { incidentCleared, incidentFailed } from './incidents.ts';
import { queueNotification } from './queue.ts';

export async function notifyJobFinished(tx: EntityManager, job: IJob): Promise<void> {
  if (!job.finishedAt) return;
  const at = job.finishedAt;
  const base: NotificationPayload = {
    event: 'finished',
    organizationName: job.organization.name,
    taskId: job.task?.id ?? null,
    taskName: job.task?.name ?? null,
    items: job.entity ? [job.entity.name] : [],
    jobId: job.id,
    jobKind: job.kind,
    jobState: job.state,
    jobLabel: job.label,
    reason: job.error ?? null,
  };
  if (job.kind === 'backup' && job.task && job.entity) {
    const event = {
      organizationId: job.organization.id,
      subject: `backup:${job.task.id}`,
      member: job.entity.id,
      at,
      payload: { ...base, linkPath: `/tasks/${job.task.id}`, linkLabel: 'Open the task' },
    };
    if (job.state === 'failed' || job.state === 'partially_succeeded') {
      // A task that lost its credentials has its own incident (mailed by the connection change).
      if (job.task.connectionState === 'disconnected') return;
      await incidentFailed(tx, { ...event, payload: { ...event.payload, event: 'failed' } });
    } else if (job.state === 'succeeded') {
      await incidentCleared(tx, { ...event, payload: { ...event.payload, event: 'resolved' } });
    }
    return;
  }
  if ((job.kind === 'restore' || job.kind === 'export') && job.state !== 'canceled') {
    const download = job.kind === 'export' ? await tx.findOne(ExportResult, { job: job.id }) : null;
    await queueNotification(tx, {
      organizationId: job.organization.id,
      type: 'recovery',
      eventKey: `job:${job.id}:finished`,
      payload: {
        ...base,
        ...(download
          ? {
              linkPath: `/jobs/${job.id}/download`,
              linkLabel: `Download ${download.fileName} (until ${download.expiresAt.toISOString().slice(0, 16).replace('T', ' ')} UTC)`,
            }
          : { linkPath: '/jobs', linkLabel: 'Open the Jobs page' }),
      },
      at,
    });
  }
}
