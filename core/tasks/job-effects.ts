// What the end of a backup job means for its entity's status. The backup job itself records a
// success or partial run; this covers the ends decided outside it (failure, cancel, a lapsed
// lease, a retry), and only moves an entity out of "In Process" — a paused or archived entity
// keeps its status.
import type { EntityManager } from '@mikro-orm/core';
import type { IJob, JobState } from '../jobs/entities.ts';
import { TaskEntity } from './entities.ts';

export async function settleEntityAfterJob(
  em: EntityManager,
  job: Pick<IJob, 'kind' | 'entity'>,
  state: JobState,
  error: string | null,
  now: Date,
): Promise<void> {
  if (job.kind !== 'backup' || !job.entity) return;
  const id = job.entity.id;
  if (state === 'failed') {
    await em.nativeUpdate(
      TaskEntity,
      { id, status: 'in_process' },
      { status: 'failed', lastError: error?.slice(0, 1000) ?? 'The last backup failed.', lastRunAt: now },
    );
  } else if (state === 'pending' || state === 'canceled') {
    await em.nativeUpdate(TaskEntity, { id, status: 'in_process' }, { status: 'scheduled' });
  }
}
