// /api/v1/organizations/{id}/notification-recipients: who receives which notification types at
// an organization. Needs "Manage notifications". Recipients of an organization above a customer
// receive a type for it unless the customer has its own recipients for that type.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { type INotificationRecipient, NOTIFICATION_TYPES } from '../notifications/entities.ts';
import {
  createRecipient,
  deleteRecipient,
  findRecipient,
  listRecipients,
  updateRecipient,
} from '../notifications/recipients.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const TypesSchema = z.array(z.enum(NOTIFICATION_TYPES)).openapi({
  description:
    'The notification types the recipient receives: summary (Summary report), recovery, exceptions, discovery (Auto-discovery), smart_alerts, trials (Trial accounts report).',
  example: ['exceptions', 'recovery'],
});

const RecipientSchema = z
  .object({
    id: z.number().int(),
    email: z.string().openapi({ format: 'email' }),
    displayName: z.string(),
    types: TypesSchema,
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('NotificationRecipient');

const NewRecipientSchema = z
  .object({
    email: z.string().max(320).openapi({ format: 'email', example: 'ops@example.com' }),
    displayName: z
      .string()
      .max(200)
      .optional()
      .openapi({ description: 'Greeting in the mail; the address when left out.' }),
    types: TypesSchema,
  })
  .openapi('NewNotificationRecipient');

const RecipientChangesSchema = z
  .object({
    email: z.string().max(320).optional(),
    displayName: z.string().max(200).optional(),
    types: TypesSchema.optional(),
  })
  .openapi('NotificationRecipientChanges');

const RecipientParams = OrganizationIdParams.extend({
  recipientId: z.coerce
    .number()
    .int()
    .openapi({ param: { name: 'recipientId', in: 'path' }, type: 'integer' }),
});

const tags = ['Notifications'];
const middleware = [...guarded('manage_notifications'), inReach()];
const recipientMiddleware = [
  ...guarded('manage_notifications'),
  inReach((em, org, c) => findRecipient(em, org, Number(c.req.param('recipientId')))),
];

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/notification-recipients',
  tags,
  summary: 'List notification recipients',
  description: 'The recipients of an organization and the notification types each receives.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(z.array(RecipientSchema), 'Recipients'), ...errorResponses(401, 403, 404) },
});

const addRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/notification-recipients',
  tags,
  summary: 'Add a notification recipient',
  description: 'An address is a recipient once per organization (422 on `email` for a duplicate).',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(NewRecipientSchema) },
  responses: { 201: jsonResponse(RecipientSchema, 'The new recipient'), ...errorResponses(401, 403, 404, 422) },
});

const updateRoute = createRoute({
  method: 'patch',
  path: '/organizations/{id}/notification-recipients/{recipientId}',
  tags,
  summary: 'Change a notification recipient',
  description: 'Fields left out keep their value.',
  security: SECURED,
  middleware: recipientMiddleware,
  request: { params: RecipientParams, ...jsonBody(RecipientChangesSchema) },
  responses: { 200: jsonResponse(RecipientSchema, 'The recipient'), ...errorResponses(401, 403, 404, 422) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/notification-recipients/{recipientId}',
  tags,
  summary: 'Remove a notification recipient',
  security: SECURED,
  middleware: recipientMiddleware,
  request: { params: RecipientParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
});

function recipientJson(r: INotificationRecipient): z.infer<typeof RecipientSchema> {
  return {
    id: r.id,
    email: r.email,
    displayName: r.displayName,
    types: r.types,
    createdAt: r.createdAt.toISOString(),
  };
}

export function notificationRecipientsApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json((await listRecipients(c.get('em'), org)).map(recipientJson), 200);
  });

  api.openapi(addRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const body = c.req.valid('json');
    const r = await createRecipient(c.get('em'), org, body, deps.now());
    return c.json(recipientJson(r), 201);
  });

  api.openapi(updateRoute, async (c) => {
    const { id, recipientId } = c.req.valid('param');
    const org = await organization(c, id);
    const r = await findRecipient(c.get('em'), org, recipientId);
    const body = c.req.valid('json');
    const updated = await updateRecipient(c.get('em'), org, r.id, {
      email: body.email ?? r.email,
      displayName: body.displayName ?? r.displayName,
      types: body.types ?? r.types,
    });
    return c.json(recipientJson(updated), 200);
  });

  api.openapi(deleteRoute, async (c) => {
    const { id, recipientId } = c.req.valid('param');
    await deleteRecipient(c.get('em'), await organization(c, id), recipientId);
    return c.body(null, 204);
  });

  return api;
}
