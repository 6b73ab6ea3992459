// /api/v1/organizations/{id}/integrations: the organization's integrations (Splunk HEC …) that
// send its events to other systems (docs/INTEGRATIONS.md), with their state and a test event.
// Needs "Manage integrations". The secret is write-only: no response carries it.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { type IIntegration, INTEGRATION_STREAMS } from '../integrations/entities.ts';
import {
  createIntegration,
  deleteIntegration,
  findIntegration,
  integrationState,
  listIntegrations,
  updateIntegration,
} from '../integrations/integrations.ts';
import { INTEGRATION_KINDS } from '../integrations/kinds.ts';
import { sendIntegrationTest } from '../integrations/sender.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const KINDS = INTEGRATION_KINDS.map((k) => k.id) as [string, ...string[]];

const StreamsSchema = z.array(z.enum(INTEGRATION_STREAMS)).openapi({
  description:
    'What it sends: `activity` (System Activity of the accounts under the organization, or of the account itself), `audit` (their Security audit), `own` (a portal’s own events; not for a customer account).',
  example: ['activity', 'audit'],
});

const SettingsSchema = z.record(z.string(), z.unknown()).openapi({
  description:
    'The kind’s settings. Splunk: `url` (the HTTP Event Collector URL), optional `source`, `sourcetype`, `index`, and `ack` (true when the token has indexer acknowledgment on). Syslog: `host`, `port` (default 6514), `format` (`json` or `cef`), optional `ca` (PEM certificates to trust).',
  example: { url: 'https://splunk.example.com:8088/services/collector/event', source: 'holdfast', ack: false },
});

const IntegrationSchema = z
  .object({
    id: z.string(),
    kind: z.enum(KINDS),
    enabled: z.boolean(),
    state: z.enum(['active', 'failing', 'off']),
    settings: SettingsSchema,
    streams: StreamsSchema,
    failingSince: z.string().nullable().openapi({ format: 'date-time' }),
    lastError: z.string().nullable().openapi({ description: 'Why the last attempt failed (while Failing).' }),
    lastDeliveredAt: z.string().nullable().openapi({ format: 'date-time' }),
    deliveredCount: z.number().int(),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Integration');

const NewIntegrationSchema = z
  .object({
    kind: z.enum(KINDS),
    enabled: z.boolean().optional(),
    streams: StreamsSchema,
    settings: SettingsSchema,
    secret: z
      .string()
      .max(1000)
      .optional()
      .openapi({ description: 'The kind’s secret (Splunk: the HEC token; required there). Write-only.' }),
  })
  .openapi('NewIntegration');

const IntegrationChangesSchema = z
  .object({
    enabled: z.boolean().optional(),
    streams: StreamsSchema.optional(),
    settings: SettingsSchema.optional().openapi({
      description: 'Replaces the settings given; others keep their value.',
    }),
    secret: z.string().max(1000).optional().openapi({ description: 'A new secret; left out keeps the stored one.' }),
  })
  .openapi('IntegrationChanges');

const TestResultSchema = z
  .object({ delivered: z.boolean(), reason: z.string().nullable() })
  .openapi('IntegrationTestResult');

const IntegrationParams = OrganizationIdParams.extend({
  integrationId: z.string().openapi({ param: { name: 'integrationId', in: 'path' } }),
});

const tags = ['Integrations'];
const middleware = [...guarded('manage_integrations'), inReach()];
const itemMiddleware = [
  ...guarded('manage_integrations'),
  inReach((em, org, c) => findIntegration(em, org, c.req.param('integrationId') ?? '')),
];

const route = <P extends string, M extends 'get' | 'post' | 'patch' | 'delete'>(method: M, path: P) => ({
  method,
  path,
  tags,
  security: SECURED,
});

const listRoute = createRoute({
  ...route('get', '/organizations/{id}/integrations'),
  summary: 'List integrations',
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(z.array(IntegrationSchema), 'Integrations'), ...errorResponses(401, 403, 404) },
});

const addRoute = createRoute({
  ...route('post', '/organizations/{id}/integrations'),
  summary: 'Add an integration',
  description: 'It sends what happens from now on. The secret is stored encrypted and never returned.',
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(NewIntegrationSchema) },
  responses: { 201: jsonResponse(IntegrationSchema, 'The new integration'), ...errorResponses(401, 403, 404, 422) },
});

const getRoute = createRoute({
  ...route('get', '/organizations/{id}/integrations/{integrationId}'),
  summary: 'Read an integration',
  middleware: itemMiddleware,
  request: { params: IntegrationParams },
  responses: { 200: jsonResponse(IntegrationSchema, 'The integration'), ...errorResponses(401, 403, 404) },
});

const updateRoute = createRoute({
  ...route('patch', '/organizations/{id}/integrations/{integrationId}'),
  summary: 'Change an integration',
  description: 'Fields left out keep their value.',
  middleware: itemMiddleware,
  request: { params: IntegrationParams, ...jsonBody(IntegrationChangesSchema) },
  responses: { 200: jsonResponse(IntegrationSchema, 'The integration'), ...errorResponses(401, 403, 404, 422) },
});

const deleteRoute = createRoute({
  ...route('delete', '/organizations/{id}/integrations/{integrationId}'),
  summary: 'Remove an integration',
  middleware: itemMiddleware,
  request: { params: IntegrationParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
});

const testRoute = createRoute({
  ...route('post', '/organizations/{id}/integrations/{integrationId}/test'),
  summary: 'Send a test event',
  description: 'Sends one `test` event now; the integration’s cursor and state do not change.',
  middleware: itemMiddleware,
  request: { params: IntegrationParams },
  responses: { 200: jsonResponse(TestResultSchema, 'Whether it was taken'), ...errorResponses(401, 403, 404) },
});

function integrationJson(i: IIntegration): z.infer<typeof IntegrationSchema> {
  return {
    id: i.id,
    kind: i.kind,
    enabled: i.enabled,
    state: integrationState(i),
    settings: i.settings,
    streams: i.streams,
    failingSince: i.failingSince?.toISOString() ?? null,
    lastError: i.lastError ?? null,
    lastDeliveredAt: i.lastDeliveredAt?.toISOString() ?? null,
    deliveredCount: i.deliveredCount,
    createdAt: i.createdAt.toISOString(),
  };
}

export function integrationsApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);
  const options = () => ({ allowPrivate: deps.config.webhooksAllowPrivate });

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json((await listIntegrations(c.get('em'), org)).map(integrationJson), 200);
  });

  api.openapi(addRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    const i = await createIntegration(
      c.get('em'),
      deps.credentials,
      org,
      body,
      options(),
      auditActor(c, deps),
      deps.now(),
    );
    return c.json(integrationJson(i), 201);
  });

  api.openapi(getRoute, async (c) => {
    const { id, integrationId } = c.req.valid('param');
    return c.json(integrationJson(await findIntegration(c.get('em'), await organization(c, id), integrationId)), 200);
  });

  api.openapi(updateRoute, async (c) => {
    const { id, integrationId } = c.req.valid('param');
    const org = await organization(c, id);
    const i = await findIntegration(c.get('em'), org, integrationId);
    const body = c.req.valid('json');
    const updated = await updateIntegration(
      c.get('em'),
      deps.credentials,
      org,
      i.id,
      {
        enabled: body.enabled ?? i.enabled,
        streams: body.streams ?? i.streams,
        settings: { ...i.settings, ...(body.settings ?? {}) },
        secret: body.secret,
      },
      options(),
      auditActor(c, deps),
      deps.now(),
    );
    return c.json(integrationJson(updated), 200);
  });

  api.openapi(deleteRoute, async (c) => {
    const { id, integrationId } = c.req.valid('param');
    await deleteIntegration(c.get('em'), await organization(c, id), integrationId, auditActor(c, deps));
    return c.body(null, 204);
  });

  api.openapi(testRoute, async (c) => {
    const { id, integrationId } = c.req.valid('param');
    const i = await findIntegration(c.get('em'), await organization(c, id), integrationId);
    const result = await sendIntegrationTest(
      { orm: deps.orm, cipher: deps.credentials, settings: deps.config, log: c.get('log') },
      i,
      principalOf(c).label,
      deps.now(),
    );
    return c.json({ delivered: result.ok, reason: result.ok ? null : result.reason }, 200);
  });

  return api;
}
