// /api/v1/organizations/{id}/storage-locations/{locationId}/verification: a location's scheduled
// verification — its schedule (read and set), its last result (what each snapshot lost, the
// repairs that fit) and its verification and repair jobs, started here and run in the background
// (core/storage-locations/location-jobs.ts). Like the Verification page: administrators of the
// location's owner only; another organization's location is a 404.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { ForbiddenError } from '../access/errors.ts';
import { accessibleOrganization } from '../access/principal.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { jobInitiatorOf } from '../http/initiator.ts';
import { principalOf } from '../http/middleware.ts';
import type { IStorageLocation, IStorageVerification } from '../storage-locations/entities.ts';
import {
  LOCATION_OPERATIONS,
  type LocationOperation,
  locationJobs,
  startLocationJobAudited,
} from '../storage-locations/location-jobs.ts';
import { findOwnedLocation } from '../storage-locations/locations.ts';
import { scheduleProblems, verificationOf } from '../storage-locations/verification.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const LocationParams = OrganizationIdParams.extend({
  locationId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'locationId', in: 'path' } }),
});

const ResultSchema = z
  .object({
    at: z.string().openapi({ format: 'date-time' }),
    ok: z.boolean(),
    packsRead: z.number().int(),
    packs: z.number().int(),
    cycleRuns: z.number().int().openapi({ description: 'Runs after which every pack has been read once.' }),
    problems: z.array(
      z.object({ organizationId: z.string(), organizationName: z.string(), object: z.string(), message: z.string() }),
    ),
    lost: z
      .array(
        z.object({
          organizationId: z.string(),
          organizationName: z.string(),
          snapshot: z.string(),
          task: z.string(),
          entity: z.string(),
          time: z.string(),
          items: z.array(z.string()).openapi({ description: 'Keys of the items that cannot be restored.' }),
          ranges: z.array(z.string()).openapi({ description: 'Items under tree nodes that cannot be read.' }),
        }),
      )
      .openapi({ description: 'What each damaged snapshot lost.' }),
    repairs: z.array(z.enum(['rebuild-index', 'repair snapshots'])),
    failures: z.array(z.object({ organizationName: z.string(), message: z.string() })),
  })
  .openapi('VerificationResult');

const JobSchema = z.object({
  id: z.string().openapi({ description: 'Its id in GET /jobs/{id}-style listings and the job log.' }),
  operation: z.enum(LOCATION_OPERATIONS),
  state: z.string().openapi({ example: 'succeeded' }),
  step: z.string().nullable(),
  createdAt: z.string().openapi({ format: 'date-time' }),
  finishedAt: z.string().nullable().openapi({ format: 'date-time' }),
  initiator: z.string().nullable(),
  error: z.string().nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
});

const VerificationSchema = z
  .object({
    samplePercent: z.number().int().openapi({ description: 'Share of the packs read back per run.' }),
    intervalHours: z.number().int(),
    cycleRuns: z.number().int(),
    runs: z.number().int(),
    lastRunAt: z.string().nullable().openapi({ format: 'date-time' }),
    lastOk: z.boolean().nullable(),
    lastResult: ResultSchema.nullable(),
    jobs: z.array(JobSchema).openapi({ description: 'The latest verification and repair jobs, newest first.' }),
  })
  .openapi('StorageVerification');

const ScheduleSchema = z
  .object({
    samplePercent: z.number().int().min(1).max(100).openapi({ example: 10 }),
    intervalHours: z.number().int().min(1).max(744).openapi({ example: 24 }),
  })
  .openapi('VerificationSchedule');

const StartSchema = z
  .object({
    operation: z.enum(LOCATION_OPERATIONS).openapi({
      description:
        'verify; rebuild_index (the index rewritten from the packs’ trailers); repair_snapshots (damaged snapshots replaced by copies without their lost items, unreadable ones removed). A repair is followed by a verification.',
    }),
  })
  .openapi('VerificationJobStart');

const tags = ['Storage locations'];
const adminOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!principalOf(c).isAdministrator) throw new ForbiddenError('Only administrators can change storage settings.');
  await next();
};
const owned = [
  requirePrincipal,
  adminOnly,
  inReach((em, org, c) => findOwnedLocation(em, org, c.req.param('locationId') ?? '')),
];
const PATH = '/organizations/{id}/storage-locations/{locationId}/verification';

const getRoute = createRoute({
  method: 'get',
  path: PATH,
  tags,
  summary: 'Get the verification of a storage location',
  description: 'Its schedule, the last run’s result (what each damaged snapshot lost) and its latest jobs.',
  security: SECURED,
  middleware: owned,
  request: { params: LocationParams },
  responses: { 200: jsonResponse(VerificationSchema, 'Verification'), ...errorResponses(401, 403, 404) },
});

const putRoute = createRoute({
  method: 'put',
  path: PATH,
  tags,
  summary: 'Set the verification schedule of a storage location',
  description: 'Every intervalHours, the structure is checked and samplePercent of the packs read back.',
  security: SECURED,
  middleware: owned,
  request: { params: LocationParams, ...jsonBody(ScheduleSchema) },
  responses: { 200: jsonResponse(VerificationSchema, 'Saved'), ...errorResponses(401, 403, 404, 422) },
});

const startRoute = createRoute({
  method: 'post',
  path: `${PATH}/jobs`,
  tags,
  summary: 'Start a verification or repair of a storage location',
  description: 'Queued as a background job; one at a time per location (409 while one is queued or running).',
  security: SECURED,
  middleware: owned,
  request: { params: LocationParams, ...jsonBody(StartSchema) },
  responses: {
    202: jsonResponse(z.object({ jobId: z.string() }), 'Queued'),
    ...errorResponses(401, 403, 404, 409, 422),
  },
});

export function storageVerificationApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const target = async (c: Context<AppEnv>) => {
    const { id, locationId } = c.req.param() as { id: string; locationId: string };
    const org = await accessibleOrganization(c.get('em'), principalOf(c), id);
    return { org, location: await findOwnedLocation(c.get('em'), org, locationId) };
  };
  const verificationJson = async (
    c: Context<AppEnv>,
    location: IStorageLocation,
    s: IStorageVerification,
  ): Promise<z.infer<typeof VerificationSchema>> => ({
    samplePercent: s.samplePercent,
    intervalHours: s.intervalHours,
    cycleRuns: Math.ceil(100 / s.samplePercent),
    runs: s.runs,
    lastRunAt: s.lastRunAt?.toISOString() ?? null,
    lastOk: s.lastOk ?? null,
    lastResult: (s.lastResult ?? null) as z.infer<typeof ResultSchema> | null,
    jobs: (await locationJobs(c.get('em'), location)).map((j) => ({
      id: j.id,
      operation: j.params.operation as LocationOperation,
      state: j.state,
      step: j.progressStep ?? null,
      createdAt: j.createdAt.toISOString(),
      finishedAt: j.finishedAt?.toISOString() ?? null,
      initiator: j.initiatorLabel ?? null,
      error: j.error ?? null,
      result: (j.result ?? null) as Record<string, unknown> | null,
    })),
  });

  api.openapi(getRoute, async (c) => {
    const { location } = await target(c);
    return c.json(await verificationJson(c, location, await verificationOf(c.get('em'), location)), 200);
  });

  api.openapi(putRoute, async (c) => {
    const { org, location } = await target(c);
    const body = c.req.valid('json');
    const errors = scheduleProblems(body);
    if (Object.keys(errors).length) throw new ValidationError(errors);
    const schedule = await verificationOf(c.get('em'), location);
    schedule.samplePercent = body.samplePercent;
    schedule.intervalHours = body.intervalHours;
    await c.get('em').flush();
    await recordAudit(c.get('em'), {
      organization: org,
      activity: 'Storage location changed',
      account: org.name,
      description: `Verification of ${location.name}: ${schedule.samplePercent}% of the packs every ${schedule.intervalHours} hours`,
      actor: auditActorOf(c, deps),
    });
    return c.json(await verificationJson(c, location, schedule), 200);
  });

  api.openapi(startRoute, async (c) => {
    const { org, location } = await target(c);
    const jobId = await startLocationJobAudited(
      c.get('em'),
      org,
      location,
      c.req.valid('json').operation,
      jobInitiatorOf(c, deps),
      auditActorOf(c, deps),
      deps.now(),
    );
    return c.json({ jobId }, 202);
  });

  return api;
}
