// Writing and reading the system activity log. Runs are recorded from the job's row when the job
// reaches its final state (the queue calls recordJobActivity in the transaction that ends the
// job, so a finished run and its activity row exist together or not at all); notable events
// are added by the task services with addActivity, flushed with their own change. Reads are
// scoped to what the reader may reach, and the CSV export walks the very same query.

import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { type Principal, reachableFilter, reachesEveryOrganization } from '../access/principal.ts';
import { containsText } from '../db/text-search.ts';
import { allEventLogRows, type EventLogRow, eventLogPage, eventLogWhere, presentValues } from '../event-log.ts';
import type { IOrganization } from '../identity/entities.ts';
import { FINAL_JOB_STATES, type IJob, Job, type JobKind } from '../jobs/entities.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { ACTIVITY_STATUSES, ActivityEvent, type ActivityStatus, type IActivityEvent } from './entities.ts';

/**
 * Runs, by job kind. Maintenance jobs are housekeeping, not activity; their effects are events.
 * A replicate is a restore job (its row says Restore).
 */
const RUN_ACTIVITIES: Partial<Record<JobKind, Activity>> = {
  backup: 'Backup',
  restore: 'Restore',
  export: 'Export',
  compare: 'Compare',
};

export const ACTIVITIES = [
  'Backup',
  'Restore',
  'Export',
  'Compare',
  'Task created',
  'Task deleted',
  'Task restored',
  'Task purged',
  'Task disconnected',
  'Task reconnected',
  'Backup activated',
  'Backup paused',
  'Item archived',
  'Item unavailable',
  'Item available again',
  'Restore clean-up',
  'Notification sent',
  'Notification failed',
  'Smart alert',
  'Verification',
] as const;
export type Activity = (typeof ACTIVITIES)[number];

export const ACTIVITY_STATUS_LABELS: Record<ActivityStatus, string> = {
  succeeded: 'Succeeded',
  partially_succeeded: 'Partially succeeded',
  failed: 'Failed',
  canceled: 'Canceled',
  warning: 'Warning',
};

/** How many failed item names a summary lists. */
const FAILED_NAMES_SHOWN = 5;

function serviceLabels(kind: string | null | undefined, entityKind: string | null | undefined) {
  if (!kind) return { service: null, serviceLabel: null, subService: null };
  const plugin = servicePlugin(kind);
  const sub = entityKind ? (plugin?.entityKinds.find((k) => k.kind === entityKind)?.label ?? entityKind) : null;
  return { service: kind, serviceLabel: plugin?.label ?? kind, subService: sub };
}

export interface ActivityInput {
  organization: IOrganization | { id: string };
  activity: Activity;
  status: ActivityStatus;
  at: Date;
  task?: { id: string; name: string; service: string } | null;
  /** The entity the event is about. */
  entity?: { name: string; kind: string } | null;
  summary: string;
}

/** Adds a notable event to the EntityManager; it is written by the caller's next flush. */
export function addActivity(em: EntityManager, input: ActivityInput): void {
  em.create(ActivityEvent, activityRow(input));
}

/** Adds notable events and writes them now. */
export async function recordActivity(em: EntityManager, inputs: ActivityInput[]): Promise<void> {
  if (inputs.length === 0) return;
  await em.insertMany(ActivityEvent, inputs.map(activityRow) as never);
}

function activityRow(input: ActivityInput) {
  return {
    at: input.at,
    organization: input.organization.id,
    activity: input.activity,
    ...serviceLabels(input.task?.service, input.entity?.kind),
    status: input.status,
    taskId: input.task?.id ?? null,
    taskName: input.task?.name.slice(0, 200) ?? null,
    item: input.entity?.name.slice(0, 500) ?? null,
    jobId: null,
    startedAt: null,
    durationMs: null,
    bytes: null,
    items: null,
    summary: input.summary.slice(0, 2000),
  };
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The info dialog's one-paragraph account of a run, from the job's result, error and log. */
export function runSummary(job: IJob, subject: string): string {
  const result = job.result ?? {};
  const parts: string[] = [];
  // A run the plugin stopped on purpose (an API budget reached) says why, in its own words.
  const stoppedEarly = typeof result.stoppedEarly === 'string' ? result.stoppedEarly.trim() : '';
  const outcome =
    job.state === 'succeeded'
      ? 'completed'
      : job.state === 'partially_succeeded'
        ? stoppedEarly
          ? 'stopped early'
          : 'completed with failed items'
        : job.state === 'canceled'
          ? 'canceled'
          : 'failed';
  // A compare's items are the objects it compared; it says how many differ.
  if (typeof result.compared === 'number') {
    parts.push(`${plural(result.compared, 'object')} compared, ${Number(result.differing ?? 0)} differing`);
  } else if (typeof result.items === 'number') parts.push(plural(result.items, 'item'));
  const changes = (['added', 'updated', 'deleted'] as const)
    .filter((k) => typeof result[k] === 'number')
    .map((k) => `${result[k]} ${k}`);
  if (changes.length) parts.push(changes.join(', '));
  const failed = typeof result.failedItems === 'number' ? result.failedItems : 0;
  let text = `${subject}: ${outcome}${parts.length ? ` (${parts.join('; ')})` : ''}.`;
  if (stoppedEarly) text += ` ${/[.!?]$/.test(stoppedEarly) ? stoppedEarly : `${stoppedEarly}.`}`;
  if (failed > 0) {
    const names = Array.isArray(result.failedItemNames) ? (result.failedItemNames as unknown[]).map(String) : [];
    const shown = names.slice(0, FAILED_NAMES_SHOWN);
    const more = failed > shown.length ? ` and ${failed - shown.length} more` : '';
    text += ` ${plural(failed, 'item')} could not be read${shown.length ? `: ${shown.join(', ')}${more}` : ''}.`;
  }
  // A bare "Canceled." adds nothing to the outcome already said.
  if (job.error && job.state !== 'succeeded' && !/^canceled\.?$/i.test(job.error.trim())) {
    const error = job.error.trim();
    text += ` ${/[.!?]$/.test(error) ? error : `${error}.`}`;
  }
  return text.slice(0, 2000);
}

/**
 * Records the end of a run from its job row (read through `em`, which should be the transaction
 * that just ended the job). Jobs that are not runs, or not finished, are left out; a job already
 * recorded is not recorded twice (the job id is unique).
 */
/** `job` as it ended, with its task and entity loaded (the queue reads it once for every hook). */
export async function recordJobActivity(em: EntityManager, job: IJob): Promise<void> {
  if (!FINAL_JOB_STATES.includes(job.state) || !job.finishedAt) return;
  const activity = RUN_ACTIVITIES[job.kind];
  if (!activity) return;
  const task = job.task ?? null;
  const entity = job.entity ?? null;
  const item = entity?.name ?? (typeof job.params.item === 'string' ? job.params.item : null);
  const result = job.result ?? {};
  const status = job.state as ActivityStatus;
  const row = {
    at: job.finishedAt,
    organization: job.organization.id,
    activity,
    ...serviceLabels(task?.service, entity?.kind),
    status,
    taskId: task?.id ?? null,
    taskName: task?.name.slice(0, 200) ?? null,
    item: item?.slice(0, 500) ?? null,
    jobId: job.id,
    startedAt: job.startedAt ?? null,
    durationMs: job.startedAt ? Math.max(0, job.finishedAt.getTime() - job.startedAt.getTime()) : null,
    bytes: typeof result.bytes === 'number' ? result.bytes : null,
    items: typeof result.items === 'number' ? result.items : null,
    // A compare's label already names it ("Compare of <task>").
    summary: runSummary(job, job.kind === 'compare' ? job.label : `${activity} of ${item ?? job.label}`),
  };
  await (em as SqlEntityManager).createQueryBuilder(ActivityEvent).insert(row).onConflict('jobId').ignore().execute();
}

export interface ActivityFilters {
  from?: Date | undefined;
  /** Exclusive upper bound. */
  to?: Date | undefined;
  activity?: Activity | undefined;
  /** A service plugin's kind. */
  service?: string | undefined;
  status?: ActivityStatus | undefined;
  /** Substring of the task name. */
  task?: string | undefined;
  /** Substring of the item. */
  item?: string | undefined;
  /** One job's row (the Jobs page's "View Log"). */
  jobId?: string | undefined;
  /** An organization id inside the reader's reach. */
  organizationId?: string | undefined;
}

export const ACTIVITY_PAGE_SIZE = 50;

async function filterFor(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  filters: ActivityFilters,
): Promise<FilterQuery<IActivityEvent>> {
  const where = await eventLogWhere(em, principal, within, filters);
  if (filters.activity) where.activity = filters.activity;
  if (filters.service) where.service = filters.service;
  if (filters.status) where.status = filters.status;
  if (filters.jobId) where.jobId = filters.jobId;
  if (filters.task) Object.assign(where, containsText('task_name', filters.task));
  if (filters.item) Object.assign(where, containsText('item', filters.item));
  return where as FilterQuery<IActivityEvent>;
}

/** The activities, services and statuses the reader's rows hold (what the filters offer). */
export async function activityFacets(em: EntityManager, principal: Principal, within: IOrganization) {
  const where = await filterFor(em, principal, within, {});
  const columns = ['activity', 'service', 'status'] as const;
  return presentValues(em, ActivityEvent, where, columns, await reachesEveryOrganization(em, principal, within));
}

/** A System Activity row as its page, the API and the CSV export read it. */
export type ActivityRow = EventLogRow<IActivityEvent>;

export async function queryActivity(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  filters: ActivityFilters,
  page = 1,
  pageSize = ACTIVITY_PAGE_SIZE,
): Promise<{ rows: ActivityRow[]; total: number }> {
  return eventLogPage(em, ActivityEvent, await filterFor(em, principal, within, filters), page, pageSize);
}

/** One row inside the reader's reach, or null (another tenant's id reads as missing). */
export async function findActivity(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  id: number,
): Promise<IActivityEvent | null> {
  if (!Number.isSafeInteger(id) || id < 1) return null;
  return em.findOne(
    ActivityEvent,
    { id, organization: reachableFilter(principal, within) } as FilterQuery<IActivityEvent>,
    { populate: ['organization'] },
  );
}

/** The job's log lines, when the job still exists (same organization as the row). */
export async function jobLogOf(em: EntityManager, row: IActivityEvent): Promise<IJob['log'] | null> {
  if (!row.jobId) return null;
  const job = await em.findOne(Job, { id: row.jobId, organization: row.organization.id }, { fields: ['log'] });
  return job ? job.log : null;
}

/**
 * Every matching row, newest first, in batches for the CSV export: keyset paging on (at, id), so
 * each batch costs the same and rows written meanwhile neither shift nor repeat the rest.
 */
export async function* allActivityRows(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  filters: ActivityFilters,
): AsyncGenerator<IActivityEvent> {
  yield* allEventLogRows(em, ActivityEvent, await filterFor(em, principal, within, filters));
}

export const ACTIVITY_CSV_HEADER = [
  'Date and time',
  'Activity',
  'Service',
  'Sub service',
  'Status',
  'Task name',
  'Item',
  'Account',
  'Started',
  'Duration (s)',
  'Data size (bytes)',
  'Items',
  'Summary',
  'Job',
];

export function activityCsvRow(row: ActivityRow): string[] {
  return [
    row.at.toISOString(),
    row.activity,
    row.serviceLabel ?? '',
    row.subService ?? '',
    ACTIVITY_STATUS_LABELS[row.status],
    row.taskName ?? '',
    row.item ?? '',
    row.organization?.name ?? '',
    row.startedAt?.toISOString() ?? '',
    row.durationMs == null ? '' : String(Math.round(row.durationMs / 1000)),
    row.bytes == null ? '' : String(Number(row.bytes)),
    row.items == null ? '' : String(row.items),
    row.summary,
    row.jobId ?? '',
  ];
}

/** Deletes rows older than `days` days; returns how many. */
export async function pruneActivity(em: EntityManager, now: Date, days: number): Promise<number> {
  return em.nativeDelete(ActivityEvent, { at: { $lt: new Date(now.getTime() - days * 86_400_000) } });
}

export function isActivity(value: string): value is Activity {
  return (ACTIVITIES as readonly string[]).includes(value);
}

export function isActivityStatus(value: string): value is ActivityStatus {
  return (ACTIVITY_STATUSES as readonly string[]).includes(value);
}

/** "1.5 MB": data sizes in the page and the info dialog (decimal units, as the guides show). */
export function humanBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = -1;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** "2 min 5 s": run durations. */
export function humanDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
