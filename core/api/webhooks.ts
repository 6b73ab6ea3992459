// /api/v1/organizations/{id}/webhooks: HTTPS endpoints that receive the organization's events,
// signed (docs/WEBHOOKS.md), with their delivery log and a test event. Needs "Manage integrations".
// The signing secret is in the response that creates the endpoint, and nowhere else.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import {
  createEndpoint,
  deleteEndpoint,
  findEndpoint,
  listDeliveries,
  listEndpoints,
  updateEndpoint,
} from '../webhooks/endpoints.ts';
import {
  type IWebhookDelivery,
  type IWebhookEndpoint,
  WEBHOOK_DELIVERY_STATUSES,
  WEBHOOK_EVENT_TYPES,
} from '../webhooks/entities.ts';
import { sendTestEvent } from '../webhooks/sender.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const EventsSchema = z.array(z.enum(WEBHOOK_EVENT_TYPES)).openapi({
  description:
    'The event types the endpoint receives: the notification types (summary, recovery, exceptions, discovery, smart_alerts, trials) and job.succeeded, job.failed.',
  example: ['exceptions', 'job.failed'],
});

const WebhookSchema = z
  .object({
    id: z.string(),
    url: z.string().openapi({ format: 'uri' }),
    description: z.string(),
    events: EventsSchema,
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Webhook');

const CreatedWebhookSchema = WebhookSchema.extend({
  secret: z.string().openapi({ description: 'The signing secret. Shown in this response only.' }),
}).openapi('CreatedWebhook');

const NewWebhookSchema = z
  .object({
    url: z.string().max(2000).openapi({
      format: 'uri',
      example: 'https://hooks.example.com/holdfast',
      description:
        'An https:// URL on a public address (422 on `url` otherwise, unless the operator allows private ones).',
    }),
    description: z.string().max(200).optional(),
    events: EventsSchema,
  })
  .openapi('NewWebhook');

const WebhookChangesSchema = z
  .object({
    url: z.string().max(2000).optional(),
    description: z.string().max(200).optional(),
    events: EventsSchema.optional(),
  })
  .openapi('WebhookChanges');

const DeliverySchema = z
  .object({
    id: z.number().int(),
    type: z.string(),
    createdAt: z.string().openapi({ format: 'date-time' }),
    status: z.enum(WEBHOOK_DELIVERY_STATUSES),
    attempts: z.number().int(),
    nextAttemptAt: z.string().nullable().openapi({ format: 'date-time' }),
    deliveredAt: z.string().nullable().openapi({ format: 'date-time' }),
    lastStatus: z
      .number()
      .int()
      .nullable()
      .openapi({ description: 'The HTTP status of the last answer; null when there was none.' }),
    lastResponse: z
      .string()
      .nullable()
      .openapi({ description: 'The start of the last answer’s body, or why there was none.' }),
    body: z.string().openapi({ description: 'The JSON body sent.' }),
  })
  .openapi('WebhookDelivery');

const WebhookParams = OrganizationIdParams.extend({
  webhookId: z.string().openapi({ param: { name: 'webhookId', in: 'path' } }),
});

const tags = ['Webhooks'];
const middleware = [...guarded('manage_integrations'), inReach()];
const webhookMiddleware = [
  ...guarded('manage_integrations'),
  inReach((em, org, c) => findEndpoint(em, org, c.req.param('webhookId') ?? '')),
];

const route = <P extends string, M extends 'get' | 'post' | 'patch' | 'delete'>(method: M, path: P) => ({
  method,
  path,
  tags,
  security: SECURED,
});

const listRoute = createRoute({
  ...route('get', '/organizations/{id}/webhooks'),
  summary: 'List webhooks',
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(z.array(WebhookSchema), 'Webhooks'), ...errorResponses(401, 403, 404) },
});

const addRoute = createRoute({
  ...route('post', '/organizations/{id}/webhooks'),
  summary: 'Add a webhook',
  description: 'Returns the signing secret, once.',
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(NewWebhookSchema) },
  responses: { 201: jsonResponse(CreatedWebhookSchema, 'The new webhook'), ...errorResponses(401, 403, 404, 422) },
});

const getRoute = createRoute({
  ...route('get', '/organizations/{id}/webhooks/{webhookId}'),
  summary: 'Read a webhook',
  middleware: webhookMiddleware,
  request: { params: WebhookParams },
  responses: { 200: jsonResponse(WebhookSchema, 'The webhook'), ...errorResponses(401, 403, 404) },
});

const updateRoute = createRoute({
  ...route('patch', '/organizations/{id}/webhooks/{webhookId}'),
  summary: 'Change a webhook',
  description: 'Fields left out keep their value; the secret does not change.',
  middleware: webhookMiddleware,
  request: { params: WebhookParams, ...jsonBody(WebhookChangesSchema) },
  responses: { 200: jsonResponse(WebhookSchema, 'The webhook'), ...errorResponses(401, 403, 404, 422) },
});

const deleteRoute = createRoute({
  ...route('delete', '/organizations/{id}/webhooks/{webhookId}'),
  summary: 'Remove a webhook',
  description: 'Its deliveries, sent or waiting, go with it.',
  middleware: webhookMiddleware,
  request: { params: WebhookParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
});

const deliveriesRoute = createRoute({
  ...route('get', '/organizations/{id}/webhooks/{webhookId}/deliveries'),
  summary: 'List a webhook’s deliveries',
  description: 'The 50 most recent, newest first, with the last answer of each.',
  middleware: webhookMiddleware,
  request: { params: WebhookParams },
  responses: { 200: jsonResponse(z.array(DeliverySchema), 'Deliveries'), ...errorResponses(401, 403, 404) },
});

const testRoute = createRoute({
  ...route('post', '/organizations/{id}/webhooks/{webhookId}/test'),
  summary: 'Send a test event',
  description:
    'Sends a `test` event to this endpoint now and returns its delivery; one not accepted is retried like any event.',
  middleware: webhookMiddleware,
  request: { params: WebhookParams },
  responses: { 200: jsonResponse(DeliverySchema, 'The test delivery'), ...errorResponses(401, 403, 404) },
});

function webhookJson(e: IWebhookEndpoint): z.infer<typeof WebhookSchema> {
  return { id: e.id, url: e.url, description: e.description, events: e.events, createdAt: e.createdAt.toISOString() };
}

function deliveryJson(d: IWebhookDelivery): z.infer<typeof DeliverySchema> {
  return {
    id: d.id,
    type: d.type,
    createdAt: d.createdAt.toISOString(),
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
    deliveredAt: d.deliveredAt?.toISOString() ?? null,
    lastStatus: d.lastStatus ?? null,
    lastResponse: d.lastResponse ?? null,
    body: d.body,
  };
}

export function webhooksApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);
  const options = () => ({ allowPrivate: deps.config.webhooksAllowPrivate });
  const endpoint = async (c: Context<AppEnv>, id: string, webhookId: string) =>
    findEndpoint(c.get('em'), await organization(c, id), webhookId);

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json((await listEndpoints(c.get('em'), org)).map(webhookJson), 200);
  });

  api.openapi(addRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const { endpoint: e, secret } = await createEndpoint(
      c.get('em'),
      deps.credentials,
      org,
      c.req.valid('json'),
      options(),
      deps.now(),
    );
    return c.json({ ...webhookJson(e), secret }, 201);
  });

  api.openapi(getRoute, async (c) => {
    const { id, webhookId } = c.req.valid('param');
    return c.json(webhookJson(await endpoint(c, id, webhookId)), 200);
  });

  api.openapi(updateRoute, async (c) => {
    const { id, webhookId } = c.req.valid('param');
    const org = await organization(c, id);
    const e = await findEndpoint(c.get('em'), org, webhookId);
    const body = c.req.valid('json');
    const updated = await updateEndpoint(
      c.get('em'),
      org,
      e.id,
      { url: body.url ?? e.url, description: body.description ?? e.description, events: body.events ?? e.events },
      options(),
    );
    return c.json(webhookJson(updated), 200);
  });

  api.openapi(deleteRoute, async (c) => {
    const { id, webhookId } = c.req.valid('param');
    await deleteEndpoint(c.get('em'), await organization(c, id), webhookId);
    return c.body(null, 204);
  });

  api.openapi(deliveriesRoute, async (c) => {
    const { id, webhookId } = c.req.valid('param');
    const e = await endpoint(c, id, webhookId);
    return c.json((await listDeliveries(c.get('em'), e)).map(deliveryJson), 200);
  });

  api.openapi(testRoute, async (c) => {
    const { id, webhookId } = c.req.valid('param');
    const e = await endpoint(c, id, webhookId);
    const delivery = await sendTestEvent(
      { orm: deps.orm, cipher: deps.credentials, settings: deps.config, log: c.get('log') },
      e,
      deps.now(),
    );
    return c.json(deliveryJson(delivery), 200);
  });

  return api;
}
