// /api/v1/tasks/{id}/smart-alerts: the smart alert rules of a backup task (seed 6.4), for tasks
// whose service offers them. Reading needs a task within reach; changing needs "Manage backups".
// A task out of reach, or a rule of another task, is a 404.
import { createRoute, z } from '@hono/zod-openapi';
import type { AppDeps } from '../http/env.ts';
import { ALERT_CHANGES, ALERT_UNITS, ALERT_USERS, type ISmartAlertRule } from '../smart-alerts/entities.ts';
import { describeRule } from '../smart-alerts/evaluate.ts';
import { createRule, deleteRule, findRule, listRules, updateRule } from '../smart-alerts/rules.ts';
import { jsonBody, jsonResponse } from './common.ts';
import { createApiRouter, guarded, requirePrincipal, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';
import { reachableTask, taskInReach } from './tasks.ts';

const RuleSchema = z
  .object({
    id: z.number().int(),
    object: z.string().nullable().openapi({ description: 'The object (API name) watched; null: every object.' }),
    change: z.enum(ALERT_CHANGES),
    unit: z
      .enum(ALERT_UNITS)
      .openapi({ description: 'count: a number of records; percent: of the object’s records before the run.' }),
    threshold: z.number().int().openapi({ description: 'Fires when a run’s changes are more than this.' }),
    users: z.enum(ALERT_USERS).openapi({ description: 'one: any single user’s changes; all: everyone’s together.' }),
    enabled: z.boolean(),
    description: z.string(),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('SmartAlertRule');

const fields = {
  object: z
    .string()
    .max(500)
    .optional()
    .openapi({ description: 'An object’s API name; empty or left out: every object.' }),
  change: z.enum(ALERT_CHANGES),
  unit: z.enum(ALERT_UNITS),
  threshold: z.number().int().min(0).openapi({ description: 'A count, or a percentage from 0 to 100.' }),
  enabled: z.boolean().optional(),
};
const NewRuleSchema = z.object({ ...fields, users: z.enum(ALERT_USERS) }).openapi('NewSmartAlertRule');
const RuleChangesSchema = z
  .object({
    object: fields.object,
    change: fields.change.optional(),
    unit: fields.unit.optional(),
    threshold: fields.threshold.optional(),
    enabled: fields.enabled,
    users: z.enum(ALERT_USERS).optional().openapi({ description: 'Cannot change (422): add a new rule instead.' }),
  })
  .openapi('SmartAlertRuleChanges');

const TaskParams = z.object({
  id: z
    .string()
    .max(36)
    .openapi({ param: { name: 'id', in: 'path' }, description: 'Backup task id.' }),
});
const RuleParams = TaskParams.extend({
  alertId: z.coerce
    .number()
    .int()
    .openapi({ param: { name: 'alertId', in: 'path' }, type: 'integer' }),
});

const tags = ['Smart alerts'];
const read = [requirePrincipal, taskInReach()];
const write = [...guarded('manage_backups'), taskInReach()];

const listRoute = createRoute({
  method: 'get',
  path: '/tasks/{id}/smart-alerts',
  tags,
  summary: 'List the smart alert rules of a backup task',
  security: SECURED,
  middleware: read,
  request: { params: TaskParams },
  responses: { 200: jsonResponse(z.array(RuleSchema), 'Rules'), ...errorResponses(401, 404) },
});

const addRoute = createRoute({
  method: 'post',
  path: '/tasks/{id}/smart-alerts',
  tags,
  summary: 'Add a smart alert rule',
  description:
    'Checked after every backup run of the task: the rule fires (a smart alert notification and a System Activity entry) when the run’s added, updated or deleted records are more than the threshold. 409 when the task’s service offers no smart alerts.',
  security: SECURED,
  middleware: write,
  request: { params: TaskParams, ...jsonBody(NewRuleSchema) },
  responses: { 201: jsonResponse(RuleSchema, 'The new rule'), ...errorResponses(401, 403, 404, 409, 422) },
});

const updateRoute = createRoute({
  method: 'patch',
  path: '/tasks/{id}/smart-alerts/{alertId}',
  tags,
  summary: 'Change a smart alert rule',
  description: 'Fields left out keep their value. One user vs all users cannot change.',
  security: SECURED,
  middleware: write,
  request: { params: RuleParams, ...jsonBody(RuleChangesSchema) },
  responses: { 200: jsonResponse(RuleSchema, 'The rule'), ...errorResponses(401, 403, 404, 409, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/tasks/{id}/smart-alerts/{alertId}',
  tags,
  summary: 'Remove a smart alert rule',
  security: SECURED,
  middleware: write,
  request: { params: RuleParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
});

export function ruleJson(r: ISmartAlertRule): z.infer<typeof RuleSchema> {
  return {
    id: r.id,
    object: r.entityExternalId ?? null,
    change: r.change,
    unit: r.unit,
    threshold: r.threshold,
    users: r.users,
    enabled: r.enabled,
    description: describeRule(r),
    createdAt: r.createdAt.toISOString(),
  };
}

export function smartAlertsApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  api.openapi(listRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    return c.json((await listRules(c.get('em'), task)).map(ruleJson), 200);
  });
  api.openapi(addRoute, async (c) => {
    const task = await reachableTask(c, c.req.valid('param').id);
    const rule = await createRule(c.get('em'), task, c.req.valid('json'), deps.now());
    return c.json(ruleJson(rule), 201);
  });
  api.openapi(updateRoute, async (c) => {
    const { id, alertId } = c.req.valid('param');
    const task = await reachableTask(c, id);
    await findRule(c.get('em'), task, alertId);
    const rule = await updateRule(c.get('em'), task, alertId, c.req.valid('json'));
    return c.json(ruleJson(rule), 200);
  });
  api.openapi(deleteRoute, async (c) => {
    const { id, alertId } = c.req.valid('param');
    const task = await reachableTask(c, id);
    await deleteRule(c.get('em'), task, alertId);
    return c.body(null, 204);
  });
  return api;
}
