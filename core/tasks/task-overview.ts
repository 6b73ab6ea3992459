// What the homepage, the task page and the API show about tasks, read from the database: entity
// counts by status, last and next run, a page of entities, summaries per kind of entity
// (sub-service), and the items backed up per day (from finished backup jobs). No HTTP here.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { dateFromSql } from '../db/run-sql.ts';
import { containsText } from '../db/text-search.ts';
import type { IOrganization } from '../identity/entities.ts';
import { type IJob, Job, type JobState } from '../jobs/entities.ts';
import { enqueueJob, type Initiator } from '../jobs/queue.ts';
import type { ServicePlugin } from '../plugins/service.ts';
import { DAY_MS, nextRunAfter, runHours, weekdayOf } from '../scheduler/schedule.ts';
import { resolveLocation } from '../storage-locations/assignment.ts';
import { StorageLocation } from '../storage-locations/entities.ts';
import { BUILTIN_LOCATION_ID, BUILTIN_LOCATION_NAME } from '../storage-locations/locations.ts';
import {
  ACTIVE_ENTITY_STATUSES,
  ENTITY_STATUSES,
  type EntityStatus,
  type Frequency,
  type IBackupTask,
  type ITaskEntity,
  TaskEntity,
} from './entities.ts';
import { FREQUENCY_LABELS } from './settings.ts';
import { DEFAULT_LOCATION } from './storage.ts';

export const ENTITY_STATUS_LABELS: Record<EntityStatus, string> = {
  not_active: 'Not active',
  scheduled: 'Scheduled',
  in_process: 'In process',
  success: 'Success',
  partial: 'Partial',
  failed: 'Failed',
  paused: 'Paused',
  archived: 'Archived',
  unavailable: 'Unavailable',
};

export type StatusCounts = Record<EntityStatus, number>;

function emptyCounts(): StatusCounts {
  return Object.fromEntries(ENTITY_STATUSES.map((s) => [s, 0])) as StatusCounts;
}

/** Entities (not deleted) per status, for each task. */
export async function entityCountsByTask(
  em: EntityManager,
  taskIds: readonly string[],
): Promise<Map<string, StatusCounts>> {
  const out = new Map<string, StatusCounts>(taskIds.map((id) => [id, emptyCounts()]));
  if (taskIds.length === 0) return out;
  const rows = (await (em as SqlEntityManager)
    .createQueryBuilder(TaskEntity, 'e')
    .select(['e.task', 'e.status', raw('count(*) as n')])
    .where({ task: { $in: [...taskIds] }, deletedAt: null })
    .groupBy(['e.task', 'e.status'])
    .execute('all', false)) as { task_id: string; status: EntityStatus; n: number | string }[];
  for (const row of rows) {
    const counts = out.get(row.task_id);
    if (counts) counts[row.status] = Number(row.n);
  }
  return out;
}

/** When an entity of each task was last backed up (one query for a list of tasks). */
export async function lastBackupsByTask(
  em: EntityManager,
  taskIds: readonly string[],
): Promise<Map<string, Date | null>> {
  const out = new Map<string, Date | null>(taskIds.map((id) => [id, null]));
  if (taskIds.length === 0) return out;
  const rows = (await (em as SqlEntityManager)
    .createQueryBuilder(TaskEntity, 'e')
    .select(['e.task', raw('max(e.last_run_at) as last')])
    .where({ task: { $in: [...taskIds] }, deletedAt: null, lastRunAt: { $ne: null } })
    .groupBy('e.task')
    .execute('all', false)) as { task_id: string; last: number | string | null }[];
  for (const row of rows) {
    const last = dateFromSql(row.last);
    if (last) out.set(row.task_id, last);
  }
  return out;
}

/**
 * The homepage's "Last backup size" per task (seed 002): the logical bytes of the last snapshot
 * of each of its entities (not deleted), summed; 0 for a task with none.
 */
export async function lastBackupBytesByTask(
  em: EntityManager,
  taskIds: readonly string[],
): Promise<Map<string, number>> {
  const out = new Map<string, number>(taskIds.map((id) => [id, 0]));
  if (taskIds.length === 0) return out;
  const rows = (await (em as SqlEntityManager)
    .createQueryBuilder(TaskEntity, 'e')
    .select(['e.task', raw('sum(e.last_bytes) as bytes')])
    .where({ task: { $in: [...taskIds] }, deletedAt: null })
    .groupBy(['e.task'])
    .execute('all', false)) as { task_id: string; bytes: number | string | null }[];
  for (const row of rows) out.set(row.task_id, Number(row.bytes ?? 0));
  return out;
}

/** When an entity of the task was last backed up. */
export async function lastBackupOf(em: EntityManager, task: IBackupTask): Promise<Date | null> {
  const latest = await em.findOne(
    TaskEntity,
    { task, deletedAt: null, lastRunAt: { $ne: null } },
    { orderBy: { lastRunAt: 'desc' }, fields: ['lastRunAt'] },
  );
  return latest?.lastRunAt ?? null;
}

/** "Weekly on Tuesdays at 02:00 UTC": the schedule in words, its hours in order. */
export function scheduleText(task: Pick<IBackupTask, 'frequency' | 'backupHour' | 'createdAt'>): string {
  const hours = runHours({ frequency: task.frequency, backupHour: task.backupHour }).map(
    (h) => `${String(h).padStart(2, '0')}:00`,
  );
  const at = hours.length > 1 ? `${hours.slice(0, -1).join(', ')} and ${hours.at(-1)}` : hours[0];
  const label = FREQUENCY_LABELS[task.frequency as Frequency];
  // A weekly task runs on the weekday it was created (UTC).
  const on = task.frequency === 'weekly' ? ` on ${weekdayOf(task.createdAt)}s` : '';
  return `${label}${on} at ${at} UTC`;
}

/** The scheduler's next slot for the task (schedule functions of core/scheduler), or null when paused. */
export function nextRunOf(task: IBackupTask, now: Date): Date | null {
  if (task.status !== 'active' || task.deletedAt) return null;
  const after = task.lastScheduledFor && task.lastScheduledFor > now ? task.lastScheduledFor : now;
  return nextRunAfter({ frequency: task.frequency, backupHour: task.backupHour, anchor: task.createdAt }, after);
}

/**
 * Where the task's snapshots go: fixed once its first snapshot recorded the location; before
 * that, where the organization's backups go now (its choice or the inherited default).
 */
export async function storageLocationOf(
  em: EntityManager,
  task: IBackupTask,
): Promise<{ name: string; fixed: boolean }> {
  if (task.storageLocation) {
    if (task.storageLocation === DEFAULT_LOCATION || task.storageLocation === BUILTIN_LOCATION_ID) {
      return { name: BUILTIN_LOCATION_NAME, fixed: true };
    }
    const location = await em.findOne(StorageLocation, { id: task.storageLocation }, { fields: ['name'] });
    return { name: location?.name ?? 'A storage location no longer on this appliance', fixed: true };
  }
  const resolved = await resolveLocation(em, task.organization as IOrganization);
  return { name: resolved.location.name, fixed: false };
}

export interface EntityQuery {
  search?: string | undefined;
  status?: EntityStatus | undefined;
  kind?: string | undefined;
  page: number;
  pageSize: number;
}

/** One page of the task's entities (not deleted), by name. */
export async function entityPage(
  em: EntityManager,
  task: IBackupTask,
  query: EntityQuery,
): Promise<{ entities: ITaskEntity[]; total: number }> {
  const where: Record<string, unknown> = { task, deletedAt: null };
  if (query.status) where.status = query.status;
  if (query.kind) where.kind = query.kind;
  if (query.search) Object.assign(where, containsText('name', query.search));
  const [entities, total] = await em.findAndCount(TaskEntity, where as FilterQuery<ITaskEntity>, {
    orderBy: { name: 'asc', id: 'asc' },
    limit: query.pageSize,
    offset: (query.page - 1) * query.pageSize,
  });
  return { entities, total };
}

/** Entities deleted from the task that can still be restored (their grace period lasts). */
export async function deletedEntitiesOf(em: EntityManager, task: IBackupTask, now: Date): Promise<ITaskEntity[]> {
  return em.find(
    TaskEntity,
    { task, deletedAt: { $ne: null }, purgeAfter: { $gt: now } },
    { orderBy: { name: 'asc' }, limit: 500 },
  );
}

/** Entities of the task that have a backup waiting in the queue (shown as queued, refreshed live). */
export async function queuedEntityIds(em: EntityManager, task: IBackupTask): Promise<Set<string>> {
  const jobs = await em.find(
    Job,
    { task, kind: 'backup', state: { $in: ['pending', 'in_progress'] }, entity: { $ne: null } },
    { fields: ['entity'] },
  );
  return new Set(jobs.map((j) => (j.entity as { id: string }).id));
}

export interface KindSummary {
  kind: string;
  label: string;
  total: number;
  active: number;
  items: number;
  bytes: number;
  lastRunAt: Date | null;
  success: number;
  partial: number;
  failed: number;
}

/** One tile per kind of entity the plugin declares (and any other kind found). */
export async function kindSummaries(
  em: EntityManager,
  task: IBackupTask,
  plugin: ServicePlugin | undefined,
): Promise<KindSummary[]> {
  const entities = await em.find(
    TaskEntity,
    { task, deletedAt: null },
    { fields: ['kind', 'status', 'lastRunAt', 'lastItems', 'lastBytes'] },
  );
  const labels = new Map(plugin?.entityKinds.map((k) => [k.kind, k.label]) ?? []);
  const tiles = new Map<string, KindSummary>();
  const tile = (kind: string) => {
    let t = tiles.get(kind);
    if (!t) {
      t = {
        kind,
        label: labels.get(kind) ?? kind,
        total: 0,
        active: 0,
        items: 0,
        bytes: 0,
        lastRunAt: null,
        success: 0,
        partial: 0,
        failed: 0,
      };
      tiles.set(kind, t);
    }
    return t;
  };
  for (const k of plugin?.entityKinds ?? []) tile(k.kind);
  for (const e of entities) {
    const t = tile(e.kind);
    t.total++;
    if (ACTIVE_ENTITY_STATUSES.includes(e.status)) t.active++;
    t.items += e.lastItems;
    t.bytes += Number(e.lastBytes);
    if (e.lastRunAt && (!t.lastRunAt || e.lastRunAt > t.lastRunAt)) t.lastRunAt = e.lastRunAt;
    if (e.status === 'success' || e.status === 'partial' || e.status === 'failed') {
      t[e.status as 'success' | 'partial' | 'failed']++;
    }
  }
  return [...tiles.values()];
}

export const CHART_RANGES = [7, 14, 30] as const;
export type ChartRange = (typeof CHART_RANGES)[number];

export interface ChartDay {
  /** YYYY-MM-DD, UTC. */
  day: string;
  /** New and changed items backed up that day (so it may exceed the items in the backup). */
  items: number;
  runs: number;
  failedRuns: number;
  /** Items per kind of entity (sub-service), by label. */
  byKind: { label: string; items: number }[];
}

const FINISHED_RUN_STATES: JobState[] = ['succeeded', 'partially_succeeded', 'failed'];

function dayOf(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** The first instant of the UTC day `days - 1` days before `now`'s. */
function rangeStart(now: Date, days: number): Date {
  return new Date((Math.floor(now.getTime() / DAY_MS) - (days - 1)) * DAY_MS);
}

/** Items backed up per UTC day over the last `days` days (today included), every day present. */
export async function backupChart(
  em: EntityManager,
  task: IBackupTask,
  plugin: ServicePlugin | undefined,
  days: number,
  now: Date,
): Promise<ChartDay[]> {
  const start = rangeStart(now, days);
  const jobs = await em.find(
    Job,
    { task, kind: 'backup', state: { $in: FINISHED_RUN_STATES }, finishedAt: { $gte: start } },
    { populate: ['entity'], orderBy: { finishedAt: 'asc' } },
  );
  const labels = new Map(plugin?.entityKinds.map((k) => [k.kind, k.label]) ?? []);
  const chart: ChartDay[] = [];
  const byDay = new Map<string, ChartDay>();
  for (let i = 0; i < days; i++) {
    const d: ChartDay = {
      day: dayOf(new Date(start.getTime() + i * DAY_MS)),
      items: 0,
      runs: 0,
      failedRuns: 0,
      byKind: [],
    };
    chart.push(d);
    byDay.set(d.day, d);
  }
  for (const job of jobs) {
    const d = job.finishedAt ? byDay.get(dayOf(job.finishedAt)) : undefined;
    if (!d) continue;
    d.runs++;
    if (job.state === 'failed') {
      d.failedRuns++;
      continue;
    }
    const items = (job.result?.added ?? 0) + (job.result?.updated ?? 0);
    d.items += items;
    const kind = (job.entity as ITaskEntity | null)?.kind;
    const label = kind ? (labels.get(kind) ?? kind) : 'Removed entities';
    const slot = d.byKind.find((k) => k.label === label);
    if (slot) slot.items += items;
    else d.byKind.push({ label, items });
  }
  return chart;
}

export interface DayRun {
  jobId: string;
  entityId: string | null;
  name: string;
  state: JobState;
  finishedAt: Date;
  added: number;
  updated: number;
  deleted: number;
  items: number;
  bytes: number;
  snapshotId: string | null;
  error: string | null;
}

/** The backup runs of the task that finished on one UTC day (the chart's drill-down). */
export async function runsOnDay(em: EntityManager, task: IBackupTask, day: Date): Promise<DayRun[]> {
  const jobs: IJob[] = await em.find(
    Job,
    {
      task,
      kind: 'backup',
      state: { $in: FINISHED_RUN_STATES },
      finishedAt: { $gte: day, $lt: new Date(day.getTime() + DAY_MS) },
    },
    { populate: ['entity'], orderBy: { finishedAt: 'desc' }, limit: 500 },
  );
  return jobs.map((job) => {
    const entity = job.entity as ITaskEntity | null;
    return {
      jobId: job.id,
      entityId: entity && !entity.deletedAt ? entity.id : null,
      name: entity?.name ?? job.label,
      state: job.state,
      finishedAt: job.finishedAt as Date,
      added: job.result?.added ?? 0,
      updated: job.result?.updated ?? 0,
      deleted: job.result?.deleted ?? 0,
      items: job.result?.items ?? 0,
      bytes: job.result?.bytes ?? 0,
      snapshotId: job.result?.snapshotId ?? null,
      error: job.error ?? null,
    };
  });
}

/** A discovery of the task waiting or running (the page shows it and refreshes). */
export async function discoveryInProgress(em: EntityManager, task: IBackupTask): Promise<boolean> {
  const open = await em.find(
    Job,
    { task, kind: 'maintenance', state: { $in: ['pending', 'in_progress'] } },
    { fields: ['params'] },
  );
  return open.some((j) => j.params.operation === 'discover');
}

/**
 * Queues a discovery of the task now (after it is created, or on request); one already waiting
 * is reused. Returns the job id.
 */
export async function requestDiscovery(
  em: EntityManager,
  task: IBackupTask,
  initiator: Initiator,
  now: Date,
  maxAttempts: number,
): Promise<string> {
  const waiting = await em.find(Job, { task, kind: 'maintenance', state: 'pending' }, { fields: ['id', 'params'] });
  const found = waiting.find((j) => j.params.operation === 'discover');
  if (found) return found.id;
  return enqueueJob(
    em,
    {
      organizationId: task.organization.id,
      kind: 'maintenance',
      label: `Discovery of ${task.name}`,
      taskId: task.id,
      initiator,
      params: { operation: 'discover', taskId: task.id },
      maxAttempts,
    },
    now,
  );
}
