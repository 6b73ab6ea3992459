// /api/v1/tasks: backup tasks and their entities, as the Homepage and the task pages show them.
// A task is found by id anywhere within the caller's reach (its organization, or an account under
// it they may reach); anything else is a 404, checked before the payload is read. Reading needs a
// caller; changes need "manage backups" (API keys act as administrators). Connection settings are
// write-only: no response ever carries them.
import { createRoute, z } from '@hono/zod-openapi';
import type { EntityManager } from '@mikro-orm/core';
import type { Context, MiddlewareHandler } from 'hono';
import { accessibleOrganization, canReach } from '../access/principal.ts';
import { startDrill } from '../drills/drill-schedule.ts';
import { drillJson, latestDrills } from '../drills/drill-status.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { jobInitiatorOf } from '../http/initiator.ts';
import { organizationOf, principalOf } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import { servicePlugin } from '../plugins/registry.ts';
import {
  BackupTask,
  CONNECTION_STATES,
  ENTITY_STATUSES,
  type EntityStatus,
  FREQUENCIES,
  type IBackupTask,
  type ITaskEntity,
  TASK_STATUSES,
} from '../tasks/entities.ts';
import {
  type ActionResult,
  activateEntities,
  backupNow,
  deleteEntities,
  pauseEntities,
  restoreEntities,
} from '../tasks/entity-actions.ts';
import {
  backupChart,
  CHART_RANGES,
  entityCountsByTask,
  entityPage,
  lastBackupOf,
  nextRunOf,
  requestDiscovery,
} from '../tasks/task-overview.ts';
import {
  checkNewTaskInput,
  createTask,
  deleteTask,
  listDeletedTasks,
  listTasks,
  reconnectTask,
  restoreTask,
  setTaskStatus,
  type TaskServiceDeps,
  updateTaskSettings,
} from '../tasks/tasks-service.ts';
import { jsonBody, jsonResponse, PagingQuery, pageOf } from './common.ts';
import { createApiRouter, guarded, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const tags = ['Backup tasks'];

const RetentionSchema = z
  .union([
    z.object({ kind: z.literal('all') }),
    z.object({ kind: z.literal('within'), amount: z.number().int(), unit: z.enum(['days', 'months', 'years']) }),
    z.object({ kind: z.literal('last'), count: z.number().int() }),
  ])
  .openapi('RetentionPolicy', { description: 'Keep every backup, backups within a period, or the last N backups.' });

const StatusCountsSchema = z
  .object(Object.fromEntries(ENTITY_STATUSES.map((s) => [s, z.number().int()])) as Record<EntityStatus, z.ZodNumber>)
  .openapi('EntityStatusCounts');

const DrillSchema = z
  .object({
    passed: z.boolean(),
    startedAt: z.string().openapi({ format: 'date-time' }),
    finishedAt: z.string().openapi({ format: 'date-time' }),
    snapshots: z.number().int().openapi({ description: "Snapshots sampled (each entity's latest)." }),
    items: z.number().int().openapi({ description: 'Items restored into the scratch folder and checked.' }),
    bytes: z.number(),
    durationMs: z.number().int(),
    cost: z.object({
      serviceApiCalls: z.number().int().openapi({ description: 'Always 0: a drill never calls the service.' }),
      storageBytesRead: z.number(),
    }),
    failures: z.array(z.object({ entity: z.string(), item: z.string(), reason: z.string() })),
    summary: z
      .string()
      .openapi({ example: 'Last verified restorable: 2026-12-07 13:05 UTC, 20 items, 4.2 MB, took 3 s' }),
  })
  .openapi('RestoreDrill');

const TaskSchema = z
  .object({
    id: z.string(),
    organizationId: z.string(),
    service: z.string().openapi({ description: 'The service plugin kind.', example: 'dropbox' }),
    serviceLabel: z.string(),
    name: z.string(),
    connectionState: z.enum(CONNECTION_STATES),
    connectionProblem: z.string().nullable().openapi({ description: 'Why the service refused the credentials.' }),
    status: z.enum(TASK_STATUSES),
    frequency: z.enum(FREQUENCIES),
    backupHour: z.number().int().openapi({ description: 'Hour of the day, UTC (0–23).' }),
    apiUsageLimitPercent: z.number().int().nullable(),
    indexForSearch: z.boolean(),
    autoActivate: z.boolean(),
    archivedRetentionDays: z.number().int().nullable().openapi({ description: 'null: archived backups are kept.' }),
    retention: RetentionSchema,
    storageLocation: z
      .string()
      .nullable()
      .openapi({ description: 'Fixed by the first snapshot (a location id, or "default" for the built-in one).' }),
    entities: StatusCountsSchema,
    lastBackupAt: z.string().nullable().openapi({ format: 'date-time' }),
    nextRunAt: z.string().nullable().openapi({ format: 'date-time', description: 'null while paused or deleted.' }),
    deletedAt: z.string().nullable().openapi({ format: 'date-time' }),
    purgeAfter: z
      .string()
      .nullable()
      .openapi({ format: 'date-time', description: 'A deleted task can be restored until then.' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    lastDrill: DrillSchema.nullable().openapi({ description: 'The latest restore drill; null: none yet.' }),
  })
  .openapi('BackupTask');

const SettingsInput = {
  frequency: z.enum(FREQUENCIES).optional(),
  backupHour: z.number().int().optional().openapi({ description: '0–23, UTC.' }),
  apiUsageLimitPercent: z.number().int().nullable().optional().openapi({ description: '1–100; null: no limit.' }),
  indexForSearch: z.boolean().optional(),
  autoActivate: z.boolean().optional(),
  archivedRetentionDays: z.number().int().nullable().optional(),
  retention: RetentionSchema.optional(),
};

const NewTaskSchema = z
  .object({
    service: z.string().max(100).openapi({ example: 'dropbox' }),
    name: z.string().max(200),
    connection: z.record(z.string(), z.unknown()).openapi({
      description: "The service plugin's connection settings (secrets included; they are write-only).",
    }),
    settings: z.object(SettingsInput).optional(),
  })
  .openapi('NewBackupTask');

const TaskChangesSchema = z
  .object({ name: z.string().max(200).optional(), ...SettingsInput })
  .openapi('BackupTaskChanges');

const ConnectionSchema = z.object({ connection: z.record(z.string(), z.unknown()) }).openapi('BackupTaskConnection');

const EntitySchema = z
  .object({
    id: z.string(),
    externalId: z.string().openapi({ description: "The service's id." }),
    name: z.string(),
    kind: z.string(),
    kindLabel: z.string(),
    status: z.enum(ENTITY_STATUSES),
    lastRunAt: z.string().nullable().openapi({ format: 'date-time' }),
    lastAdded: z.number().int(),
    lastUpdated: z.number().int(),
    lastDeleted: z.number().int(),
    items: z.number().int(),
    bytes: z.number(),
    lastSnapshotId: z.string().nullable(),
    lastError: z.string().nullable(),
    unavailableReason: z
      .string()
      .nullable()
      .openapi({ description: 'Status `unavailable`: why the service cannot be read for it now (not a failure).' }),
    archivedAt: z.string().nullable().openapi({ format: 'date-time' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('TaskEntity');

const SelectionSchema = z
  .object({ ids: z.array(z.string().max(36)).min(1).max(1000) })
  .openapi('EntitySelection', { description: 'Entity ids of this task; ids of other tasks are skipped.' });

const ActionResultSchema = z
  .object({
    done: z.number().int().openapi({ description: 'Entities the action changed or queued.' }),
    skipped: z.number().int().openapi({ description: 'Selected ids it did not apply to.' }),
    jobIds: z.array(z.string()).optional().openapi({ description: 'Backup Now: the queued jobs.' }),
  })
  .openapi('EntityActionResult');

const ChartSchema = z
  .object({
    days: z.array(
      z.object({
        day: z.string().openapi({ format: 'date', description: 'UTC day.' }),
        items: z.number().int().openapi({ description: 'New and changed items backed up that day.' }),
        runs: z.number().int(),
        failedRuns: z.number().int(),
        byKind: z.array(z.object({ label: z.string(), items: z.number().int() })),
      }),
    ),
  })
  .openapi('BackupChart');

const TaskIdParams = z.object({
  id: z
    .string()
    .max(36)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'Backup task id.' }),
});

function serviceDeps(deps: AppDeps): TaskServiceDeps {
  return { credentials: deps.credentials, services: servicePlugin, now: deps.now, log: deps.log };
}

/** The task with this id if the caller may reach its organization (deleted ones only when asked). */
export async function reachableTask(c: Context<AppEnv>, id: string, deleted = false): Promise<IBackupTask> {
  const em = c.get('em');
  const task =
    typeof id === 'string' && id.length <= 36
      ? await em.findOne(BackupTask, deleted ? { id, deletedAt: { $ne: null } } : { id, deletedAt: null }, {
          populate: ['organization'],
        })
      : null;
  if (!task || !canReach(principalOf(c), task.organization as IOrganization)) {
    throw new NotFoundError('No such backup task.');
  }
  return task;
}

/** Route middleware: 404 for a task out of reach, before the payload is validated. */
export function taskInReach(deleted = false): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await reachableTask(c, c.req.param('id') ?? '', deleted);
    await next();
  };
}

/** Route middleware: an `organization` query parameter out of reach is a 404 before the payload is read. */
const organizationInReach: MiddlewareHandler<AppEnv> = async (c, next) => {
  const id = c.req.query('organization');
  if (id !== undefined) await accessibleOrganization(c.get('em'), principalOf(c), id);
  await next();
};

async function taskJson(em: EntityManager, task: IBackupTask, now: Date): Promise<z.infer<typeof TaskSchema>> {
  const counts = (await entityCountsByTask(em, [task.id])).get(task.id);
  const last = await lastBackupOf(em, task);
  const next = nextRunOf(task, now);
  const drill = (await latestDrills(em, [task.id])).get(task.id);
  return {
    id: task.id,
    organizationId: task.organization.id,
    service: task.service,
    serviceLabel: servicePlugin(task.service)?.label ?? task.service,
    name: task.name,
    connectionState: task.connectionState,
    connectionProblem: task.connectionProblem ?? null,
    status: task.status,
    frequency: task.frequency,
    backupHour: task.backupHour,
    apiUsageLimitPercent: task.apiUsageLimitPercent ?? null,
    indexForSearch: task.indexForSearch,
    autoActivate: task.autoActivate,
    archivedRetentionDays: task.archivedRetentionDays ?? null,
    retention: task.retention,
    storageLocation: task.storageLocation ?? null,
    entities: counts as z.infer<typeof StatusCountsSchema>,
    lastBackupAt: last?.toISOString() ?? null,
    nextRunAt: next?.toISOString() ?? null,
    deletedAt: task.deletedAt?.toISOString() ?? null,
    purgeAfter: task.purgeAfter?.toISOString() ?? null,
    createdAt: task.createdAt.toISOString(),
    lastDrill: drill ? drillJson(drill) : null,
  };
}

function entityJson(e: ITaskEntity, kindLabels: ReadonlyMap<string, string>): z.infer<typeof EntitySchema> {
  return {
    id: e.id,
    externalId: e.externalId,
    name: e.name,
    kind: e.kind,
    kindLabel: kindLabels.get(e.kind) ?? e.kind,
    status: e.status,
    lastRunAt: e.lastRunAt?.toISOString() ?? null,
    lastAdded: e.lastAdded,
    lastUpdated: e.lastUpdated,
    lastDeleted: e.lastDeleted,
    items: e.lastItems,
    bytes: Number(e.lastBytes),
    lastSnapshotId: e.lastSnapshotId ?? null,
    lastError: e.lastError ?? null,
    unavailableReason: e.unavailableReason ?? null,
    archivedAt: e.archivedAt?.toISOString() ?? null,
    createdAt: e.createdAt.toISOString(),
  };
}

const read = [requirePrincipal, taskInReach()];
const write = [...guarded('manage_backups'), taskInReach()];

const listRoute = createRoute({
  method: 'get',
  path: '/tasks',
  tags,
  summary: 'List backup tasks',
  description:
    'The backup tasks of the organization worked in (or of `organization`, within reach), by name. With `deleted=true`, the deleted ones still in their grace period.',
  security: SECURED,
  middleware: [requirePrincipal, organizationInReach],
  request: {
    query: z.object({
      organization: z.string().max(36).optional().openapi({ description: 'An organization within reach.' }),
      deleted: z.enum(['true', 'false']).optional(),
    }),
  },
  responses: { 200: jsonResponse(z.object({ items: z.array(TaskSchema) }), 'Tasks'), ...errorResponses(401, 404) },
});

const createTaskRoute = createRoute({
  method: 'post',
  path: '/tasks',
  tags,
  summary: 'Add a backup task',
  description:
    'Validates the settings and the connection with the service plugin, checks the credentials with the service, saves the task (credentials encrypted) and queues a discovery of its entities at once. Problems come back per field: `settings.<name>` and `connection.<name>`, or `connection` when the service refused.',
  security: SECURED,
  middleware: [...guarded('manage_backups'), organizationInReach],
  request: {
    query: z.object({ organization: z.string().max(36).optional() }),
    ...jsonBody(NewTaskSchema),
  },
  responses: {
    201: jsonResponse(z.object({ task: TaskSchema, discoveryJobId: z.string() }), 'Added'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const getRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}',
  tags,
  summary: 'Get a backup task',
  security: SECURED,
  middleware: read,
  request: { params: TaskIdParams },
  responses: { 200: jsonResponse(TaskSchema, 'Task'), ...errorResponses(401, 404) },
});

const patchRoute = createRoute({
  method: 'patch',
  path: '/tasks/{id}',
  tags,
  summary: 'Change the settings of a backup task',
  description: 'Fields left out keep their value; all settings are validated together.',
  security: SECURED,
  middleware: write,
  request: { params: TaskIdParams, ...jsonBody(TaskChangesSchema) },
  responses: { 200: jsonResponse(TaskSchema, 'Saved'), ...errorResponses(401, 403, 404, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/tasks/{id}',
  tags,
  summary: 'Delete a backup task',
  description:
    'Hidden at once, queued backups canceled and running ones stopped; restorable until `purgeAfter` (7 days), then purged with its backups.',
  security: SECURED,
  middleware: write,
  request: { params: TaskIdParams },
  responses: { 200: jsonResponse(TaskSchema, 'Deleted'), ...errorResponses(401, 403, 404) },
});

const restoreRoute = createRoute({
  method: 'post',
  path: '/tasks/{id}/restore',
  tags,
  summary: 'Restore a deleted backup task',
  description: 'Works during the grace period only.',
  security: SECURED,
  middleware: [...guarded('manage_backups'), taskInReach(true)],
  request: { params: TaskIdParams },
  responses: { 200: jsonResponse(TaskSchema, 'Restored'), ...errorResponses(401, 403, 404) },
});

const statusRoute = (action: 'pause' | 'resume') =>
  createRoute({
    method: 'post',
    path: `/tasks/{id}/${action}`,
    tags,
    summary: action === 'pause' ? 'Pause a backup task' : 'Resume a backup task',
    description:
      action === 'pause'
        ? 'No scheduled backups run while paused; entities keep their statuses.'
        : 'Scheduled backups run again.',
    security: SECURED,
    middleware: write,
    request: { params: TaskIdParams },
    responses: { 200: jsonResponse(TaskSchema, 'Task'), ...errorResponses(401, 403, 404) },
  });

const connectionRoute = createRoute({
  method: 'put',
  path: '/tasks/{id}/connection',
  tags,
  summary: 'Authenticate a backup task again',
  description: 'New connection settings, checked with the service before they replace the stored ones.',
  security: SECURED,
  middleware: write,
  request: { params: TaskIdParams, ...jsonBody(ConnectionSchema) },
  responses: { 200: jsonResponse(TaskSchema, 'Connected'), ...errorResponses(401, 403, 404, 422) },
});

const discoverRoute = createRoute({
  method: 'post',
  path: '/tasks/{id}/discover',
  tags,
  summary: 'Discover the entities of a backup task now',
  security: SECURED,
  middleware: write,
  request: { params: TaskIdParams },
  responses: { 202: jsonResponse(z.object({ jobId: z.string() }), 'Queued'), ...errorResponses(401, 403, 404) },
});

const drillRoute = createRoute({
  method: 'post',
  path: '/tasks/{id}/drills',
  tags,
  summary: 'Run a restore drill of a backup task now',
  description:
    "Restores a random sample of the latest backups into a scratch folder on the appliance (never to the service), checks it, and records the result as the task's lastDrill.",
  security: SECURED,
  middleware: write,
  request: { params: TaskIdParams },
  responses: { 202: jsonResponse(z.object({ jobId: z.string() }), 'Queued'), ...errorResponses(401, 403, 404) },
});

const entitiesRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/entities',
  tags,
  summary: 'List the entities of a backup task',
  description: 'Users, team folders or objects found by discovery (deleted ones left out), by name.',
  security: SECURED,
  middleware: read,
  request: {
    params: TaskIdParams,
    query: z.object({
      search: z.string().max(200).optional().openapi({ description: 'Part of the name, any case.' }),
      status: z.enum(ENTITY_STATUSES).optional(),
      kind: z.string().max(100).optional(),
      ...PagingQuery,
    }),
  },
  responses: {
    200: jsonResponse(pageOf(EntitySchema, 'TaskEntityPage'), 'One page of entities'),
    ...errorResponses(401, 404, 422),
  },
});

const ENTITY_ACTIONS = {
  activate: 'Activate: Not Active or Paused entities become Scheduled.',
  pause: 'Pause: no backups until activated again; queued runs are dropped.',
  'backup-now': 'Backup Now: queue a backup of each (a Not Active one is activated).',
  delete: 'Delete: hidden at once, restorable for 7 days, then their backups are purged.',
  restore: 'Restore entities deleted during their grace period.',
} as const;
type EntityActionName = keyof typeof ENTITY_ACTIONS;

const actionRoute = (action: EntityActionName) =>
  createRoute({
    method: 'post',
    path: `/tasks/{id}/entities/${action}`,
    tags,
    summary: `${ENTITY_ACTIONS[action].split(':')[0]} entities`,
    description: ENTITY_ACTIONS[action],
    security: SECURED,
    middleware: write,
    request: { params: TaskIdParams, ...jsonBody(SelectionSchema) },
    responses: { 200: jsonResponse(ActionResultSchema, 'Done'), ...errorResponses(401, 403, 404, 422) },
  });

const chartRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/chart',
  tags,
  summary: 'Items backed up per day',
  description:
    'New and changed items per UTC day over the last 7, 14 or 30 days (today included), from finished backup runs.',
  security: SECURED,
  middleware: read,
  request: {
    params: TaskIdParams,
    query: z.object({ days: z.enum(CHART_RANGES.map(String) as ['7', '14', '30']).default('14') }),
  },
  responses: { 200: jsonResponse(ChartSchema, 'Chart data'), ...errorResponses(401, 404, 422) },
});

export function tasksApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const targetOrganization = async (c: Context<AppEnv>, id: string | undefined): Promise<IOrganization> =>
    id ? accessibleOrganization(c.get('em'), principalOf(c), id) : organizationOf(c);

  api.openapi(listRoute, async (c) => {
    const em = c.get('em');
    const { organization, deleted } = c.req.valid('query');
    const org = await targetOrganization(c, organization);
    const now = deps.now();
    const tasks =
      deleted === 'true'
        ? (await listDeletedTasks(em, org)).filter((t) => t.purgeAfter && t.purgeAfter > now)
        : await listTasks(em, org);
    const items = [];
    for (const task of tasks) items.push(await taskJson(em, task, now));
    return c.json({ items }, 200);
  });

  api.openapi(createTaskRoute, async (c) => {
    const em = c.get('em');
    const org = await targetOrganization(c, c.req.valid('query').organization);
    const body = c.req.valid('json');
    const plugin = servicePlugin(body.service);
    if (!plugin) {
      throw new ValidationError(
        { service: 'Choose a service that is installed on this appliance.' },
        `No service plugin "${body.service}" is installed on this appliance.`,
      );
    }
    const problems = checkNewTaskInput(plugin, {
      name: body.name,
      connection: body.connection,
      settings: body.settings,
    });
    // Field names as the payload has them: the name at the top, the rest under settings / connection.
    const fields = {
      ...Object.fromEntries(
        Object.entries(problems.settings).map(([k, v]) => [k === 'name' ? 'name' : `settings.${k}`, v]),
      ),
      ...Object.fromEntries(Object.entries(problems.connection).map(([k, v]) => [`connection.${k}`, v])),
    };
    if (Object.keys(fields).length) throw new ValidationError(fields);
    const task = await createTask(
      em,
      serviceDeps(deps),
      org,
      { service: plugin.kind, name: body.name, connection: body.connection, settings: body.settings ?? {} },
      auditActorOf(c, deps),
    );
    const discoveryJobId = await requestDiscovery(
      em,
      task,
      jobInitiatorOf(c, deps),
      deps.now(),
      deps.config.jobMaxAttempts,
    );
    return c.json({ task: await taskJson(em, task, deps.now()), discoveryJobId }, 201);
  });

  api.openapi(getRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    return c.json(await taskJson(c.get('em'), task, deps.now()), 200);
  });

  api.openapi(patchRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    await updateTaskSettings(c.get('em'), serviceDeps(deps), task, c.req.valid('json'), auditActorOf(c, deps));
    return c.json(await taskJson(c.get('em'), task, deps.now()), 200);
  });

  api.openapi(deleteRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    await deleteTask(c.get('em'), serviceDeps(deps), task, auditActorOf(c, deps));
    return c.json(await taskJson(c.get('em'), task, deps.now()), 200);
  });

  api.openapi(restoreRoute, async (c) => {
    const found = await reachableTask(c, c.req.valid('param').id, true);
    const task = await restoreTask(
      c.get('em'),
      serviceDeps(deps),
      found.organization as IOrganization,
      found.id,
      auditActorOf(c, deps),
    );
    return c.json(await taskJson(c.get('em'), task, deps.now()), 200);
  });

  for (const action of ['pause', 'resume'] as const) {
    api.openapi(statusRoute(action), async (c) => {
      const task = await reachableTask(c, c.req.valid('param').id);
      await setTaskStatus(c.get('em'), task, action === 'pause' ? 'paused' : 'active', auditActorOf(c, deps));
      return c.json(await taskJson(c.get('em'), task, deps.now()), 200);
    });
  }

  api.openapi(connectionRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    await reconnectTask(c.get('em'), serviceDeps(deps), task, c.req.valid('json').connection, auditActorOf(c, deps));
    return c.json(await taskJson(c.get('em'), task, deps.now()), 200);
  });

  api.openapi(discoverRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    const jobId = await requestDiscovery(
      c.get('em'),
      task,
      jobInitiatorOf(c, deps),
      deps.now(),
      deps.config.jobMaxAttempts,
    );
    return c.json({ jobId }, 202);
  });

  api.openapi(drillRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    const jobId = await startDrill(c.get('em'), task, jobInitiatorOf(c, deps), deps.now(), deps.config.jobMaxAttempts);
    return c.json({ jobId }, 202);
  });

  api.openapi(entitiesRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    const { search, status, kind, page, pageSize } = c.req.valid('query');
    const { entities, total } = await entityPage(c.get('em'), task, {
      search: search?.trim() || undefined,
      status,
      kind,
      page,
      pageSize,
    });
    const labels = new Map(servicePlugin(task.service)?.entityKinds.map((k) => [k.kind, k.label]) ?? []);
    return c.json({ items: entities.map((e) => entityJson(e, labels)), total, page, pageSize }, 200);
  });

  for (const action of Object.keys(ENTITY_ACTIONS) as EntityActionName[]) {
    api.openapi(actionRoute(action), async (c) => {
      const em = c.get('em');
      const task = await reachableTask(c, c.req.valid('param').id);
      const { ids } = c.req.valid('json');
      const actor = auditActorOf(c, deps);
      const now = deps.now();
      let result: ActionResult & { jobIds?: string[] };
      if (action === 'activate') result = await activateEntities(em, task, ids, actor);
      else if (action === 'pause') result = await pauseEntities(em, task, ids, actor, now);
      else if (action === 'delete') result = await deleteEntities(em, task, ids, actor, now);
      else if (action === 'restore') result = await restoreEntities(em, task, ids, actor, now);
      else result = await backupNow(em, task, ids, jobInitiatorOf(c, deps), now, deps.config.jobMaxAttempts);
      return c.json(result, 200);
    });
  }

  api.openapi(chartRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    const days = Number(c.req.valid('query').days);
    return c.json({ days: await backupChart(c.get('em'), task, servicePlugin(task.service), days, deps.now()) }, 200);
  });

  return api;
}
