// Durable jobs: every backup, restore, export (and later compare, replicate) and maintenance run
// is a row here. A worker claims a pending job with a conditional UPDATE that sets its lease; it
// renews the lease while it runs (heartbeat) and ends the job with another conditional UPDATE.
// A job whose lease lapsed belongs to a process that stopped: maintenance resumes or fails it.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';
import { BackupTask, TaskEntity } from '../tasks/entities.ts';

export const JOB_KINDS = ['backup', 'restore', 'export', 'compare', 'replicate', 'maintenance'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

export const JOB_STATES = ['pending', 'in_progress', 'succeeded', 'partially_succeeded', 'failed', 'canceled'] as const;
export type JobState = (typeof JOB_STATES)[number];
export const FINAL_JOB_STATES: readonly JobState[] = ['succeeded', 'partially_succeeded', 'failed', 'canceled'];

export const INITIATOR_KINDS = ['user', 'schedule', 'api_key', 'system'] as const;
export type InitiatorKind = (typeof INITIATOR_KINDS)[number];

export const JOB_LABEL_MAX = 50;

export interface JobLogEntry {
  at: string;
  level: 'info' | 'warn' | 'error';
  message: string;
}

export interface JobResult {
  snapshotId?: string;
  items?: number;
  bytes?: number;
  added?: number;
  updated?: number;
  deleted?: number;
  failedItems?: number;
  [name: string]: unknown;
}

export const Job = defineEntity({
  name: 'Job',
  tableName: 'jobs',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    kind: p.enum(JOB_KINDS),
    state: p.enum(JOB_STATES).default('pending'),
    /** Shown in lists; at most 50 characters. */
    label: p.string().length(JOB_LABEL_MAX),
    task: () => p.manyToOne(BackupTask).nullable().deleteRule('set null'),
    entity: () => p.manyToOne(TaskEntity).nullable().deleteRule('set null'),
    initiatorKind: p.enum(INITIATOR_KINDS),
    initiatorId: p.string().length(64).nullable(),
    initiatorLabel: p.string().length(320).nullable(),
    /** What the job works on, per kind (e.g. the maintenance operation). */
    params: p.json<Record<string, unknown>>().default('{}'),
    /** Set for jobs that must exist once (a schedule slot of an entity); unique. */
    dedupeKey: p.string().length(300).nullable().unique(),
    /** The schedule slot a scheduled job belongs to. */
    scheduledFor: p.datetime().nullable(),
    /** Not claimed before this (retry backoff). */
    runAfter: p.datetime(),
    attempts: p.integer().default(0),
    maxAttempts: p.integer().default(3),
    leaseOwner: p.string().length(100).nullable(),
    leaseExpiresAt: p.datetime().nullable(),
    heartbeatAt: p.datetime().nullable(),
    cancelRequestedAt: p.datetime().nullable(),
    progressItems: p.integer().default(0),
    progressBytes: p.double().default(0),
    progressStep: p.string().length(200).nullable(),
    result: p.json<JobResult>().nullable(),
    /** Why it failed or was canceled, in one sentence. */
    error: p.string().length(2000).nullable(),
    log: p.json<JobLogEntry[]>().default('[]'),
    createdAt: p.datetime().onCreate(() => new Date()),
    startedAt: p.datetime().nullable(),
    finishedAt: p.datetime().nullable(),
  },
  indexes: [
    { properties: ['state', 'runAfter'] },
    { properties: ['organization', 'createdAt'] },
    { properties: ['task', 'state'] },
    { properties: ['state', 'leaseExpiresAt'] },
  ],
});
export type IJob = InferEntity<typeof Job>;
