// The Jobs page's query: restore, export and compare jobs of the organization acted on from the last 7
// days, filtered (initiator, activity, service, status or a summary group, task), ordered latest
// or oldest first, paged; the summary counters; and the rows of the CSV export, built from the
// very same query and the same row view, so page and file agree row for row.
import { type EntityManager, type FilterQuery, raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { presentValues } from '../event-log.ts';
import type { IOrganization } from '../identity/entities.ts';
import {
  FINAL_JOB_STATES,
  type IJob,
  INITIATOR_KINDS,
  type InitiatorKind,
  JOB_STATES,
  Job,
  type JobLogEntry,
  type JobState,
} from '../jobs/entities.ts';
import type { ServicePlugin } from '../plugins/service.ts';
import { BackupTask, TaskEntity } from '../tasks/entities.ts';
import { type DownloadState, downloadState } from './downloads.ts';
import { ExportResult, type IExportResult } from './entities.ts';

/** The Jobs page's kinds; a compare (core/compare/) is listed, followed and canceled like an export. */
export const RECOVERY_KINDS = ['restore', 'export', 'compare'] as const;
export type RecoveryKind = (typeof RECOVERY_KINDS)[number];
/** What /api/v1/jobs also answers: the backups, besides the Jobs page's restores, exports and compares. */
export const LISTED_KINDS = ['backup', ...RECOVERY_KINDS] as const;
export type ListedKind = (typeof LISTED_KINDS)[number];
export const JOBS_WINDOW_DAYS = 7;
export const JOBS_PAGE_SIZE = 20;

/** The summary counters; each is also a status filter. */
export const STATUS_GROUPS = {
  running: ['pending', 'in_progress'],
  succeeded: ['succeeded'],
  problems: ['partially_succeeded', 'failed'],
} as const satisfies Record<string, readonly JobState[]>;
export type StatusGroup = keyof typeof STATUS_GROUPS;
export const STATUS_GROUP_LABELS: Record<StatusGroup, string> = {
  running: 'In progress',
  succeeded: 'Succeeded',
  problems: 'Partially succeeded or failed',
};

export const STATE_LABELS: Record<JobState, string> = {
  pending: 'Pending',
  in_progress: 'In progress',
  succeeded: 'Succeeded',
  partially_succeeded: 'Partially succeeded',
  failed: 'Failed',
  canceled: 'Canceled',
};

export const INITIATOR_LABELS: Record<InitiatorKind, string> = {
  user: 'User',
  schedule: 'Schedule',
  api_key: 'API key',
  system: 'System',
};

export const KIND_LABELS: Record<RecoveryKind, string> = { restore: 'Restore', export: 'Export', compare: 'Compare' };

export type StatusFilter = JobState | StatusGroup;

export function isStatusFilter(value: string): value is StatusFilter {
  return (JOB_STATES as readonly string[]).includes(value) || value in STATUS_GROUPS;
}
export function isInitiatorKind(value: string): value is InitiatorKind {
  return (INITIATOR_KINDS as readonly string[]).includes(value);
}
export function isRecoveryKind(value: string): value is RecoveryKind {
  return (RECOVERY_KINDS as readonly string[]).includes(value);
}

export interface JobListFilters {
  initiator?: InitiatorKind | undefined;
  /** Restores or exports (both when absent); 'backup' for backup runs (the API). */
  activity?: ListedKind | undefined;
  service?: string | undefined;
  status?: StatusFilter | undefined;
  taskId?: string | undefined;
  order?: 'latest' | 'oldest' | undefined;
}

function windowStart(now: Date): Date {
  return new Date(now.getTime() - JOBS_WINDOW_DAYS * 86_400_000);
}

/** Jobs created up to `now` (so an export of "all rows" is not shifted by jobs started meanwhile). */
function whereOf(organization: IOrganization, filters: JobListFilters, now: Date): FilterQuery<IJob> {
  const where: FilterQuery<IJob> & Record<string, unknown> = {
    organization,
    kind: filters.activity ? filters.activity : { $in: [...RECOVERY_KINDS] },
    createdAt: { $gte: windowStart(now), $lte: now },
  };
  if (filters.initiator) where.initiatorKind = filters.initiator;
  if (filters.status) {
    where.state =
      filters.status in STATUS_GROUPS
        ? { $in: [...STATUS_GROUPS[filters.status as StatusGroup]] }
        : (filters.status as JobState);
  }
  if (filters.taskId && filters.service) where.task = { id: filters.taskId, service: filters.service };
  else if (filters.taskId) where.task = filters.taskId;
  else if (filters.service) where.task = { service: filters.service };
  return where;
}

function orderOf(filters: JobListFilters) {
  const dir = filters.order === 'oldest' ? 'asc' : 'desc';
  return { createdAt: dir, id: dir } as const;
}

export interface JobView {
  id: string;
  kind: ListedKind;
  kindLabel: string;
  label: string;
  taskId: string | null;
  taskName: string | null;
  service: string | null;
  account: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  backupDate: Date | null;
  initiatorKind: InitiatorKind;
  initiator: string;
  destination: string;
  items: number;
  bytes: number;
  state: JobState;
  stateLabel: string;
  final: boolean;
  step: string | null;
  error: string | null;
  cancelRequested: boolean;
  download: DownloadState;
  downloadExpiresAt: Date | null;
  downloadName: string | null;
  downloadSize: number | null;
  /** A plugin's counts of a restore (created, updated, …), shown on the job card. */
  counts: { name: string; label: string; value: number }[];
  log: JobLogEntry[];
}

type ServiceLookup = (kind: string) => ServicePlugin | undefined;

/** Turns jobs into rows; names of tasks, entities and export results are fetched in one go each. */
export async function jobViews(
  em: EntityManager,
  jobs: IJob[],
  services: ServiceLookup,
  now: Date,
): Promise<JobView[]> {
  if (jobs.length === 0) return [];
  const taskIds = [...new Set(jobs.map((j) => j.task?.id).filter((id): id is string => !!id))];
  const entityIds = new Set<string>();
  for (const j of jobs) {
    if (j.entity) entityIds.add(j.entity.id);
    const dest = j.params.destinationEntityId;
    if (typeof dest === 'string') entityIds.add(dest);
  }
  const [tasks, entities, results] = await Promise.all([
    taskIds.length ? em.find(BackupTask, { id: { $in: taskIds } }, { fields: ['id', 'name', 'service'] }) : [],
    entityIds.size ? em.find(TaskEntity, { id: { $in: [...entityIds] } }, { fields: ['id', 'name'] }) : [],
    em.find(ExportResult, {
      job: { $in: jobs.filter((j) => j.kind === 'export' || j.kind === 'restore').map((j) => j.id) },
    }),
  ]);
  const taskById = new Map(tasks.map((t) => [t.id, t]));
  const entityName = new Map(entities.map((e) => [e.id, e.name]));
  const resultByJob = new Map<string, IExportResult>(results.map((r) => [r.job.id, r]));
  return jobs.map((job) => {
    const task = job.task ? taskById.get(job.task.id) : undefined;
    const result = job.result ?? {};
    const exportResult = resultByJob.get(job.id);
    const kind = job.kind as ListedKind;
    const snapshotTime =
      typeof job.params.snapshotTime === 'string'
        ? job.params.snapshotTime
        : typeof result.snapshotTime === 'string'
          ? result.snapshotTime
          : null;
    const final = FINAL_JOB_STATES.includes(job.state);
    const state = downloadState(exportResult, now);
    return {
      id: job.id,
      kind,
      kindLabel: (KIND_LABELS as Record<string, string>)[kind] ?? job.kind,
      label: job.label,
      taskId: task?.id ?? null,
      taskName: task?.name ?? null,
      service: task ? (services(task.service)?.label ?? task.service) : null,
      account: job.entity ? (entityName.get(job.entity.id) ?? null) : null,
      createdAt: job.createdAt,
      startedAt: job.startedAt ?? null,
      finishedAt: job.finishedAt ?? null,
      backupDate: snapshotTime ? new Date(snapshotTime) : null,
      initiatorKind: job.initiatorKind,
      initiator: job.initiatorLabel ?? INITIATOR_LABELS[job.initiatorKind],
      destination: destinationOf(job, entityName),
      items: final && typeof result.items === 'number' ? result.items : job.progressItems,
      bytes: final && typeof result.bytes === 'number' ? result.bytes : Number(job.progressBytes),
      state: job.state,
      stateLabel: STATE_LABELS[job.state as JobState],
      final,
      step: final ? null : (job.progressStep ?? null),
      error: job.error ?? null,
      cancelRequested: !!job.cancelRequestedAt && !final,
      download: state,
      downloadExpiresAt: exportResult?.expiresAt ?? null,
      downloadName: exportResult?.fileName ?? null,
      downloadSize: exportResult ? Number(exportResult.size) : null,
      counts: countsOf(result.counts),
      log: job.log,
    };
  });
}

/** `{created: 3}` → [{name: 'created', label: 'Created', value: 3}]; anything else is left out. */
function countsOf(counts: unknown): JobView['counts'] {
  if (!counts || typeof counts !== 'object') return [];
  return Object.entries(counts as Record<string, unknown>)
    .filter((e): e is [string, number] => typeof e[1] === 'number' && /^[a-z][A-Za-z]{0,30}$/.test(e[0]))
    .map(([name, value]) => ({ name, label: name.charAt(0).toUpperCase() + name.slice(1), value }));
}

function destinationOf(job: IJob, entityName: Map<string, string>): string {
  if (job.kind === 'backup') return 'Backup storage';
  if (typeof job.result?.destination === 'string') {
    if (job.kind === 'restore') return `${job.result.destination} (${modeLabel(job.params.mode)})`;
    return job.result.destination;
  }
  if (job.kind === 'restore') {
    const dest =
      typeof job.params.destinationEntityId === 'string' ? entityName.get(job.params.destinationEntityId) : undefined;
    return `${dest ?? 'Unknown'} (${modeLabel(job.params.mode)})`;
  }
  return job.params.locationId ? 'Storage location' : 'Download';
}

function modeLabel(mode: unknown): string {
  return mode === 'in_place' ? 'in place' : 'new folder';
}

/** The kinds, initiators, states and tasks of the window's jobs (what the filters offer). */
export function jobFacets(em: EntityManager, organization: IOrganization, now: Date) {
  return presentValues(em, Job, whereOf(organization, {}, now), ['kind', 'initiatorKind', 'state', 'task'] as const);
}

export async function queryJobs(
  em: EntityManager,
  organization: IOrganization,
  filters: JobListFilters,
  page: number,
  pageSize: number,
  now: Date,
): Promise<{ jobs: IJob[]; total: number }> {
  const [jobs, total] = await em.findAndCount(Job, whereOf(organization, filters, now), {
    orderBy: orderOf(filters),
    limit: pageSize,
    offset: (page - 1) * pageSize,
  });
  return { jobs, total };
}

/** Every job matching the filters, in the page's order, a batch at a time. */
export async function* allJobs(
  em: EntityManager,
  organization: IOrganization,
  filters: JobListFilters,
  now: Date,
  batch = 200,
): AsyncGenerator<IJob[]> {
  for (let offset = 0; ; offset += batch) {
    const jobs = await em.find(Job, whereOf(organization, filters, now), {
      orderBy: orderOf(filters),
      limit: batch,
      offset,
    });
    if (jobs.length) yield jobs;
    if (jobs.length < batch) return;
    em.clear();
  }
}

export interface JobSummary {
  total: number;
  running: number;
  succeeded: number;
  problems: number;
}

/** The counters over the whole 7-day window (not narrowed by the filters, so they stay a map). */
export async function jobSummary(em: EntityManager, organization: IOrganization, now: Date): Promise<JobSummary> {
  // One count per state of the window's jobs, summed into the groups (not a count query per group).
  const rows = (await (em as SqlEntityManager)
    .createQueryBuilder(Job, 'j')
    .select(['j.state', raw('count(*) as n')])
    .where(whereOf(organization, {}, now) as never)
    .groupBy('j.state')
    .execute('all', false)) as { state: JobState; n: number | string }[];
  const sum = (states?: readonly JobState[]) =>
    rows.filter((r) => !states || states.includes(r.state)).reduce((total, r) => total + Number(r.n), 0);
  return {
    total: sum(),
    running: sum(STATUS_GROUPS.running),
    succeeded: sum(STATUS_GROUPS.succeeded),
    problems: sum(STATUS_GROUPS.problems),
  };
}

export const JOB_CSV_HEADER = [
  'Job ID',
  'Type',
  'Name',
  'Service',
  'Account',
  'Task',
  'Created (UTC)',
  'Started (UTC)',
  'Finished (UTC)',
  'Backup date (UTC)',
  'Initiator',
  'Destination',
  'Items',
  'Size (bytes)',
  'Status',
  'Download',
] as const;

function iso(date: Date | null): string {
  return date ? date.toISOString() : '';
}

export function jobCsvRow(view: JobView): string[] {
  return [
    view.id,
    view.kindLabel,
    view.label,
    view.service ?? '',
    view.account ?? '',
    view.taskName ?? '',
    iso(view.createdAt),
    iso(view.startedAt),
    iso(view.finishedAt),
    iso(view.backupDate),
    view.initiator,
    view.destination,
    String(view.items),
    String(Math.round(view.bytes)),
    view.stateLabel,
    view.download === 'ready' ? `until ${iso(view.downloadExpiresAt)}` : view.download === 'expired' ? 'expired' : '',
  ];
}
