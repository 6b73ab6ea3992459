// The system activity log: one row per finished backup / restore / export (compare, replicate)
// run and per notable event of a task (created, deleted, disconnected, an item archived …).
// Names are snapshots (task, item, service, sub-service), so a row still reads right after the
// task, its entities or its jobs are gone.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';

export const ACTIVITY_STATUSES = ['succeeded', 'partially_succeeded', 'failed', 'canceled', 'warning'] as const;
export type ActivityStatus = (typeof ACTIVITY_STATUSES)[number];

export const ActivityEvent = defineEntity({
  name: 'ActivityEvent',
  tableName: 'activity_events',
  properties: {
    id: p.integer().primary().autoincrement(),
    /** When the run ended or the event happened. */
    at: p.datetime(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    /** Backup, Restore, Export, … or a notable event (Task created, Item archived, …). */
    activity: p.string().length(100),
    /** The service plugin's kind (the filter) and its label when the row was written. */
    service: p.string().length(100).nullable(),
    serviceLabel: p.string().length(100).nullable(),
    /** The kind of item, as the plugin labels it ("Users", "Team folders"). */
    subService: p.string().length(100).nullable(),
    status: p.enum(ACTIVITY_STATUSES),
    /** The task's id and name when the row was written (no foreign key: rows outlive tasks). */
    taskId: p.string().length(36).nullable(),
    taskName: p.string().length(200).nullable(),
    /** What the row is about: the entity backed up, restored, archived … */
    item: p.string().length(500).nullable(),
    /** The job of a run (unique: a job ends once); no foreign key, the row outlives the job. */
    jobId: p.string().length(36).nullable().unique(),
    startedAt: p.datetime().nullable(),
    /** Milliseconds from the run's start to its end. */
    durationMs: p.integer().nullable(),
    /** Data size of the run's result (the snapshot's bytes for a backup). */
    bytes: p.double().nullable(),
    /** Number of items of the run's result. */
    items: p.integer().nullable(),
    summary: p.string().length(2000),
  },
  indexes: [
    { properties: ['organization', 'at'] },
    { properties: ['at'] },
    // The filters' choices (the activities, services and statuses rows hold) are read a value at
    // a time from these (core/event-log.ts), not by reading every row; a page filtered by one reads
    // its newest rows in order.
    { properties: ['activity', 'at'] },
    { properties: ['service', 'at'] },
    { properties: ['status', 'at'] },
  ],
});
export type IActivityEvent = InferEntity<typeof ActivityEvent>;
