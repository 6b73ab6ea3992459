// /api/v1/organizations/{id}/api-keys: create (the secret is in that one response only),
// list and delete API keys. Needs "Manage integrations". A key's scope is never more than its
// creator's rights; each key says whether it is active or suspended, and why.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { type KeyScopeInput, keyStanding } from '../access/api-key-scope.ts';
import { createApiKey, deleteApiKey, findApiKey, listApiKeys } from '../access/api-keys.ts';
import type { IApiKey } from '../access/entities.ts';
import { accessibleOrganization } from '../access/principal.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { USER_ROLES } from '../identity/entities.ts';
import { PERMISSIONS } from '../identity/permissions.ts';
import { inReach, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const scopeFields = {
  role: z.enum(USER_ROLES).openapi({ description: 'administrator: every permission; custom: those listed.' }),
  permissions: z.array(z.enum(PERMISSIONS)).openapi({ description: 'For the custom role.' }),
  accessibleAccounts: z.enum(['all', 'selected']).openapi({
    description: "all: the key's organization and every account under it; selected: only those listed.",
  }),
  accessibleOrganizationIds: z.array(z.string().max(36)).max(1000),
};

const ApiKeyScopeSchema = z.object(scopeFields).openapi('ApiKeyScope');

const ApiKeySchema = z
  .object({
    clientId: z.string().openapi({ example: 'hfk_3kP9xQ2mZr7TbW1c' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
    createdBy: z.string().openapi({ description: 'Who created the key (an email, or another API key).' }),
    lastUsedAt: z.string().nullable().openapi({ format: 'date-time', description: 'Accurate to about a minute.' }),
    scope: ApiKeyScopeSchema,
    status: z.enum(['active', 'suspended']).openapi({
      description:
        'suspended: its creator is deactivated or deleted, or no longer holds the whole scope; calls are refused (403 api_key_suspended) until they do.',
    }),
    suspendedBecause: z.string().nullable().openapi({ example: 'its creator jane@example.com is deactivated' }),
  })
  .openapi('ApiKey');

const NewKeyScopeSchema = z
  .object({
    role: scopeFields.role.optional(),
    permissions: scopeFields.permissions.optional(),
    accessibleAccounts: scopeFields.accessibleAccounts.optional(),
    accessibleOrganizationIds: scopeFields.accessibleOrganizationIds.optional(),
  })
  .openapi('NewApiKeyScope');

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
    "Returns the client id and the client secret. The secret is shown in this response only; Holdfast keeps a hash of it. The key acts on the organization within its scope: without a body, everything the caller holds there; a scope asking for more than the caller holds is refused (403). A key made by a key answers to that key's creator. The key works only while its creator still holds its whole scope.",
  security: SECURED,
  middleware,
  request: {
    params: OrganizationIdParams,
    body: { required: false, content: { 'application/json': { schema: NewKeyScopeSchema } } },
  },
  responses: {
    201: jsonResponse(NewApiKeySchema, 'The new key with its secret'),
    ...errorResponses(401, 403, 404, 422),
  },
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

export async function apiKeyJson(c: Context<AppEnv>, key: IApiKey): Promise<z.infer<typeof ApiKeySchema>> {
  const standing = await keyStanding(c.get('em'), key);
  return {
    clientId: key.id,
    createdAt: key.createdAt.toISOString(),
    createdBy: key.createdByEmail,
    lastUsedAt: key.lastUsedAt?.toISOString() ?? null,
    scope: {
      role: key.role,
      permissions: key.role === 'administrator' ? [...PERMISSIONS] : key.permissions,
      accessibleAccounts: key.accessibleAccounts,
      accessibleOrganizationIds: key.accessibleOrganizationIds,
    },
    status: standing.kind,
    suspendedBecause: standing.kind === 'suspended' ? standing.reason : null,
  };
}

/** The scope asked for in a create request; undefined (everything the caller holds) for an empty body. */
function requestedScope(body: z.infer<typeof NewKeyScopeSchema>): KeyScopeInput | undefined {
  if (Object.values(body).every((v) => v === undefined)) return undefined;
  return { ...body, role: body.role ?? 'custom' };
}

export function apiKeysApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const keys = await listApiKeys(c.get('em'), org);
    const rows = [];
    for (const key of keys) rows.push(await apiKeyJson(c, key));
    return c.json(rows, 200);
  });

  api.openapi(createKeyRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const scope = requestedScope(c.req.valid('json'));
    const { key, secret } = await createApiKey(c.get('em'), org, principalOf(c), auditActor(c, deps), scope);
    c.header('Cache-Control', 'no-store');
    return c.json({ ...(await apiKeyJson(c, key)), clientSecret: secret }, 201);
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
