// /api/v1/organizations/{id}/integrations: the organization's integrations (Splunk HEC …) that
// send its events to other systems (docs/INTEGRATIONS.md), with their state and a test event.
// Needs "Manage integrations". The secret is write-only: no response carries it.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import { AppError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { IntegrationSendError } from '../integrations/contract.ts';
import { type IIntegration, INTEGRATION_STREAMS } from '../integrations/entities.ts';
import {
  createIntegration,
  deleteIntegration,
  findIntegration,
  integrationSecret,
  integrationState,
  listIntegrations,
  updateIntegration,
} from '../integrations/integrations.ts';
import { INTEGRATION_KINDS } from '../integrations/kinds.ts';
import {
  companyMappings,
  coveredAccount,
  mapCompany,
  psaClientOf,
  requirePsa,
  unmapCompany,
} from '../integrations/psa-companies.ts';
import { inheritedMappings } from '../integrations/psa-inherited.ts';
import { sendIntegrationTest } from '../integrations/sender.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { ErrorSchema, errorResponses } from './schemas.ts';

const KINDS = INTEGRATION_KINDS.map((k) => k.id) as [string, ...string[]];

const StreamsSchema = z.array(z.enum(INTEGRATION_STREAMS)).openapi({
  description:
    'What it sends: `activity` (System Activity of the accounts under the organization, or of the account itself), `audit` (their Security audit), `own` (a portal’s own events; not for a customer account).',
  example: ['activity', 'audit'],
});

const SettingsSchema = z.record(z.string(), z.unknown()).openapi({
  description:
    'The kind’s settings. Splunk: `url` (the HTTP Event Collector URL), optional `source`, `sourcetype`, `index`, and `ack` (true when the token has indexer acknowledgment on). Syslog: `host`, `port` (default 6514), `format` (`json` or `cef`), optional `ca` (PEM certificates to trust). Autotask: `username` (the API user), `integrationCode` (its tracking identifier), `queueId`, optional `priority` (2), `newStatus` (1), `closedStatus` (5), `zoneLookupUrl`. ConnectWise: `site`, `companyId`, `publicKey`, `clientId`, `boardId`, optional `priorityId`, `newStatus` (`New`), `closedStatus` (`Closed (resolved)`). Both PSAs: optional `defaultCompanyId` (the company of accounts not mapped; none: they open no ticket) and `closeOnSuccess` (true). Backup Radar: `address` (its inbound e-mail address). The PSAs and Backup Radar always read `activity`; their `streams` are ignored.',
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
    secret: z.string().max(1000).optional().openapi({
      description:
        'The kind’s secret, required for the kinds that have one (Splunk: the HEC token; Autotask: the API user’s secret; ConnectWise: the private key). Write-only.',
    }),
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

const route = <P extends string, M extends 'get' | 'post' | 'put' | 'patch' | 'delete'>(method: M, path: P) => ({
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

const CompanySchema = z.object({ id: z.string(), name: z.string() }).openapi('PsaCompany');

const CompanyMappingSchema = z
  .object({
    account: z.object({ id: z.string(), name: z.string() }),
    company: CompanySchema.nullable().openapi({ description: 'Null: the default company, or no ticket without one.' }),
  })
  .openapi('PsaCompanyMapping');

const MappingParams = IntegrationParams.extend({
  accountId: z.string().openapi({ param: { name: 'accountId', in: 'path' } }),
});

const psaUnavailable = {
  502: {
    description: 'The PSA refused the integration’s credentials or did not answer (its reason in `message`).',
    content: { 'application/json': { schema: ErrorSchema } },
  },
};

const companiesRoute = createRoute({
  ...route('get', '/organizations/{id}/integrations/{integrationId}/companies'),
  summary: 'Search the PSA’s companies',
  description:
    'A PSA integration (Autotask, ConnectWise): the PSA’s active companies whose name contains `search` (at most 25), for the company mapping. 404 for other kinds.',
  middleware: itemMiddleware,
  request: {
    params: IntegrationParams,
    query: z.object({ search: z.string().max(100).optional().openapi({ example: 'north' }) }),
  },
  responses: {
    200: jsonResponse(z.array(CompanySchema), 'Companies'),
    ...errorResponses(401, 403, 404, 422),
    ...psaUnavailable,
  },
});

const mappingsRoute = createRoute({
  ...route('get', '/organizations/{id}/integrations/{integrationId}/company-mappings'),
  summary: 'List the company mapping',
  description:
    'Each customer account the PSA integration covers (at most 200, by name; `accounts` filters by name) and its company in the PSA.',
  middleware: itemMiddleware,
  request: {
    params: IntegrationParams,
    query: z.object({ accounts: z.string().max(200).optional() }),
  },
  responses: { 200: jsonResponse(z.array(CompanyMappingSchema), 'Mapping'), ...errorResponses(401, 403, 404, 422) },
});

const mapRoute = createRoute({
  ...route('put', '/organizations/{id}/integrations/{integrationId}/company-mappings/{accountId}'),
  summary: 'Map an account to a PSA company',
  description:
    'The account’s failed backups open tickets for this company (its id in the PSA, from the companies search). The PSA is asked whether it has that active company first: an id it does not have is a 422 on `companyId`, a PSA that cannot be asked a 502 `psa_unavailable`, and nothing is saved. The company is stored under the PSA’s own name (`companyName` is ignored).',
  middleware: itemMiddleware,
  request: {
    params: MappingParams,
    ...jsonBody(
      z
        .object({ companyId: z.string().min(1).max(100), companyName: z.string().max(300).optional() })
        .openapi('PsaCompanyChoice'),
    ),
  },
  responses: { 200: jsonResponse(CompanyMappingSchema, 'The mapping'), ...errorResponses(401, 403, 404, 422, 502) },
});

const unmapRoute = createRoute({
  ...route('delete', '/organizations/{id}/integrations/{integrationId}/company-mappings/{accountId}'),
  summary: 'Remove an account’s company mapping',
  middleware: itemMiddleware,
  request: { params: MappingParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
});

const InheritedMappingSchema = z
  .object({
    integration: z.object({ id: z.string(), label: z.string() }),
    owner: z.object({ id: z.string(), name: z.string() }),
    company: CompanySchema.nullable(),
    defaultCompanyId: z.string().nullable().openapi({
      description: 'Where the account’s failures go while it is not mapped; null: they open no ticket.',
    }),
    editable: z.boolean().openapi({
      description:
        'Whether the caller may change it (through the owner’s `company-mappings`): it may manage the owner.',
    }),
  })
  .openapi('InheritedPsaMapping');

const inheritedRoute = createRoute({
  ...route('get', '/organizations/{id}/psa-companies'),
  summary: 'The account’s company in the PSA integrations above it',
  description:
    'A customer account: each PSA integration of a partner or distributor above it (its kind and owner, not its settings) with the account’s company in it. Empty for other organizations.',
  middleware,
  request: { params: OrganizationIdParams },
  responses: {
    200: jsonResponse(z.array(InheritedMappingSchema), 'PSA integrations above'),
    ...errorResponses(401, 403, 404),
  },
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

  api.openapi(inheritedRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json(await inheritedMappings(c.get('em'), principalOf(c), org), 200);
  });

  api.openapi(companiesRoute, async (c) => {
    const { id, integrationId } = c.req.valid('param');
    const org = await organization(c, id);
    const i = await findIntegration(c.get('em'), org, integrationId);
    const client = psaClientOf(i, {
      integrationId: i.id,
      organizationId: org.id,
      settings: i.settings,
      secret: integrationSecret(deps.credentials, i),
      allowPrivate: deps.config.webhooksAllowPrivate,
      em: c.get('em'),
      now: deps.now(),
    });
    try {
      return c.json(await client.companies(c.req.valid('query').search ?? ''), 200);
    } catch (err) {
      if (!(err instanceof IntegrationSendError)) throw err;
      throw new AppError('psa_unavailable', err.message, 502);
    }
  });

  api.openapi(mappingsRoute, async (c) => {
    const { id, integrationId } = c.req.valid('param');
    const org = await organization(c, id);
    const i = await findIntegration(c.get('em'), org, integrationId);
    requirePsa(i);
    return c.json(await companyMappings(c.get('em'), org, i, c.req.valid('query').accounts ?? ''), 200);
  });

  api.openapi(mapRoute, async (c) => {
    const { id, integrationId, accountId } = c.req.valid('param');
    const org = await organization(c, id);
    const i = await findIntegration(c.get('em'), org, integrationId);
    requirePsa(i);
    const company = await mapCompany(
      c.get('em'),
      org,
      i,
      accountId,
      c.req.valid('json').companyId,
      { cipher: deps.credentials, allowPrivate: deps.config.webhooksAllowPrivate },
      auditActor(c, deps),
      deps.now(),
    );
    const account = await coveredAccount(c.get('em'), org, accountId);
    return c.json({ account: { id: account.id, name: account.name }, company }, 200);
  });

  api.openapi(unmapRoute, async (c) => {
    const { id, integrationId, accountId } = c.req.valid('param');
    const org = await organization(c, id);
    const i = await findIntegration(c.get('em'), org, integrationId);
    requirePsa(i);
    await unmapCompany(c.get('em'), org, i, accountId, auditActor(c, deps));
    return c.body(null, 204);
  });

  return api;
}
