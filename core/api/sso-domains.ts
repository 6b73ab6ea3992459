// /api/v1/organizations/{id}/sso/domains: the e-mail domains an organization claims for
// home-realm discovery — list, add, verify by DNS TXT record, remove — with the rules of
// Settings › Security › Single sign-on: "Manage security", another organization's domain is a
// 404, a domain verified by another organization is a 409, every change in the Security audit.
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { NotFoundError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import type { IOrganization } from '../identity/entities.ts';
import {
  addDomain,
  domainOf,
  listDomains,
  removeDomain,
  TXT_PREFIX,
  verifyDomainByDns,
} from '../identity/sso/domains.ts';
import type { ISsoDomain } from '../identity/sso/entities.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const DomainSchema = z
  .object({
    id: z.string(),
    domain: z.string().openapi({ example: 'contoso.com' }),
    verified: z.boolean(),
    verifiedAt: z.string().nullable().openapi({ format: 'date-time' }),
    verifiedBy: z.enum(['dns', 'idp']).nullable().openapi({
      description: "'dns': its TXT record; 'idp': an administrator's sign-in through the organization's provider.",
    }),
    txtRecord: z.object({ name: z.string(), value: z.string() }).openapi({
      description: 'The TXT record to publish on the domain before asking to verify it.',
      example: { name: 'contoso.com', value: `${TXT_PREFIX}5f0c…` },
    }),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('SsoDomain');

const DomainInputSchema = z
  .object({ domain: z.string().max(253).openapi({ example: 'contoso.com' }) })
  .openapi('SsoDomainInput');

const DomainParams = OrganizationIdParams.extend({
  domainId: z
    .string()
    .max(36)
    .openapi({ param: { name: 'domainId', in: 'path' } }),
});

const tags = ['Single sign-on'];
const middleware = [...guarded('manage_security'), inReach()];
const domainMiddleware = [
  ...guarded('manage_security'),
  inReach(async (em, org, c) => {
    if (!(await domainOf(em, org, c.req.param('domainId') ?? ''))) throw new NotFoundError('No such domain.');
  }),
];

const listRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/sso/domains',
  tags,
  summary: 'List e-mail domains',
  description: 'A verified domain sends its addresses to the organization’s identity providers at sign-in.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: {
    200: jsonResponse(z.object({ items: z.array(DomainSchema) }), 'Domains'),
    ...errorResponses(401, 403, 404),
  },
});

const addRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/sso/domains',
  tags,
  summary: 'Add an e-mail domain',
  description:
    'Added unverified, with the TXT record to publish. 409 `domain_taken` when another organization has verified it; 422 when it is not a domain name or already listed.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(DomainInputSchema) },
  responses: { 201: jsonResponse(DomainSchema, 'The new domain'), ...errorResponses(401, 403, 404, 409, 422) },
});

const verifyRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/sso/domains/{domainId}/verify',
  tags,
  summary: 'Verify an e-mail domain by its DNS TXT record',
  description:
    'Looks up the domain’s TXT records. 409 `domain_not_verified` (the message says what was found) when the record is not there yet, `domain_taken` when another organization verified the domain first. A verified domain answers 200 unchanged.',
  security: SECURED,
  middleware: domainMiddleware,
  request: { params: DomainParams },
  responses: { 200: jsonResponse(DomainSchema, 'The verified domain'), ...errorResponses(401, 403, 404, 409) },
});

const removeRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/sso/domains/{domainId}',
  tags,
  summary: 'Remove an e-mail domain',
  description: 'Its addresses are no longer sent to the organization’s identity providers at sign-in.',
  security: SECURED,
  middleware: domainMiddleware,
  request: { params: DomainParams },
  responses: { 204: { description: 'Removed' }, ...errorResponses(401, 403, 404) },
});

function domainJson(d: ISsoDomain): z.infer<typeof DomainSchema> {
  return {
    id: d.id,
    domain: d.domain,
    verified: d.verifiedAt !== null && d.verifiedAt !== undefined,
    verifiedAt: d.verifiedAt ? d.verifiedAt.toISOString() : null,
    verifiedBy: d.verifiedBy === 'dns' || d.verifiedBy === 'idp' ? d.verifiedBy : null,
    txtRecord: { name: d.domain, value: `${TXT_PREFIX}${d.token}` },
    createdAt: d.createdAt.toISOString(),
  };
}

export function ssoDomainsApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  const organization = (c: Context<AppEnv>, id: string) => accessibleOrganization(c.get('em'), principalOf(c), id);
  const domain = async (c: Context<AppEnv>, org: IOrganization, id: string) => {
    const row = await domainOf(c.get('em'), org, id);
    if (!row) throw new NotFoundError('No such domain.');
    return row;
  };
  const audit = (c: Context<AppEnv>, org: IOrganization, description: string) =>
    recordAudit(c.get('em'), {
      organization: org,
      activity: 'Single sign-on changed',
      account: org.name,
      description,
      actor: auditActor(c, deps),
    });

  api.openapi(listRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    return c.json({ items: (await listDomains(c.get('em'), org)).map(domainJson) }, 200);
  });

  api.openapi(addRoute, async (c) => {
    const org = await organization(c, c.req.valid('param').id);
    const row = await addDomain(c.get('em'), org, c.req.valid('json').domain, deps.now());
    await audit(c, org, `E-mail domain ${row.domain} added (not verified yet)`);
    return c.json(domainJson(row), 201);
  });

  api.openapi(verifyRoute, async (c) => {
    const { id, domainId } = c.req.valid('param');
    const org = await organization(c, id);
    const row = await domain(c, org, domainId);
    const wasVerified = Boolean(row.verifiedAt);
    await verifyDomainByDns(c.get('em'), org, row, deps.config.ssoDnsServers, deps.now());
    if (!wasVerified) await audit(c, org, `E-mail domain ${row.domain} verified by its DNS record`);
    return c.json(domainJson(row), 200);
  });

  api.openapi(removeRoute, async (c) => {
    const { id, domainId } = c.req.valid('param');
    const org = await organization(c, id);
    const row = await domain(c, org, domainId);
    await removeDomain(c.get('em'), row);
    await audit(c, org, `E-mail domain ${row.domain} removed`);
    return c.body(null, 204);
  });

  return api;
}
