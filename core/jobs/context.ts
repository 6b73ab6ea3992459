// What a job needs to run, whether in the main thread or in a worker thread (which builds its
// own from the configuration and the master key, with its own database connection).
import type { Config } from '../../config/schema.ts';
import type { Database } from '../db/database.ts';
import type { Logger } from '../logging.ts';
import type { ServicePlugin } from '../plugins/service.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import type { TaskStorage } from '../tasks/storage.ts';

export type JobSettings = Pick<
  Config,
  | 'jobConcurrency'
  | 'jobsPerOrganization'
  | 'jobsPerTask'
  | 'jobLeaseSeconds'
  | 'jobMaxAttempts'
  | 'jobRetryBaseSeconds'
  | 'schedulerIntervalSeconds'
  | 'activityRetentionDays'
  | 'drillIntervalDays'
  | 'drillSampleItems'
  | 'dataDir'
  | 'storageDir'
>;

export interface WorkContext {
  orm: Database;
  settings: JobSettings;
  credentials: CredentialCipher;
  storage: TaskStorage;
  services: (kind: string) => ServicePlugin | undefined;
  log: Logger;
  /** The time; tests move it to cross schedule slots, leases and grace periods. */
  now: () => Date;
}

/** How often a running job renews its lease and looks for a cancel request. */
export function heartbeatMs(settings: Pick<JobSettings, 'jobLeaseSeconds'>): number {
  return Math.min(1000, (settings.jobLeaseSeconds * 1000) / 3);
}
