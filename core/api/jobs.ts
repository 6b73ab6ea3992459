// /api/v1/jobs: the restore, export and compare jobs of the caller's organization (the Jobs page's filters
// and order, paged) and, with `activity=backup`, its backup runs; one job with its progress and
// log, cancelling one, starting a restore or an export, and downloading an export's results (72
// hours after it finished; 410 afterwards). Jobs and tasks of organizations within the caller's
// reach are found too (`organization=` on the list), so a partner's key follows its customers'.
// Restores and exports need "Restore" or "Export and download" (API keys hold both), backups
// "Manage backups"; starting and cancelling need the permission of the job's kind, downloading
// needs "Export and download".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { accessibleOrganization, canReach, hasPermission, type Principal } from '../access/principal.ts';
import { NotFoundError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, principalOf } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import type { Permission } from '../identity/permissions.ts';
import { type IJob, INITIATOR_KINDS, JOB_LABEL_MAX, JOB_STATES, Job } from '../jobs/entities.ts';
import { cancelJob } from '../jobs/jobs-service.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { contentDisposition, openDownload } from '../recovery/downloads.ts';
import { EXPORT_ENCRYPTIONS, EXPORT_FORMATS } from '../recovery/entities.ts';
import {
  JOBS_WINDOW_DAYS,
  type JobListFilters,
  type JobView,
  jobViews,
  LISTED_KINDS,
  type ListedKind,
  queryJobs,
  STATUS_GROUPS,
} from '../recovery/job-list.ts';
import { MAX_EXPORT_PARTS, RESTORE_MODES } from '../recovery/params.ts';
import { type StartContext, startExport, startRestore } from '../recovery/start.ts';
import { BackupTask } from '../tasks/entities.ts';
import { jsonBody, jsonResponse, PagingQuery, pageOf } from './common.ts';
import { createApiRouter, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';
import { reachableTask } from './tasks.ts';

const tags = ['Jobs'];

/** The permissions that open jobs of a kind: backups for "Manage backups", the rest for recovery. */
function jobPermissions(kind: ListedKind | undefined): Permission[] {
  return kind === 'backup' ? ['manage_backups'] : ['restore', 'export_download'];
}

function requireJobPermission(principal: Principal, kind: ListedKind | undefined): void {
  const needed = jobPermissions(kind);
  if (!needed.some((p) => hasPermission(principal, p))) throw new MissingPermissionError(needed[0] as Permission);
}

/** 401 without a principal, 403 unless it may restore, export or manage backups. */
const recoveryAccess: MiddlewareHandler<AppEnv>[] = [
  requirePrincipal,
  async (c, next) => {
    const principal = principalOf(c);
    if (!(['restore', 'export_download', 'manage_backups'] as const).some((p) => hasPermission(principal, p))) {
      throw new MissingPermissionError('restore');
    }
    await next();
  },
];

/** The job in the path must be a listed kind of an organization within reach: 404 before anything else. */
const jobInReach: MiddlewareHandler<AppEnv> = async (c, next) => {
  await recoveryJob(c);
  await next();
};

async function recoveryJob(c: Context<AppEnv>): Promise<IJob> {
  const id = c.req.param('id') ?? '';
  const job = id.length <= 36 ? await c.get('em').findOne(Job, { id }, { populate: ['organization'] }) : null;
  if (
    !job ||
    !(LISTED_KINDS as readonly string[]).includes(job.kind) ||
    !canReach(principalOf(c), job.organization as IOrganization)
  ) {
    throw new NotFoundError('No such job.');
  }
  requireJobPermission(principalOf(c), job.kind as ListedKind);
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
  activity: z
    .enum(LISTED_KINDS)
    .optional()
    .openapi({ description: 'Backups, restores, exports or compares (restores, exports and compares when absent).' }),
  organization: z
    .string()
    .max(36)
    .optional()
    .openapi({ description: 'An organization within reach (default: the one worked in).' }),
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
    kind: z.enum(LISTED_KINDS),
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
      options: z
        .record(
          z.string().max(100),
          z.union([z.boolean(), z.number(), z.string().max(1000), z.array(z.string().max(500)).max(1000)]),
        )
        .optional()
        .openapi({
          description:
            "The service's own restore options (see its connector's README), validated before the job starts (422, field `options.<name>`).",
        }),
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
      options: z
        .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
        .optional()
        .openapi({
          description:
            "The service's export options, by name (e.g. Salesforce: `deletedRecords`, `metadataPackage`); refused (422, field `options.<name>`) when the service has no such option.",
        }),
      more: z
        .array(
          z.object({
            entityId: z.string().max(36),
            snapshotId: z.string().min(1).max(64),
            keys: z.array(z.string().max(4000)).max(10_000).optional(),
            paths: z.array(z.string().max(4000)).max(10_000).optional(),
          }),
        )
        .max(MAX_EXPORT_PARTS + 1)
        .optional()
        .openapi({
          description:
            'Further entities of the same task in the same archive (a multi-object export: one CSV per Salesforce object), each with its snapshot and selection (none: the whole snapshot).',
        }),
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
  summary: 'List restore, export and backup jobs',
  description: `Jobs of the organization acted on (or of \`organization\`, within reach) from the last ${JOBS_WINDOW_DAYS} days, with the Jobs page's filters and order: restores, exports and compares, or with \`activity=backup\` the backup runs (permission "Manage backups").`,
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
  description:
    'A restore, export or backup job (backup job ids come from `POST /tasks/{id}/entities/backup-now`), of an organization within reach.',
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
    'Restores (permission "Restore") or exports (permission "Export and download") the chosen items of a snapshot, or all of it: ids from `GET /tasks/{id}/entities/{entityId}/snapshots`, item keys and folder paths from the browse and search operations. The task must be within reach and its entities and snapshot its own. A selection matching nothing in the snapshot is refused (422, field `selection`).',
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
    const { page, pageSize, organization, ...query } = c.req.valid('query');
    const em = c.get('em');
    requireJobPermission(principalOf(c), query.activity);
    const org = organization ? await accessibleOrganization(em, principalOf(c), organization) : organizationOf(c);
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
    const permission =
      job.kind === 'restore' ? 'restore' : job.kind === 'backup' ? 'manage_backups' : 'export_download';
    if (!hasPermission(principalOf(c), permission)) throw new MissingPermissionError(permission);
    const outcome = await cancelJob(
      c.get('em'),
      job.organization as IOrganization,
      job.id,
      auditActor(c, deps),
      deps.now(),
    );
    c.get('em').clear();
    return c.json({ outcome, job: jobJson(await viewOf(c, await recoveryJob(c))) }, 200);
  });

  api.openapi(startRoute, async (c) => {
    const body = c.req.valid('json');
    // The task's own organization (within reach) is where the job is queued and audited.
    const task = await reachableTask(c, body.taskId);
    const ctx: StartContext = {
      em: c.get('em'),
      principal: principalOf(c),
      organization: task.organization as IOrganization,
      actor: auditActor(c, deps),
      credentials: deps.credentials,
      now: deps.now(),
      maxAttempts: deps.config.jobMaxAttempts,
    };
    const started =
      body.kind === 'restore'
        ? await startRestore(ctx, body)
        : await startExport(ctx, { ...body, locationId: body.locationId ?? null, optionsFrom: 'json' });
    return c.json({ ...started, url: `/api/v1/jobs/${started.id}` }, 202);
  });

  api.openapi(downloadRoute, async (c) => {
    if (!hasPermission(principalOf(c), 'export_download')) throw new MissingPermissionError('export_download');
    const job = await recoveryJob(c);
    const { result, stream } = await openDownload(
      c.get('em'),
      job.organization as IOrganization,
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
