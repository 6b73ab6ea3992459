// Restore drills: one row per drill of a backup task — when it ran, what it restored into its
// scratch folder and checked, what it cost, and which sampled items failed (the latest row of a
// task is its "Last verified restorable").
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';
import { BackupTask } from '../tasks/entities.ts';

/** A sampled item that did not restore as the backup and the catalog say it should. */
export interface DrillFailure {
  /** The entity (user, folder, object) it belongs to. */
  entity: string;
  /** Its path or name as the catalog shows it. */
  item: string;
  reason: string;
}

export const RestoreDrill = defineEntity({
  name: 'RestoreDrill',
  tableName: 'restore_drills',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).deleteRule('cascade').index(),
    task: () => p.manyToOne(BackupTask).deleteRule('cascade'),
    /** The drill's job (no foreign key: the row outlives the job's). */
    jobId: p.string().length(36).nullable(),
    startedAt: p.datetime(),
    finishedAt: p.datetime(),
    passed: p.boolean(),
    /** Snapshots the sample was drawn from (each entity's latest). */
    snapshots: p.integer(),
    items: p.integer(),
    /** Content bytes restored into the scratch folder and checked. */
    bytes: p.double(),
    /** What it cost: bytes read from the storage location (no call to the service is made). */
    storageBytesRead: p.double(),
    durationMs: p.integer(),
    failures: p.json<DrillFailure[]>().default('[]'),
  },
  indexes: [{ properties: ['task', 'finishedAt'] }],
});
export type IRestoreDrill = InferEntity<typeof RestoreDrill>;

/**
 * An organization's restore drill policy: how often the drills of its tasks — and of the accounts
 * below it that set none — run, overriding the appliance's HOLDFAST_DRILL_INTERVAL_DAYS
 * (core/drills/drill-policy.ts). 0: no scheduled drills.
 */
export const DrillPolicy = defineEntity({
  name: 'DrillPolicy',
  tableName: 'drill_policies',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).unique().deleteRule('cascade'),
    intervalDays: p.integer(),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});
export type IDrillPolicy = InferEntity<typeof DrillPolicy>;
