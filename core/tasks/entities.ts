// Backup tasks and the entities they back up. A task is one connection to one service account
// (its credentials sealed with the credential cipher) plus its schedule and retention settings;
// its entities are what the service plugin discovered there (users, team folders, objects), each
// with its own status, last-run counters and the plugin's opaque state from its last snapshot.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import type { RetentionPolicy } from '../../storage/retention.ts';
import { Organization } from '../identity/entities.ts';

export const FREQUENCIES = ['daily', 'every_3_days', 'weekly', 'three_times_daily'] as const;
export type Frequency = (typeof FREQUENCIES)[number];

export const TASK_STATUSES = ['active', 'paused'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export const CONNECTION_STATES = ['connected', 'disconnected'] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

/**
 * not_active: discovered, not backed up; scheduled: active, waiting for its next run;
 * in_process: a backup runs; success / partial / failed: the last run's result (still active);
 * paused: kept, not backed up; archived: gone from the source, kept for the task's retention;
 * unavailable: listed by the service but not readable now (a suspended member), not backed up and
 * not a failure; it returns to the status it had (`statusBeforeUnavailable`) when readable again.
 */
export const ENTITY_STATUSES = [
  'not_active',
  'scheduled',
  'in_process',
  'success',
  'partial',
  'failed',
  'paused',
  'archived',
  'unavailable',
] as const;
export type EntityStatus = (typeof ENTITY_STATUSES)[number];

/** Statuses of entities the scheduler backs up. */
export const ACTIVE_ENTITY_STATUSES: readonly EntityStatus[] = [
  'scheduled',
  'in_process',
  'success',
  'partial',
  'failed',
];

export const BackupTask = defineEntity({
  name: 'BackupTask',
  tableName: 'backup_tasks',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).index().deleteRule('cascade'),
    /** The service plugin's kind. */
    service: p.string().length(100),
    name: p.string().length(200),
    /** The plugin's connection settings as JSON, sealed with the credential cipher. */
    connection: p.text().hidden(),
    connectionState: p.enum(CONNECTION_STATES).default('connected'),
    /** Why the last check failed, in the plugin's words (no secrets). */
    connectionProblem: p.string().length(1000).nullable(),
    frequency: p.enum(FREQUENCIES).default('daily'),
    /** Hour of day, UTC, 0–23. */
    backupHour: p.integer().default(3),
    apiUsageLimitPercent: p.integer().nullable(),
    indexForSearch: p.boolean().default(true),
    autoActivate: p.boolean().default(true),
    /** Days archived entities' backups are kept; null keeps them indefinitely. */
    archivedRetentionDays: p.integer().nullable(),
    retention: p.json<RetentionPolicy>().default('{"kind":"all"}'),
    /** Where the snapshots go; set by the first snapshot and fixed from then on. */
    storageLocation: p.string().length(200).nullable(),
    status: p.enum(TASK_STATUSES).default('active'),
    /** Deleted tasks are hidden at once and purged (with their snapshots) after the grace period. */
    deletedAt: p.datetime().nullable(),
    purgeAfter: p.datetime().nullable().index(),
    /** The last schedule slot the scheduler enqueued (dedupes ticks and catches up after a stop). */
    lastScheduledFor: p.datetime().nullable(),
    discoveredAt: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IBackupTask = InferEntity<typeof BackupTask>;

export const TaskEntity = defineEntity({
  name: 'TaskEntity',
  tableName: 'task_entities',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    task: () => p.manyToOne(BackupTask).deleteRule('cascade'),
    externalId: p.string().length(500),
    name: p.string().length(500),
    kind: p.string().length(100),
    status: p.enum(ENTITY_STATUSES).default('not_active'),
    lastRunAt: p.datetime().nullable(),
    lastAdded: p.integer().default(0),
    lastUpdated: p.integer().default(0),
    lastDeleted: p.integer().default(0),
    lastItems: p.integer().default(0),
    lastBytes: p.double().default(0),
    /** Bytes its runs wrote to storage, after dedup and compression (not lowered by pruning). */
    storedBytes: p.double().default(0),
    lastSnapshotId: p.string().length(64).nullable(),
    /** Why the service cannot be read for this entity now (its words), while Unavailable. */
    unavailableReason: p.string().length(1000).nullable(),
    /** The status to return to when the entity is available again. */
    statusBeforeUnavailable: p.enum(ENTITY_STATUSES).nullable(),
    /** What the last failed run said (no secrets). */
    lastError: p.string().length(1000).nullable(),
    archivedAt: p.datetime().nullable(),
    deletedAt: p.datetime().nullable(),
    purgeAfter: p.datetime().nullable(),
    /** The plugin's opaque state from the last committed snapshot. */
    pluginState: p.json<unknown>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  uniques: [{ properties: ['task', 'externalId'] }],
  indexes: [{ properties: ['task', 'status'] }],
});
export type ITaskEntity = InferEntity<typeof TaskEntity>;

/**
 * An undo step a restore registered at its plugin before changing something at the service that
 * must not outlive the restore (automation switched off, users activated): kept until the plugin
 * has undone it, so a failure, a cancel or a killed appliance cannot leave the change behind.
 * See tasks/recovery-steps.ts.
 */
export const PluginRecoveryStep = defineEntity({
  name: 'PluginRecoveryStep',
  tableName: 'plugin_recovery_steps',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    task: () => p.manyToOne(BackupTask).deleteRule('cascade'),
    /** The job that registered it (no foreign key: the step outlives the job's row). */
    jobId: p.string().length(36).nullable().index(),
    pluginKind: p.string().length(100),
    /** What the plugin needs to undo its change (JSON, no secrets). */
    payload: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    /** Tries of the plugin's `recover()` that failed, and the last one's reason. */
    attempts: p.integer().default(0),
    lastAttemptAt: p.datetime().nullable(),
    lastError: p.string().length(1000).nullable(),
  },
});
export type IPluginRecoveryStep = InferEntity<typeof PluginRecoveryStep>;
