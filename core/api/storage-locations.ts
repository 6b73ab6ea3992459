// /api/v1/organizations/{id}/storage-locations and /storage: the storage locations an
// organization may use (its own and those above it), its own ones created, changed, tested and
// removed, and where its backups go. Reading needs only a caller within reach; changing needs an
// administrator (API keys act as administrators). Secrets are write-only: responses say which
// secret settings hold a value, never the value.

import { createRoute, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { ForbiddenError } from '../access/errors.ts';
import { accessibleOrganization } from '../access/principal.ts';
import { ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import {
  backupsOf,
  defaultForNewAccounts,
  type ResolvedLocation,
  resolveLocation,
  setDefaultForNewAccounts,
  setOrganizationLocation,
} from '../storage-locations/assignment.ts';
import type { ConnectionTestResult } from '../storage-locations/connection-test.ts';
import type { IStorageLocation } from '../storage-locations/entities.ts';
import {
  availableLocations,
  ConnectionTestFailedError,
  createLocation,
  deleteLocation,
  findOwnedLocation,
  locationView,
  retestLocation,
  type StorageContext,
  updateLocation,
} from '../storage-locations/locations.ts';
import { multiNodeMode } from '../system/node-role.ts';
import { CHILD_KINDS } from '../tenancy/organizations.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, requirePrincipal, SECURED } from './router.ts';
import { ErrorSchema, errorResponses } from './schemas.ts';

const SettingValue = z.union([z.string().max(20_000), z.number(), z.boolean()]);

const ConnectionTestSchema = z
  .object({
    ok: z.boolean(),
    description: z.string().openapi({ description: 'Where, without secrets, e.g. "s3:bucket/prefix".' }),
    sentence: z.string().openapi({ description: 'The result in one sentence, naming the cause of a failure.' }),
    detail: z.string().nullable().openapi({ description: "The failed step and the store's own message." }),
    reason: z
      .string()
      .nullable()
      .openapi({ description: 'dns, tls, unreachable, timeout, auth, permission, bucket_missing, … or other.' }),
    step: z.string().nullable().openapi({ description: 'open, write, read, list or delete.' }),
  })
  .openapi('ConnectionTest');

const StorageLocationSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.string().openapi({ example: 's3', description: 'The sink plugin: local, s3, azure or gcs.' }),
    kindLabel: z.string(),
    builtin: z.boolean().openapi({ description: 'The embedded local-disk location; it cannot change.' }),
    ownerId: z.string(),
    ownerName: z.string(),
    owned: z.boolean().openapi({ description: 'Owned by the organization in the path (so it may change it).' }),
    description: z.string().nullable(),
    settings: z
      .record(z.string(), z.unknown())
      .nullable()
      .openapi({ description: 'Non-secret settings; null for locations of organizations above.' }),
    secretsSet: z.array(z.string()).openapi({ description: 'Secret settings that hold a value (never the value).' }),
    lastTest: z
      .object({
        at: z.string().openapi({ format: 'date-time' }),
        ok: z.boolean(),
        sentence: z.string(),
        detail: z.string().nullable(),
      })
      .nullable(),
  })
  .openapi('StorageLocation');

const NewStorageLocationSchema = z
  .object({
    name: z.string().max(200),
    kind: z.string().max(50).openapi({ example: 's3' }),
    settings: z.record(z.string(), SettingValue).openapi({
      description: "The kind's settings (see the plugin's README), secrets included; they are write-only.",
      example: { endpoint: 'https://s3.example.com', bucket: 'backups', accessKeyId: 'AKIA…', secretAccessKey: '…' },
    }),
  })
  .openapi('NewStorageLocation');

const StorageLocationChangesSchema = z
  .object({
    name: z.string().max(200).optional(),
    settings: z
      .record(z.string(), SettingValue.nullable())
      .optional()
      .openapi({ description: 'Settings to change; left out: unchanged; null: removed (secrets included).' }),
  })
  .openapi('StorageLocationChanges');

const LocationRef = z.object({ id: z.string(), name: z.string() });

const StorageAssignmentSchema = z
  .object({
    location: LocationRef.openapi({ description: "Where the organization's backups go." }),
    source: z.enum(['own', 'inherited', 'builtin']),
    inheritedFrom: z.string().nullable().openapi({ description: 'The organization whose default applies.' }),
    fixed: z.boolean().openapi({ description: 'Backups exist: the location can no longer change.' }),
    defaultForNewAccounts: LocationRef.extend({ source: z.enum(['own', 'inherited', 'builtin']) })
      .nullable()
      .openapi({ description: 'For portals: what accounts added under it get.' }),
  })
  .openapi('StorageAssignment');

const StorageAssignmentChangesSchema = z
  .object({
    locationId: z.string().max(36).nullable().optional().openapi({ description: 'null: follow the default.' }),
    defaultForNewAccountsId: z
      .string()
      .max(36)
      .nullable()
      .optional()
      .openapi({ description: 'Portals only; null: inherit from above.' }),
  })
  .openapi('StorageAssignmentChanges');

const LocationParams = OrganizationIdParams.extend({
  locationId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'locationId', in: 'path' } }),
});

const tags = ['Storage locations'];
const adminOnly: MiddlewareHandler<AppEnv> = async (c, next) => {
  if (!principalOf(c).isAdministrator) throw new ForbiddenError('Only administrators can change storage settings.');
  await next();
};
const read = [requirePrincipal, inReach()];
const write = [requirePrincipal, adminOnly, inReach()];
const writeOne = [
  requirePrincipal,
  adminOnly,
  inReach((em, org, c) => findOwnedLocation(em, org, c.req.param('locationId') ?? '')),
];
const testFailed = {
  description: 'The payload failed validation, or the connection test failed (nothing was saved).',
  content: {
    'application/json': {
      schema: ErrorSchema.extend({
        test: ConnectionTestSchema.optional(),
      }),
    },
  },
};

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/storage-locations',
  tags,
  summary: 'List storage locations',
  description:
    'The locations the organization may use: the built-in one, those of the organizations above it, and its own.',
  security: SECURED,
  middleware: read,
  request: { params: OrganizationIdParams },
  responses: {
    200: jsonResponse(z.object({ items: z.array(StorageLocationSchema) }), 'Locations'),
    ...errorResponses(401, 404),
  },
});

const createLocationRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/storage-locations',
  tags,
  summary: 'Add a storage location',
  description:
    'Validates the settings, runs the connection test (write, read, list and delete a probe object) and saves the location only if it passes. Local disk and settings naming files on the appliance are for the operator only; other organizations must give their own cloud credentials.',
  security: SECURED,
  middleware: write,
  request: { params: OrganizationIdParams, ...jsonBody(NewStorageLocationSchema) },
  responses: {
    201: jsonResponse(z.object({ location: StorageLocationSchema, test: ConnectionTestSchema }), 'Added'),
    ...errorResponses(401, 403, 404),
    422: testFailed,
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/storage-locations/{locationId}',
  tags,
  summary: 'Get a storage location',
  description: 'One of the organization’s own locations.',
  security: SECURED,
  middleware: [requirePrincipal, inReach((em, org, c) => findOwnedLocation(em, org, c.req.param('locationId') ?? ''))],
  request: { params: LocationParams },
  responses: { 200: jsonResponse(StorageLocationSchema, 'Location'), ...errorResponses(401, 404) },
});

const updateRoute = createRoute({
  method: 'patch',
  path: '/organizations/{id}/storage-locations/{locationId}',
  tags,
  summary: 'Change a storage location',
  description:
    'Changed settings are connection-tested before they are saved. Refused (409) for the built-in location and for a location holding backups.',
  security: SECURED,
  middleware: writeOne,
  request: { params: LocationParams, ...jsonBody(StorageLocationChangesSchema) },
  responses: {
    200: jsonResponse(z.object({ location: StorageLocationSchema, test: ConnectionTestSchema.nullable() }), 'Saved'),
    ...errorResponses(401, 403, 404, 409),
    422: testFailed,
  },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/storage-locations/{locationId}',
  tags,
  summary: 'Remove a storage location',
  description: 'Refused (409) while it holds backups or is chosen by an organization or as a default.',
  security: SECURED,
  middleware: writeOne,
  request: { params: LocationParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404, 409) },
});

const testRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/storage-locations/{locationId}/test',
  tags,
  summary: 'Test a storage location again',
  description: 'Runs the connection test with the stored settings and keeps its result.',
  security: SECURED,
  middleware: writeOne,
  request: { params: LocationParams },
  responses: { 200: jsonResponse(ConnectionTestSchema, 'Result'), ...errorResponses(401, 403, 404) },
});

const getAssignmentRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/storage',
  tags,
  summary: "Where an organization's backups go",
  description:
    'Its location (own choice, else the nearest default above, else the built-in one) and, for portals, the default for new accounts.',
  security: SECURED,
  middleware: read,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(StorageAssignmentSchema, 'Assignment'), ...errorResponses(401, 404) },
});

const putAssignmentRoute = createRoute({
  method: 'put',
  path: '/organizations/{id}/storage',
  tags,
  summary: "Choose where an organization's backups go",
  description: 'Fields left out keep their value. Changing the location is refused (409) once backups exist.',
  security: SECURED,
  middleware: write,
  request: { params: OrganizationIdParams, ...jsonBody(StorageAssignmentChangesSchema) },
  responses: {
    200: jsonResponse(StorageAssignmentSchema, 'Assignment'),
    ...errorResponses(401, 403, 404, 409, 422),
  },
});

function testJson(result: ConnectionTestResult): z.infer<typeof ConnectionTestSchema> {
  return { ...result };
}

export function storageLocationsApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const ctxOf = (c: Context<AppEnv>): StorageContext => ({
    em: c.get('em'),
    credentials: deps.credentials,
    storageDir: deps.config.storageDir,
    multiNode: multiNodeMode(deps.config),
  });
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);
  const viewJson = (ctx: StorageContext, location: IStorageLocation, viewer: IOrganization) => {
    const view = locationView(ctx, location, viewer);
    return {
      ...view,
      lastTest: view.lastTest ? { ...view.lastTest, at: view.lastTest.at.toISOString() } : null,
    };
  };
  const failure = (c: Context<AppEnv>, err: ConnectionTestFailedError) =>
    c.json({ error: { code: err.code, message: err.message }, test: testJson(err.result) }, 422);
  const assignmentJson = async (c: Context<AppEnv>, orgId: string) => {
    const em = c.get('em');
    const org = await organization(c, orgId);
    const resolved: ResolvedLocation = await resolveLocation(em, org);
    const defaults = CHILD_KINDS[org.kind].length > 0 ? await defaultForNewAccounts(em, org) : null;
    return {
      location: { id: resolved.location.id, name: resolved.location.name },
      source: resolved.source,
      inheritedFrom: resolved.from?.id ?? null,
      fixed: (await backupsOf(em, org)) > 0,
      defaultForNewAccounts: defaults
        ? { id: defaults.location.id, name: defaults.location.name, source: defaults.source }
        : null,
    };
  };

  api.openapi(listRoute, async (c) => {
    const ctx = ctxOf(c);
    const org = await organization(c, c.req.valid('param').id);
    const rows = await availableLocations(ctx.em, org);
    return c.json({ items: rows.map((l) => viewJson(ctx, l, org)) }, 200);
  });

  api.openapi(createLocationRoute, async (c) => {
    const ctx = ctxOf(c);
    const org = await organization(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    try {
      const { location, test } = await createLocation(
        ctx,
        org,
        { name: body.name, kind: body.kind, settings: body.settings },
        'json',
        auditActorOf(c, deps),
        deps.now(),
      );
      return c.json({ location: viewJson(ctx, location, org), test: testJson(test) }, 201);
    } catch (err) {
      if (err instanceof ConnectionTestFailedError) return failure(c, err);
      throw err;
    }
  });

  api.openapi(getRoute, async (c) => {
    const ctx = ctxOf(c);
    const { id, locationId } = c.req.valid('param');
    const org = await organization(c, id);
    return c.json(viewJson(ctx, await findOwnedLocation(ctx.em, org, locationId), org), 200);
  });

  api.openapi(updateRoute, async (c) => {
    const ctx = ctxOf(c);
    const { id, locationId } = c.req.valid('param');
    const org = await organization(c, id);
    const location = await findOwnedLocation(ctx.em, org, locationId);
    const body = c.req.valid('json');
    const settings = body.settings ?? {};
    const clear = Object.entries(settings)
      .filter(([, v]) => v === null)
      .map(([k]) => k);
    try {
      const { test } = await updateLocation(
        ctx,
        org,
        location,
        { name: body.name, settings, clear },
        'merge',
        auditActorOf(c, deps),
        deps.now(),
      );
      return c.json({ location: viewJson(ctx, location, org), test: test ? testJson(test) : null }, 200);
    } catch (err) {
      if (err instanceof ConnectionTestFailedError) return failure(c, err);
      throw err;
    }
  });

  api.openapi(deleteRoute, async (c) => {
    const ctx = ctxOf(c);
    const { id, locationId } = c.req.valid('param');
    const org = await organization(c, id);
    await deleteLocation(ctx, org, await findOwnedLocation(ctx.em, org, locationId), auditActorOf(c, deps));
    return c.body(null, 204);
  });

  api.openapi(testRoute, async (c) => {
    const ctx = ctxOf(c);
    const { id, locationId } = c.req.valid('param');
    const org = await organization(c, id);
    const result = await retestLocation(ctx, await findOwnedLocation(ctx.em, org, locationId), deps.now());
    return c.json(testJson(result), 200);
  });

  api.openapi(getAssignmentRoute, async (c) => c.json(await assignmentJson(c, c.req.valid('param').id), 200));

  api.openapi(putAssignmentRoute, async (c) => {
    const { id } = c.req.valid('param');
    const org = await organization(c, id);
    const body = c.req.valid('json');
    const actor = auditActorOf(c, deps);
    try {
      if (body.locationId !== undefined) await setOrganizationLocation(c.get('em'), org, body.locationId, actor);
      if (body.defaultForNewAccountsId !== undefined) {
        await setDefaultForNewAccounts(c.get('em'), org, body.defaultForNewAccountsId, actor);
      }
    } catch (err) {
      // The domain names the fields as the settings form does; the API's payload names ids.
      if (err instanceof ValidationError) {
        throw new ValidationError(
          Object.fromEntries(Object.entries(err.fields ?? {}).map(([k, v]) => [`${k}Id`, v])),
          err.message,
        );
      }
      throw err;
    }
    return c.json(await assignmentJson(c, id), 200);
  });

  return api;
}
