// Verification and repairs of a storage location as background jobs (maintenance jobs of the
// location's owner, params.operation 'verify' | 'rebuild_index' | 'repair_snapshots', params.locationId),
// started from the location's Verification page or the API and run by the job workers, never
// inside a web request. A repair runs under the repository's exclusive lock (backups wait), on
// every repository kept at the location, and is followed by a verification, which sets the
// snapshots' damage marks to what is still lost (core/catalog/snapshot-damage.ts).
import type { EntityManager } from '@mikro-orm/core';
import { withLock } from '../../storage/locks.ts';
import { rebuildIndex } from '../../storage/rebuild-index.ts';
import { repairSnapshots } from '../../storage/repair.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { reindexRepository } from '../catalog/indexer.ts';
import { AppError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { type IJob, Job } from '../jobs/entities.ts';
import { JobNotApplicableError, type JobOutcome, type JobRun } from '../jobs/handler.ts';
import { enqueueJob, type Initiator, jobLabel } from '../jobs/queue.ts';
import { taskItemFields } from '../tasks/item-fields.ts';
import { type IStorageLocation, StorageLocation } from './entities.ts';
import { repositoriesAt, verifyLocation } from './verification.ts';

export const LOCATION_OPERATIONS = ['verify', 'rebuild_index', 'repair_snapshots'] as const;
export type LocationOperation = (typeof LOCATION_OPERATIONS)[number];

export const OPERATION_LABELS: Record<LocationOperation, string> = {
  verify: 'Verification',
  rebuild_index: 'Index rebuild',
  repair_snapshots: 'Snapshot repair',
};

export const isLocationOperation = (op: unknown): op is LocationOperation =>
  (LOCATION_OPERATIONS as readonly unknown[]).includes(op);

/** The location's verification and repair jobs, newest first. */
export async function locationJobs(em: EntityManager, location: IStorageLocation, limit = 5): Promise<IJob[]> {
  const jobs = await em.find(
    Job,
    { organization: (location.organization as IOrganization).id, kind: 'maintenance', task: null },
    { orderBy: { createdAt: 'desc' }, limit: 200 },
  );
  return jobs
    .filter((j) => j.params.locationId === location.id && isLocationOperation(j.params.operation))
    .slice(0, limit);
}

/** Queues a verification or repair of the location; one at a time per location (409 otherwise). */
export async function startLocationJob(
  em: EntityManager,
  location: IStorageLocation,
  operation: LocationOperation,
  initiator: Initiator,
  now: Date,
): Promise<string> {
  const active = (await locationJobs(em, location, 200)).find(
    (j) => j.state === 'pending' || j.state === 'in_progress',
  );
  if (active)
    throw new AppError(
      'location_job_running',
      `A ${OPERATION_LABELS[active.params.operation as LocationOperation].toLowerCase()} of this storage location is already running.`,
      409,
    );
  return enqueueJob(
    em,
    {
      organizationId: (location.organization as IOrganization).id,
      kind: 'maintenance',
      label: jobLabel(`${OPERATION_LABELS[operation]} of ${location.name}`),
      initiator,
      params: { operation, locationId: location.id },
      maxAttempts: 1,
    },
    now,
  );
}

/** Starts a location job for a person or API key of `org` (the owner) and records it in the audit log. */
export async function startLocationJobAudited(
  em: EntityManager,
  org: IOrganization,
  location: IStorageLocation,
  operation: LocationOperation,
  initiator: Initiator,
  actor: AuditActor,
  now: Date,
): Promise<string> {
  const jobId = await startLocationJob(em, location, operation, initiator, now);
  await recordAudit(em, {
    organization: org,
    activity: operation === 'verify' ? 'Verification started' : 'Repair started',
    account: org.name,
    description: `${OPERATION_LABELS[operation]} of the storage location ${location.name} (job ${jobId})`,
    actor,
  });
  return jobId;
}

/** Runs a location job (registered in core/job-kinds.ts). */
export async function runLocationJob(run: JobRun): Promise<JobOutcome> {
  const { ctx, em, job } = run;
  const operation = job.params.operation as LocationOperation;
  const location = await em.findOne(
    StorageLocation,
    { id: job.params.locationId as string },
    { populate: ['organization'] },
  );
  if (!location) throw new JobNotApplicableError('The storage location was removed.');
  const deps = { storage: ctx.storage, log: run.log };
  const repairs: string[] = [];
  if (operation !== 'verify') {
    for (const [org, name] of await repositoriesAt(em, location)) {
      run.signal.throwIfAborted();
      run.progress.step = `${OPERATION_LABELS[operation].toLowerCase()}: ${org.name}`.slice(0, 200);
      const opened = await ctx.storage.open({
        id: `${operation}:${location.id}`,
        organizationId: org.id,
        storageLocation: name,
      });
      try {
        const { repo } = opened;
        if (operation === 'rebuild_index') {
          const report = await withLock(repo.sink, 'exclusive', { purpose: 'rebuild-index' }, () => rebuildIndex(repo));
          repairs.push(
            `${org.name}: index rebuilt from ${report.packs} pack(s), ${report.blobs} blob(s)` +
              (report.problems.length ? `; ${report.problems.length} pack(s) could not be indexed` : ''),
          );
        } else {
          const report = await withLock(
            repo.sink,
            'exclusive',
            { purpose: 'repair snapshots' },
            // Every content blob read back: a flipped byte is damage an index still names.
            () => repairSnapshots(repo, { forget: true, readData: true }),
            repo,
          );
          // The replaced snapshots leave the catalog and their copies enter it.
          if (report.rewritten.length || report.unreadable.length)
            await reindexRepository(em.fork(), repo, opened.description, taskItemFields(em.fork()));
          repairs.push(
            `${org.name}: ${report.checked} snapshot(s) checked, ${report.rewritten.length} replaced by copies without ` +
              `${report.rewritten.reduce((n, r) => n + r.droppedItems, 0)} lost item(s), ${report.unreadable.length} unreadable removed`,
          );
        }
      } finally {
        await opened.close();
      }
    }
  }
  run.progress.step = 'verifying';
  const result = await verifyLocation(em, deps, location, ctx.now());
  const lostItems = result.lost.reduce((n, l) => n + l.items.length + l.ranges.length, 0);
  return {
    state: 'succeeded',
    result: {
      operation,
      ok: result.ok,
      packsRead: result.packsRead,
      packs: result.packs,
      problems: result.problems.length,
      lostItems,
      repairs,
    },
    message: [
      ...repairs,
      `verification: ${result.ok ? 'no damage' : `${result.problems.length} problem(s), ${lostItems} item(s) lost`}`,
    ]
      .join('; ')
      .slice(0, 900),
  };
}
