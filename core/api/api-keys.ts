// /api/v1/organizations/{id}/api-keys: create (the secret is in that one response only),
// list and delete API keys. Needs "Manage integrations".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { createApiKey, deleteApiKey, findApiKey, listApiKeys } from '../access/api-keys.ts';
import type { IApiKey } from '../access/entities.ts';
import { accessibleOrganization } from '../access/principal.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { inReach, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const ApiKeySchema = z
  .object({
    clientId: z.string().openapi({ example: 'hfk_3kP9xQ2mZr7TbW1c' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    createdBy: z.string().openapi({ description: 'Who created the key (an email, or another API key).' }),
    lastUsedAt: z.string().nullable().openapi({ format: 'date-time', description: 'Accurate to about a minute.' }),
  })
  .openapi('ApiKey');

const NewApiKeySchema = ApiKeySchema.extend({
  clientSecret: z.string().openapi({ description: 'Shown in this response only; store it now.' }),
}).openapi('NewApiKey');

const KeyParams = OrganizationIdParams.extend({
  clientId: z
    .string()
    .max(64)
    .openapi({ param: { name: 'clientId', in: 'path' } }),
});

const tags = ['API keys'];
const middleware = [...guarded('manage_integrations'), inReach()];

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/api-keys',
  tags,
  summary: 'List API keys',
  description: 'Client ids and who created them; secrets are never shown again.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(z.array(ApiKeySchema), 'Keys, newest first'), ...errorResponses(401, 403, 404) },
});

const createKeyRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/api-keys',
  tags,
  summary: 'Create an API key',
  description:
    'Returns the client id and the client secret. The secret is shown in this response only; Holdfast keeps a hash of it. The key acts with administrator rights on the organization and the accounts below it.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 201: jsonResponse(NewApiKeySchema, 'The new key with its secret'), ...errorResponses(401, 403, 404) },
});

const deleteRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/api-keys/{clientId}',
  tags,
  summary: 'Delete an API key',
  description: 'Its access and refresh tokens stop working at once.',
  security: SECURED,
  middleware,
  request: { params: KeyParams },
  responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
});

export function apiKeyJson(key: IApiKey): z.infer<typeof ApiKeySchema> {
  return {
    clientId: key.id,
    createdAt: key.createdAt.toISOString(),
    createdBy: key.createdByEmail,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
  };
}

export function apiKeysApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json((await listApiKeys(c.get('em'), org)).map(apiKeyJson), 200);
  });

  api.openapi(createKeyRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const { key, secret } = await createApiKey(c.get('em'), org, principalOf(c), auditActor(c, deps));
    c.header('Cache-Control', 'no-store');
    return c.json({ ...apiKeyJson(key), clientSecret: secret }, 201);
  });

  api.openapi(deleteRoute, async (c) => {
    const { id, clientId } = c.req.valid('param');
    const org = await organization(c, id);
    const key = await findApiKey(c.get('em'), org, clientId);
    await deleteApiKey(c.get('em'), org, key, auditActor(c, deps));
    return c.body(null, 204);
  });

  return api;
}
