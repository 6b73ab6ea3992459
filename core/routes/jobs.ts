// Jobs: the restore, export and compare jobs of the organization worked in from the last 7 days. Summary
// counters (in progress, succeeded, partially succeeded or failed) that filter when clicked;
// filters (initiator, activity, service, status, task) and order as plain query parameters (htmx
// swaps only the results); per job its facts, Cancel, Download Results (72 h) and its log. Rows of
// running jobs poll their live part every 2 s and stop once the job has ended. The CSV export
// holds exactly the filtered rows (all pages), built from the same query and row view.
import type { EntityManager } from '@mikro-orm/core';
import type { Context } from 'hono';
import { Hono } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission } from '../access/principal.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import { csvResponse } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import type { IOrganization } from '../identity/entities.ts';
import type { IJob } from '../jobs/entities.ts';
import { cancelJob, getJob } from '../jobs/jobs-service.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { contentDisposition, openDownload } from '../recovery/downloads.ts';
import {
  allJobs,
  INITIATOR_LABELS,
  isInitiatorKind,
  isRecoveryKind,
  isStatusFilter,
  JOB_CSV_HEADER,
  JOBS_PAGE_SIZE,
  JOBS_WINDOW_DAYS,
  type JobListFilters,
  type JobSummary,
  type JobView,
  jobCsvRow,
  jobFacets,
  jobSummary,
  jobViews,
  KIND_LABELS,
  queryJobs,
  RECOVERY_KINDS,
  STATE_LABELS,
  STATUS_GROUP_LABELS,
  STATUS_GROUPS,
} from '../recovery/job-list.ts';
import { BackupTask } from '../tasks/entities.ts';
import { listTasks } from '../tasks/tasks-service.ts';
import { requireRecoveryAccess } from './recovery.ts';

export interface JobFilterForm {
  initiator: string;
  activity: string;
  service: string;
  status: string;
  task: string;
  order: string;
}

const FIELDS: (keyof JobFilterForm)[] = ['initiator', 'activity', 'service', 'status', 'task', 'order'];

/** Reads the filters; unknown values come back as field messages. */
export function parseJobFilters(query: Record<string, string | undefined>): {
  values: JobFilterForm;
  filters: JobListFilters;
  errors: Record<string, string>;
  active: boolean;
} {
  const values = Object.fromEntries(
    FIELDS.map((f) => [f, (query[f] ?? '').trim().slice(0, 100)]),
  ) as unknown as JobFilterForm;
  const errors: Record<string, string> = {};
  const filters: JobListFilters = { order: values.order === 'oldest' ? 'oldest' : 'latest' };
  if (values.initiator) {
    if (isInitiatorKind(values.initiator)) filters.initiator = values.initiator;
    else errors.initiator = 'Choose an initiator from the list.';
  }
  if (values.activity) {
    if (isRecoveryKind(values.activity)) filters.activity = values.activity;
    else errors.activity = 'Choose Restore or Export.';
  }
  if (values.status) {
    if (isStatusFilter(values.status)) filters.status = values.status;
    else errors.status = 'Choose a status from the list.';
  }
  if (values.order && values.order !== 'latest' && values.order !== 'oldest')
    errors.order = 'Choose latest or oldest first.';
  if (values.service) filters.service = values.service;
  if (values.task) filters.taskId = values.task;
  const active = !!(values.initiator || values.activity || values.service || values.status || values.task);
  return { values, filters, errors, active };
}

export function filterQuery(values: JobFilterForm, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const f of FIELDS) if (values[f] && !(f === 'order' && values[f] === 'latest')) params.set(f, values[f]);
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** A task filter must name a task of the organization worked in (another's is a 404). */
async function checkTask(em: EntityManager, org: IOrganization, id: string | undefined): Promise<void> {
  if (!id) return;
  const task = id.length <= 36 ? await em.findOne(BackupTask, { id, organization: org }) : null;
  if (!task) throw new NotFoundError('No such backup task.');
}

interface Viewer {
  canRestore: boolean;
  canExport: boolean;
}

function viewerOf(c: Context<AppEnv>): Viewer {
  const principal = principalOf(c);
  return { canRestore: hasPermission(principal, 'restore'), canExport: hasPermission(principal, 'export_download') };
}

/** What the templates show of a job, with what this viewer may do to it. */
function cardOf(view: JobView, viewer: Viewer) {
  const mayAct = view.kind === 'restore' ? viewer.canRestore : viewer.canExport;
  return {
    ...view,
    badge:
      view.state === 'succeeded'
        ? 'badge-success'
        : view.state === 'partially_succeeded'
          ? 'badge-warning'
          : view.state === 'failed'
            ? 'badge-danger'
            : view.state === 'in_progress'
              ? 'badge-info'
              : '',
    canCancel: mayAct && !view.final && !view.cancelRequested,
    canDownload: viewer.canExport && view.download === 'ready',
  };
}

function countersOf(summary: JobSummary) {
  return [
    { group: 'running', label: STATUS_GROUP_LABELS.running, count: summary.running, tone: 'info' },
    { group: 'succeeded', label: STATUS_GROUP_LABELS.succeeded, count: summary.succeeded, tone: 'success' },
    { group: 'problems', label: STATUS_GROUP_LABELS.problems, count: summary.problems, tone: 'danger' },
  ];
}

/** A job of the organization worked in, restore or export (anything else is a 404 here). */
async function recoveryJob(c: Context<AppEnv>): Promise<IJob> {
  const job = await getJob(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
  if (!(RECOVERY_KINDS as readonly string[]).includes(job.kind)) throw new NotFoundError('No such job.');
  return job;
}

export function jobsRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  for (const path of ['/jobs', '/jobs.csv', '/jobs/*']) app.use(path, requireUser(deps), requireRecoveryAccess);

  async function liveCard(c: Context<AppEnv>, job: IJob) {
    const [view] = await jobViews(c.get('em'), [job], servicePlugin, deps.now());
    return cardOf(view as JobView, viewerOf(c));
  }

  /** The live part of a card, with its log and the counters updated out of band. */
  async function liveFragment(c: Context<AppEnv>, job: IJob): Promise<Response> {
    const card = await liveCard(c, job);
    const counters = countersOf(await jobSummary(c.get('em'), organizationOf(c), deps.now()));
    // The counter of the status the page is filtered by stays marked.
    let currentStatus = '';
    try {
      currentStatus =
        new URL(c.req.header('hx-current-url') ?? '', 'http://page.invalid').searchParams.get('status') ?? '';
    } catch {
      currentStatus = '';
    }
    return renderFragment(c, deps.views, 'partials/jobs/live.njk', { job: card, oob: true, counters, currentStatus });
  }

  app.get('/jobs', async (c) => {
    const em = c.get('em');
    const org = organizationOf(c);
    const now = deps.now();
    const parsed = parseJobFilters(c.req.query());
    await checkTask(em, org, parsed.filters.taskId);
    const invalid = Object.keys(parsed.errors).length > 0;
    const requested = Number.parseInt(c.req.query('page') ?? '1', 10);
    const page = Number.isFinite(requested) && requested > 0 ? Math.min(requested, 100_000) : 1;
    const result = invalid
      ? { jobs: [], total: 0 }
      : await queryJobs(em, org, parsed.filters, page, JOBS_PAGE_SIZE, now);
    const viewer = viewerOf(c);
    const cards = (await jobViews(em, result.jobs, servicePlugin, now)).map((v) => cardOf(v, viewer));
    const pageCount = Math.max(1, Math.ceil(result.total / JOBS_PAGE_SIZE));
    const link = (p: number) => `/jobs${filterQuery(parsed.values, p > 1 ? { page: String(p) } : {})}`;
    const context = {
      cards,
      total: result.total,
      page,
      pageCount,
      previousUrl: page > 1 ? link(page - 1) : null,
      nextUrl: page < pageCount ? link(page + 1) : null,
      exportUrl: `/jobs.csv${filterQuery(parsed.values)}`,
      filtersActive: parsed.active,
      invalid,
      values: parsed.values,
      errors: parsed.errors,
    };
    if (wantsFragment(c)) {
      c.header('HX-Push-Url', link(page));
      return renderFragment(c, deps.views, 'partials/jobs/results.njk', context);
    }
    // The filters offer only what the window's jobs hold (and the values chosen).
    const present = await jobFacets(em, org, now);
    const v = parsed.values;
    const tasks = (await listTasks(em, org)).filter((t) => present.task.has(t.id) || t.id === v.task);
    const serviceKinds = new Set(tasks.filter((t) => present.task.has(t.id)).map((t) => t.service));
    if (v.service) serviceKinds.add(v.service);
    const services = [...serviceKinds].map((kind) => ({ value: kind, label: servicePlugin(kind)?.label ?? kind }));
    const choices = <K extends string>(labels: Record<K, string>, held: Set<string>, chosen: string) =>
      (Object.entries(labels) as [K, string][])
        .filter(([value]) => held.has(value) || value === chosen)
        .map(([value, label]) => ({ value, label }));
    const summary = await jobSummary(em, org, now);
    return renderPage(
      c,
      deps,
      'pages/jobs.njk',
      {
        title: 'Jobs',
        windowDays: JOBS_WINDOW_DAYS,
        summary,
        counters: countersOf(summary),
        initiators: choices(INITIATOR_LABELS, present.initiatorKind, v.initiator),
        activities: choices(KIND_LABELS, present.kind, v.activity),
        statuses: choices(STATE_LABELS, present.state, v.status),
        // A summary group is offered when one of its states is.
        groups: choices(
          STATUS_GROUP_LABELS,
          new Set(
            Object.entries(STATUS_GROUPS).flatMap(([g, states]) =>
              states.some((st) => present.state.has(st)) ? [g] : [],
            ),
          ),
          v.status,
        ),
        services,
        tasks: tasks.map((t) => ({ value: t.id, label: t.name })),
        ...context,
      },
      invalid ? 422 : 200,
    );
  });

  // Every row matching the filters (all pages), in the page's order and with the page's values.
  app.get('/jobs.csv', async (c) => {
    const org = organizationOf(c);
    const parsed = parseJobFilters(c.req.query());
    if (Object.keys(parsed.errors).length > 0) throw new ValidationError(parsed.errors, 'Some filters are not valid.');
    await checkTask(c.get('em'), org, parsed.filters.taskId);
    const now = deps.now();
    // Its own EntityManager: the export clears it between batches.
    const em = c.get('em').fork();
    async function* rows(): AsyncGenerator<string[]> {
      for await (const jobs of allJobs(em, org, parsed.filters, now)) {
        for (const view of await jobViews(em, jobs, servicePlugin, now)) yield jobCsvRow(view);
      }
    }
    return csvResponse(c, {
      fileName: `holdfast-jobs-${now.toISOString().slice(0, 10)}.csv`,
      header: JOB_CSV_HEADER,
      rows: rows(),
      bom: true,
    });
  });

  // The polled part of one job's card (status, facts, actions); a final job's has no trigger.
  app.get('/jobs/:id/live', async (c) => liveFragment(c, await recoveryJob(c)));

  app.post('/jobs/:id/cancel', async (c) => {
    const job = await recoveryJob(c);
    const permission = job.kind === 'restore' ? 'restore' : 'export_download';
    if (!hasPermission(principalOf(c), permission)) throw new MissingPermissionError(permission);
    await cancelJob(c.get('em'), organizationOf(c), job.id, auditActorOf(c, deps), deps.now());
    if (c.req.header('hx-request') === 'true') {
      c.get('em').clear();
      return liveFragment(c, await recoveryJob(c));
    }
    return c.redirect('/jobs', 303);
  });

  app.get('/jobs/:id/download', async (c) => {
    if (!hasPermission(principalOf(c), 'export_download')) throw new MissingPermissionError('export_download');
    const job = await recoveryJob(c);
    const { result, stream } = await openDownload(
      c.get('em'),
      organizationOf(c),
      job.id,
      auditActorOf(c, deps),
      deps.now(),
    );
    return c.body(ReadableStream.from(stream) as ReadableStream<Uint8Array>, 200, {
      'Content-Type':
        result.format === 'zip' && result.encryption === 'none' ? 'application/zip' : 'application/octet-stream',
      'Content-Length': String(result.size),
      'Content-Disposition': contentDisposition(result.fileName),
      'Cache-Control': 'no-store',
    });
  });

  return app;
}
