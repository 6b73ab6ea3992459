// /api/v1 compare (seed 6.1/6.2): start a compare of a task's backups (or of a backup with a
// task's live account) and read its result — the same service and rules as the Compare pages
// (core/compare/start.ts, core/routes/compare.ts): permission "Export and download" (a compare
// shows backed-up data, as an export does), both tasks of the task's own organization, which must
// be within the caller's reach; another tenant's task or compare job is a 404.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { canReach } from '../access/principal.ts';
import { readSummary } from '../compare/result-store.ts';
import { startCompare } from '../compare/start.ts';
import { AppError, NotFoundError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import { type IJob, JOB_STATES, Job } from '../jobs/entities.ts';
import { jsonBody, jsonResponse } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';
import { reachableTask, taskInReach } from './tasks.ts';

const tags = ['Compare'];
const access = guarded('export_download');

const TaskParams = z.object({
  id: z
    .string()
    .max(36)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'Backup task id (the left side).' }),
});
const JobParams = z.object({
  id: z
    .string()
    .max(36)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'Compare job id.' }),
});

const instant = z.string().max(40).openapi({ format: 'date-time', example: '2026-12-01T08:15:00Z' });

const NewCompareSchema = z
  .object({
    entityIds: z
      .array(z.string().max(36))
      .max(10_000)
      .optional()
      .openapi({ description: 'Objects (entity ids) of the task; empty or left out: all of them.' }),
    leftTime: instant.openapi({ description: 'Each object’s newest snapshot at or before this time.' }),
    rightTaskId: z
      .string()
      .max(36)
      .optional()
      .openapi({ description: 'Another task of the same service and organization; default: this task.' }),
    rightTime: instant
      .optional()
      .openapi({ description: 'The right side’s point in time (required unless `rightLive`).' }),
    rightLive: z.boolean().optional().openapi({
      description:
        'Compare with the right task’s account as it is now: the job reads every object chosen (all when none) from the service, within the task’s API usage limit.',
    }),
  })
  .openapi('NewCompare');

const StartedSchema = z
  .object({
    id: z.string(),
    label: z.string(),
    url: z.string().openapi({ description: 'The job (progress, log): GET /jobs/{id}.' }),
    resultUrl: z.string().openapi({ description: 'The result once the job has finished.' }),
  })
  .openapi('StartedCompare');

const SideSchema = z.object({
  taskId: z.string(),
  taskName: z.string(),
  time: z.string().openapi({ format: 'date-time' }),
  live: z.boolean(),
});

const ObjectSchema = z
  .object({
    externalId: z.string().openapi({ description: 'The object’s API name or metadata type.' }),
    name: z.string(),
    kind: z.string(),
    inLeft: z.boolean(),
    inRight: z.boolean(),
    leftTotal: z.number().int(),
    leftUnique: z.number().int(),
    changed: z.number().int(),
    rightUnique: z.number().int(),
    rightTotal: z.number().int(),
  })
  .openapi('CompareObject');

const ResultSchema = z
  .object({
    id: z.string(),
    label: z.string(),
    state: z.enum(JOB_STATES),
    error: z.string().nullable().openapi({ description: 'Why the compare failed.' }),
    result: z
      .object({
        left: SideSchema,
        right: SideSchema,
        objects: z.array(ObjectSchema),
        ignoredFields: z.array(z.string()),
        csvUrl: z.string().openapi({ description: 'Every difference, field by field (session sign-in).' }),
      })
      .nullable()
      .openapi({ description: 'Per object Total / Unique / Changed / Unique / Total; null until it succeeded.' }),
  })
  .openapi('CompareResult');

/** The compare job in the path, of an organization within reach: 404 before anything else. */
async function compareJob(c: Context<AppEnv>): Promise<IJob> {
  const id = c.req.param('id') ?? '';
  const job =
    id.length <= 36 ? await c.get('em').findOne(Job, { id, kind: 'compare' }, { populate: ['organization'] }) : null;
  if (!job || !canReach(principalOf(c), job.organization as IOrganization)) {
    throw new NotFoundError('No such compare.');
  }
  return job;
}

const compareInReach: MiddlewareHandler<AppEnv> = async (c, next) => {
  await compareJob(c);
  await next();
};

const startRoute = createRoute({
  method: 'post',
  path: '/tasks/{id}/compare',
  tags,
  summary: 'Start a compare',
  description:
    'Compares the task’s backup at `leftTime` with a backup of it (or of `rightTaskId`) at `rightTime`, or with the right task’s live account (`rightLive`), as a background job (see GET /jobs/{id}). Needs "Export and download". Field problems are a 422 naming the field.',
  security: SECURED,
  middleware: [...access, taskInReach()],
  request: { params: TaskParams, ...jsonBody(NewCompareSchema) },
  responses: { 202: jsonResponse(StartedSchema, 'Queued'), ...errorResponses(401, 403, 404, 422) },
});

const resultRoute = createRoute({
  method: 'get',
  path: '/jobs/{id}/compare',
  tags,
  summary: 'The result of a compare',
  description:
    'The compare job’s state and, once it succeeded, the per-object counts (the result page’s table). 410 when the result is no longer kept.',
  security: SECURED,
  middleware: [...access, compareInReach],
  request: { params: JobParams },
  responses: { 200: jsonResponse(ResultSchema, 'The compare'), ...errorResponses(401, 403, 404, 410) },
});

export function compareApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openapi(startRoute, async (c) => {
    const body = c.req.valid('json');
    const task = await reachableTask(c, c.req.valid('param').id);
    const started = await startCompare(
      {
        em: c.get('em'),
        principal: principalOf(c),
        organization: task.organization as IOrganization,
        actor: auditActor(c, deps),
        now: deps.now(),
        maxAttempts: deps.config.jobMaxAttempts,
      },
      {
        taskId: task.id,
        entityIds: body.entityIds,
        leftTime: body.leftTime,
        rightTaskId: body.rightTaskId,
        rightTime: body.rightTime ?? '',
        rightLive: body.rightLive,
      },
    );
    return c.json(
      { ...started, url: `/api/v1/jobs/${started.id}`, resultUrl: `/api/v1/jobs/${started.id}/compare` },
      202,
    );
  });

  api.openapi(resultRoute, async (c) => {
    const job = await compareJob(c);
    const organizationId = (job.organization as IOrganization).id;
    let result: z.infer<typeof ResultSchema>['result'] = null;
    if (job.state === 'succeeded') {
      const summary = await readSummary(deps.config.dataDir, organizationId, job.id).catch(() => {
        throw new AppError('result_gone', 'The result of this compare is no longer kept.', 410);
      });
      result = {
        left: { ...summary.left, live: summary.left.live === true },
        right: { ...summary.right, live: summary.right.live === true },
        objects: summary.objects,
        ignoredFields: summary.ignoredFields,
        csvUrl: `/compare/${job.id}.csv`,
      };
    }
    return c.json({ id: job.id, label: job.label, state: job.state, error: job.error ?? null, result }, 200);
  });

  return api;
}
