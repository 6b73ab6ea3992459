// Hourly housekeeping of the appliance: end expired sessions, delete export results whose
// download link expired, delete compare results past their keeping time and restore jobs' leftover
// work folders, write the day's usage sample of every organization (usage history), end the trials that are over
// and draft last month's invoices (core/billing/), delete lapsed sign-in throttle counters and expired SAML assertion records, purge accounts whose removal grace period is over, delete System Activity
// rows past their retention. Each task runs on its own EntityManager and its own error handling, so
// one failing task does not stop the others; the clock is passed in so tests can cross the
// grace period without waiting.
import { pruneActivity } from './activity/activity-service.ts';
import { recordAudit } from './audit/audit-service.ts';
import { previousMonth } from './billing/billable-days.ts';
import { draftMissingInvoices } from './billing/invoices.ts';
import { expireTrials } from './billing/trials.ts';
import { deleteExpiredCompares } from './compare/expiry.ts';
import type { Database } from './db/database.ts';
import { endExpiredSessions } from './identity/session-service.ts';
import { pruneSamlAssertionUses } from './identity/sso/saml/saml-replay.ts';
import { pruneThrottles } from './identity/throttle.ts';
import type { Logger } from './logging.ts';
import { deleteExpiredExports } from './recovery/downloads.ts';
import { deleteLeftoverPlanWorkDirs, deleteLeftoverWorkDirs } from './recovery/work-dirs.ts';
import { REMOVAL_GRACE_DAYS } from './tenancy/organizations.ts';
import { type PurgedOrganization, purgeDueOrganizations } from './tenancy/removal.ts';
import { sampleUsage } from './tenancy/usage-history.ts';

export const MAINTENANCE_INTERVAL_MS = 3_600_000;

export interface MaintenanceReport {
  sessionsEnded: number;
  exportsDeleted: number;
  comparesDeleted: number;
  /** Work folders of restore jobs that ended without removing them (a killed process). */
  restoreFoldersDeleted: number;
  purged: PurgedOrganization[];
  activityDeleted: number;
  throttlesDeleted: number;
  /** Records of used SAML assertions past their expiry (replay protection needs them no longer). */
  samlAssertionsDeleted: number;
  /** Organizations whose usage sample of the day was written (the monthly usage history). */
  usageSampled: number;
  /** Trials that ended in this pass (their backups held, core/billing/trials.ts). */
  trialsExpired: number;
  /** Draft invoices made for the month that ended (core/billing/invoices.ts). */
  invoicesDrafted: number;
}

export interface MaintenanceSettings {
  /** System Activity rows older than this are deleted (HOLDFAST_ACTIVITY_RETENTION_DAYS). */
  activityRetentionDays: number;
  /** The data folder, where compare results are kept (core/compare/expiry.ts); without it they are left alone. */
  dataDir?: string;
}

export const DEFAULT_MAINTENANCE_SETTINGS: MaintenanceSettings = { activityRetentionDays: 365 };

export async function runMaintenance(
  orm: Database,
  log: Logger,
  now: Date,
  settings: MaintenanceSettings = DEFAULT_MAINTENANCE_SETTINGS,
): Promise<MaintenanceReport> {
  const report: MaintenanceReport = {
    sessionsEnded: 0,
    exportsDeleted: 0,
    comparesDeleted: 0,
    restoreFoldersDeleted: 0,
    purged: [],
    activityDeleted: 0,
    throttlesDeleted: 0,
    samlAssertionsDeleted: 0,
    usageSampled: 0,
    trialsExpired: 0,
    invoicesDrafted: 0,
  };
  try {
    report.sessionsEnded = await endExpiredSessions(orm.em.fork(), now);
  } catch (err) {
    log.warn({ err }, 'session cleanup failed');
  }
  try {
    report.exportsDeleted = await deleteExpiredExports(orm.em.fork(), now);
  } catch (err) {
    log.warn({ err }, 'deleting expired export results failed');
  }
  if (settings.dataDir) {
    try {
      report.comparesDeleted = await deleteExpiredCompares(settings.dataDir, now);
    } catch (err) {
      log.warn({ err }, 'deleting old compare results failed');
    }
    try {
      report.restoreFoldersDeleted =
        (await deleteLeftoverWorkDirs(orm.em.fork(), settings.dataDir)) +
        (await deleteLeftoverPlanWorkDirs(settings.dataDir, now));
    } catch (err) {
      log.warn({ err }, 'deleting restore jobs’ leftover work folders failed');
    }
  }
  try {
    report.throttlesDeleted = await pruneThrottles(orm.em, now);
  } catch (err) {
    log.warn({ err }, 'sign-in throttle cleanup failed');
  }
  try {
    report.samlAssertionsDeleted = await pruneSamlAssertionUses(orm.em, now);
  } catch (err) {
    log.warn({ err }, 'SAML assertion record cleanup failed');
  }
  try {
    report.activityDeleted = await pruneActivity(orm.em.fork(), now, settings.activityRetentionDays);
    if (report.activityDeleted) log.info({ rows: report.activityDeleted }, 'old system activity deleted');
  } catch (err) {
    log.warn({ err }, 'system activity cleanup failed');
  }
  try {
    report.usageSampled = await sampleUsage(orm.em.fork(), now);
  } catch (err) {
    log.warn({ err }, 'sampling the usage history failed');
  }
  try {
    report.trialsExpired = await expireTrials(orm.em.fork(), now);
  } catch (err) {
    log.warn({ err }, 'ending the trials that are over failed');
  }
  try {
    report.invoicesDrafted = await draftMissingInvoices(orm.em.fork(), previousMonth(now), now);
  } catch (err) {
    log.warn({ err }, "drafting last month's invoices failed");
  }
  try {
    report.purged = await purgeDueOrganizations(orm.em.fork(), now);
  } catch (err) {
    log.error({ err }, 'purge of removed accounts failed; it is retried at the next maintenance run');
  }
  for (const org of report.purged) {
    log.info({ organizationId: org.id }, 'removed account purged');
    if (!org.parentId) continue;
    await recordAudit(orm.em, {
      organization: { id: org.parentId } as never,
      activity: 'Account purged',
      account: org.name,
      description: `Deleted ${org.name}, everything under it and its users: the ${REMOVAL_GRACE_DAYS}-day removal grace period ended`,
      actor: { label: 'Holdfast maintenance' },
    }).catch((err) => log.warn({ err }, 'could not record the purge in the audit log'));
  }
  return report;
}

export interface MaintenanceTimer {
  stop(): void;
  /** The run in progress (or the last one), for tests and shutdown. */
  current(): Promise<MaintenanceReport> | undefined;
}

/** Runs maintenance every `intervalMs`; unref'd so it never holds the process open. */
export function startMaintenanceTimer(
  orm: Database,
  log: Logger,
  now: () => Date,
  intervalMs = MAINTENANCE_INTERVAL_MS,
  settings: MaintenanceSettings = DEFAULT_MAINTENANCE_SETTINGS,
): MaintenanceTimer {
  let running: Promise<MaintenanceReport> | undefined;
  let last: Promise<MaintenanceReport> | undefined;
  const timer = setInterval(() => {
    // A slow run (a large purge) is never started twice at once.
    if (running) return;
    const run = runMaintenance(orm, log, now(), settings);
    running = run;
    last = run;
    void run.then(() => {
      running = undefined;
    });
  }, intervalMs);
  timer.unref();
  return {
    stop: () => clearInterval(timer),
    current: () => running ?? last,
  };
}
