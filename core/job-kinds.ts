// The composition root of jobs: which function runs each job kind, and what the end of a job
// means for a backup task's entity, for notifications and for webhooks. Registered here, at start-up (appliance.ts) and in every job
// worker (job-worker.ts), so the queue and runner in jobs/ know neither tasks nor recovery.
import { runCompareJob } from './compare/compare-job.ts';
import { runDrillJob } from './drills/drill-job.ts';
import { onJobEnd, onJobFinished, registerJobHandler } from './jobs/handler.ts';
import { notifyJobFinished } from './notifications/job-events.ts';
import { runExportJob } from './recovery/export-job.ts';
import { runRestoreJob } from './recovery/restore-job.ts';
import { isLocationOperation, runLocationJob } from './storage-locations/location-jobs.ts';
import { runBackupJob } from './tasks/backup-job.ts';
import { settleEntityAfterJob } from './tasks/job-effects.ts';
import { runMaintenanceJob } from './tasks/maintenance-job.ts';
import { webhookJobFinished } from './webhooks/job-events.ts';

export function registerJobKinds(): void {
  registerJobHandler('backup', runBackupJob);
  // Restore drills are maintenance jobs of their task (operation "drill"): no job kind of their own.
  // So are a storage location's verification and repairs (operation verify, rebuild_index, repair_snapshots).
  registerJobHandler('maintenance', (run) =>
    run.job.params.operation === 'drill'
      ? runDrillJob(run)
      : isLocationOperation(run.job.params.operation)
        ? runLocationJob(run)
        : runMaintenanceJob(run),
  );
  registerJobHandler('restore', runRestoreJob);
  registerJobHandler('export', runExportJob);
  registerJobHandler('compare', runCompareJob);
  onJobEnd(settleEntityAfterJob);
  onJobFinished(notifyJobFinished);
  onJobFinished(webhookJobFinished);
}
