// /api/v1/jobs: the restore and export jobs of the caller's organization (the Jobs page's filters
// and order, paged), one job with its progress and log, cancelling one, starting a restore or an
// export, and downloading an export's results (72 hours after it finished; 410 afterwards).
// Needs "Restore" or "Export and download" (API keys hold both); starting and cancelling need the
// permission of the job's kind, downloading needs "Export and download".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission } from '../access/principal.ts';
import { NotFoundError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, principalOf } from '../http/middleware.ts';
import { type IJob, INITIATOR_KINDS, JOB_LABEL_MAX, JOB_STATES } from '../jobs/entities.ts';
import { cancelJob, getJob } from '../jobs/jobs-service.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { contentDisposition, openDownload } from '../recovery/downloads.ts';
import { EXPORT_ENCRYPTIONS, EXPORT_FORMATS } from '../recovery/entities.ts';
import {
  JOBS_WINDOW_DAYS,
  type JobListFilters,
  type JobView,
  jobViews,
  queryJobs,
  RECOVERY_KINDS,
  STATUS_GROUPS,
} from '../recovery/job-list.ts';
import { RESTORE_MODES } from '../recovery/params.ts';
import { type StartContext, startExport, startRestore } from '../recovery/start.ts';
import { BackupTask } from '../tasks/entities.ts';
import { jsonBody, jsonResponse, PagingQuery, pageOf } from './common.ts';
import { createApiRouter, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const tags = ['Jobs'];

/** 401 without a principal, 403 unless it may restore or export. */
const recoveryAccess: MiddlewareHandler<AppEnv>[] = [
  requirePrincipal,
  async (c, next) => {
    const principal = principalOf(c);
    if (!hasPermission(principal, 'restore') && !hasPermission(principal, 'export_download')) {
      throw new MissingPermissionError('restore');
    }
    await next();
  },
];

/** The job in the path must be a restore or export of the organization acted on: 404 before anything else. */
const jobInReach: MiddlewareHandler<AppEnv> = async (c, next) => {
  await recoveryJob(c);
  await next();
};

async function recoveryJob(c: Context<AppEnv>): Promise<IJob> {
  const job = await getJob(c.get('em'), organizationOf(c), c.req.param('id') ?? '');
  if (!(RECOVERY_KINDS as readonly string[]).includes(job.kind)) throw new NotFoundError('No such job.');
  return job;
}

const JobIdParams = z.object({
  id: z
    .string()
    .max(36)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'Job id.' }),
});

const FilterQuery = z.object({
  initiator: z.enum(INITIATOR_KINDS).optional().openapi({ description: 'Who started the jobs.' }),
  activity: z.enum(RECOVERY_KINDS).optional().openapi({ description: 'Restores or exports (both when absent).' }),
  service: z.string().max(100).optional().openapi({ description: 'Service plugin kind of the task, e.g. "dropbox".' }),
  status: z
    .enum([...JOB_STATES, ...(Object.keys(STATUS_GROUPS) as (keyof typeof STATUS_GROUPS)[])])
    .optional()
    .openapi({
      description:
        'A state, or a summary group: "running" (pending and in progress), "succeeded", "problems" (partially succeeded and failed).',
    }),
  task: z.string().max(36).optional().openapi({ description: 'Backup task id.' }),
  order: z.enum(['latest', 'oldest']).default('latest'),
});

const JobSchema = z
  .object({
    id: z.string(),
    kind: z.enum(RECOVERY_KINDS),
    label: z.string(),
    state: z.enum(JOB_STATES),
    task: z.object({ id: z.string(), name: z.string().nullable() }).nullable(),
    service: z.string().nullable().openapi({ description: 'The service label, e.g. "Dropbox".' }),
    account: z.string().nullable().openapi({ description: 'The user, team folder or object whose backup is read.' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    startedAt: z.string().nullable().openapi({ format: 'date-time' }),
    finishedAt: z.string().nullable().openapi({ format: 'date-time' }),
    backupDate: z.string().nullable().openapi({ format: 'date-time', description: 'When the snapshot was taken.' }),
    initiator: z.object({ kind: z.enum(INITIATOR_KINDS), label: z.string() }),
    destination: z.string(),
    progress: z.object({
      items: z.number().int(),
      bytes: z.number(),
      step: z.string().nullable(),
    }),
    error: z.string().nullable(),
    cancelRequested: z.boolean(),
    download: z
      .object({
        state: z.enum(['ready', 'expired']),
        fileName: z.string(),
        size: z.number(),
        expiresAt: z.string().openapi({ format: 'date-time' }),
        url: z.string().nullable().openapi({ description: 'Set while the download is ready.' }),
      })
      .nullable()
      .openapi({ description: 'Exports for download, once finished.' }),
  })
  .openapi('Job');

const LogEntrySchema = z
  .object({
    at: z.string().openapi({ format: 'date-time' }),
    level: z.enum(['info', 'warn', 'error']),
    message: z.string(),
  })
  .openapi('JobLogEntry');

const JobDetailSchema = JobSchema.extend({
  result: z
    .record(z.string(), z.unknown())
    .nullable()
    .openapi({ description: 'Counts when finished: items, bytes, restored, skipped, failedItems, failed (keys).' }),
  log: z.array(LogEntrySchema),
}).openapi('JobDetail');

const selectionFields = {
  taskId: z.string().max(36),
  entityId: z.string().max(36).openapi({ description: 'The user, team folder or object whose backup is read.' }),
  snapshotId: z.string().max(64),
  keys: z.array(z.string().max(4000)).max(10_000).optional().openapi({ description: 'Item keys (none: everything).' }),
  paths: z
    .array(z.string().max(4000))
    .max(10_000)
    .optional()
    .openapi({ description: 'Folder paths; everything below each.' }),
  label: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: `Shown on the Jobs page; at most ${JOB_LABEL_MAX} characters.` }),
};

const NewJobSchema = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('restore'),
      ...selectionFields,
      destinationEntityId: z
        .string()
        .max(36)
        .optional()
        .openapi({ description: 'Another entity of the same task (default: the source).' }),
      mode: z.enum(RESTORE_MODES).openapi({ description: 'Into a new "Restored <date>" folder, or in place.' }),
    }),
    z.object({
      kind: z.literal('export'),
      ...selectionFields,
      format: z.enum(EXPORT_FORMATS).default('zip'),
      encryption: z.enum(EXPORT_ENCRYPTIONS).default('none'),
      publicKey: z.string().max(100_000).optional().openapi({ description: 'Armored OpenPGP public key.' }),
      passphrase: z.string().max(1000).optional().openapi({ description: 'At least 8 characters; never shown again.' }),
      locationId: z
        .string()
        .max(36)
        .nullable()
        .optional()
        .openapi({ description: 'Write the file to this storage location instead of offering a download.' }),
    }),
  ])
  .openapi('NewJob');

const StartedSchema = z.object({ id: z.string(), label: z.string(), url: z.string() }).openapi('StartedJob');
const CancelSchema = z
  .object({ outcome: z.enum(['canceled', 'requested', 'finished']), job: JobSchema })
  .openapi('JobCancel');

const listRoute = createRoute({
  method: 'get',
  path: '/jobs',
  tags,
  summary: 'List restore and export jobs',
  description: `Jobs of the organization acted on from the last ${JOBS_WINDOW_DAYS} days, with the Jobs page's filters and order.`,
  security: SECURED,
  middleware: recoveryAccess,
  request: { query: FilterQuery.extend(PagingQuery) },
  responses: {
    200: jsonResponse(pageOf(JobSchema, 'JobPage'), 'One page of jobs'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/jobs/{id}',
  tags,
  summary: 'One job, with its progress and log',
  security: SECURED,
  middleware: [...recoveryAccess, jobInReach],
  request: { params: JobIdParams },
  responses: { 200: jsonResponse(JobDetailSchema, 'The job'), ...errorResponses(401, 403, 404) },
});

const cancelRoute = createRoute({
  method: 'post',
  path: '/jobs/{id}/cancel',
  tags,
  summary: 'Cancel a job',
  description:
    'A pending job is canceled at once ("canceled"); a running one is asked to stop within about a second ("requested"); an ended one is left as it is ("finished").',
  security: SECURED,
  middleware: [...recoveryAccess, jobInReach],
  request: { params: JobIdParams },
  responses: { 200: jsonResponse(CancelSchema, 'What happened'), ...errorResponses(401, 403, 404) },
});

const startRoute = createRoute({
  method: 'post',
  path: '/jobs',
  tags,
  summary: 'Start a restore or an export',
  description:
    'Restores (permission "Restore") or exports (permission "Export and download") the chosen items of a snapshot, or all of it. The task, entities and snapshot must belong to the organization acted on.',
  security: SECURED,
  middleware: recoveryAccess,
  request: jsonBody(NewJobSchema),
  responses: { 202: jsonResponse(StartedSchema, 'Queued'), ...errorResponses(401, 403, 404, 422) },
});

const downloadRoute = createRoute({
  method: 'get',
  path: '/jobs/{id}/download',
  tags,
  summary: 'Download the results of an export',
  description:
    'The ZIP or TAR file (".gpg" when encrypted) for 72 hours after the export finished; 410 afterwards. Each download is audited.',
  security: SECURED,
  middleware: [...recoveryAccess, jobInReach],
  request: { params: JobIdParams },
  responses: {
    200: { description: 'The file', content: { 'application/octet-stream': { schema: z.string() } } },
    ...errorResponses(401, 403, 404, 410),
  },
});

function iso(date: Date | null): string | null {
  return date ? date.toISOString() : null;
}

export function jobJson(view: JobView): z.infer<typeof JobSchema> {
  return {
    id: view.id,
    kind: view.kind,
    label: view.label,
    state: view.state,
    task: view.taskId ? { id: view.taskId, name: view.taskName } : null,
    service: view.service,
    account: view.account,
    createdAt: view.createdAt.toISOString(),
    startedAt: iso(view.startedAt),
    finishedAt: iso(view.finishedAt),
    backupDate: iso(view.backupDate),
    initiator: { kind: view.initiatorKind, label: view.initiator },
    destination: view.destination,
    progress: { items: view.items, bytes: view.bytes, step: view.step },
    error: view.error,
    cancelRequested: view.cancelRequested,
    download:
      view.download === 'none' || !view.downloadExpiresAt
        ? null
        : {
            state: view.download,
            fileName: view.downloadName ?? '',
            size: view.downloadSize ?? 0,
            expiresAt: view.downloadExpiresAt.toISOString(),
            url: view.download === 'ready' ? `/api/v1/jobs/${view.id}/download` : null,
          },
  };
}

export function jobsApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  async function viewOf(c: Context<AppEnv>, job: IJob): Promise<JobView> {
    const [view] = await jobViews(c.get('em'), [job], servicePlugin, deps.now());
    return view as JobView;
  }

  api.openapi(listRoute, async (c) => {
    const { page, pageSize, ...query } = c.req.valid('query');
    const em = c.get('em');
    const org = organizationOf(c);
    if (query.task && !(await em.findOne(BackupTask, { id: query.task, organization: org }))) {
      throw new NotFoundError('No such backup task.');
    }
    const filters: JobListFilters = {
      initiator: query.initiator,
      activity: query.activity,
      service: query.service,
      status: query.status,
      taskId: query.task,
      order: query.order,
    };
    const now = deps.now();
    const { jobs, total } = await queryJobs(em, org, filters, page, pageSize, now);
    const views = await jobViews(em, jobs, servicePlugin, now);
    return c.json({ items: views.map(jobJson), total, page, pageSize }, 200);
  });

  api.openapi(getRoute, async (c) => {
    const job = await recoveryJob(c);
    const view = await viewOf(c, job);
    return c.json(
      { ...jobJson(view), result: (job.result as Record<string, unknown> | null) ?? null, log: job.log },
      200,
    );
  });

  api.openapi(cancelRoute, async (c) => {
    const job = await recoveryJob(c);
    const permission = job.kind === 'restore' ? 'restore' : 'export_download';
    if (!hasPermission(principalOf(c), permission)) throw new MissingPermissionError(permission);
    const outcome = await cancelJob(c.get('em'), organizationOf(c), job.id, auditActor(c, deps), deps.now());
    c.get('em').clear();
    return c.json({ outcome, job: jobJson(await viewOf(c, await recoveryJob(c))) }, 200);
  });

  api.openapi(startRoute, async (c) => {
    const body = c.req.valid('json');
    const ctx: StartContext = {
      em: c.get('em'),
      principal: principalOf(c),
      organization: organizationOf(c),
      actor: auditActor(c, deps),
      credentials: deps.credentials,
      now: deps.now(),
      maxAttempts: deps.config.jobMaxAttempts,
    };
    const started =
      body.kind === 'restore'
        ? await startRestore(ctx, body)
        : await startExport(ctx, { ...body, locationId: body.locationId ?? null });
    return c.json({ ...started, url: `/api/v1/jobs/${started.id}` }, 202);
  });

  api.openapi(downloadRoute, async (c) => {
    if (!hasPermission(principalOf(c), 'export_download')) throw new MissingPermissionError('export_download');
    const job = await recoveryJob(c);
    const { result, stream } = await openDownload(
      c.get('em'),
      organizationOf(c),
      job.id,
      auditActor(c, deps),
      deps.now(),
    );
    return c.body(ReadableStream.from(stream) as ReadableStream<Uint8Array>, 200, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(result.size),
      'Content-Disposition': contentDisposition(result.fileName),
      'Cache-Control': 'no-store',
    }) as never;
  });

  return api;
}
