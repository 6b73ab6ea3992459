// /api/v1/organizations: the organization tree as the caller may see it. Every id goes
// through accessibleOrganization, so an organization outside the caller's reach is a 404.
import { createRoute, z } from '@hono/zod-openapi';
import { ForbiddenError } from '../access/errors.ts';
import { accessibleOrganization, reachableFilter } from '../access/principal.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { containsText } from '../db/text-search.ts';
import { ValidationError } from '../errors.ts';
import { auditActor } from '../http/audit-actor.ts';
import type { AppDeps } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { ORGANIZATION_KINDS, Organization } from '../identity/entities.ts';
import {
  createOrganization,
  KIND_LABELS,
  REMOVAL_CONFIRMATION,
  REMOVAL_GRACE_DAYS,
  updateOrganization,
} from '../tenancy/organizations.ts';
import { cancelRemoval, requestRemoval } from '../tenancy/removal.ts';
import {
  inReach,
  jsonBody,
  jsonResponse,
  OrganizationIdParams,
  OrganizationSchema,
  organizationJson,
  PagingQuery,
  pageOf,
} from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const OrganizationPage = pageOf(OrganizationSchema, 'OrganizationPage');

const ChildrenQuery = z.object({
  search: z
    .string()
    .max(200)
    .optional()
    .openapi({ description: 'Part of the name, contact name or contact email, or the whole short ID.' }),
  kind: z.enum(ORGANIZATION_KINDS).optional(),
  scope: z
    .enum(['children', 'descendants'])
    .default('children')
    .openapi({ description: 'Direct children only (default), or every organization below.' }),
  ...PagingQuery,
});

const text = (max: number) => z.string().max(max);

const NewOrganizationSchema = z
  .object({
    kind: z.enum(['distributor', 'partner', 'customer']),
    name: text(200),
    contactName: text(200).nullable().optional(),
    contactEmail: text(320).nullable().optional(),
    phone: text(50).nullable().optional(),
    address: text(500).nullable().optional(),
    country: text(2).nullable().optional().openapi({ description: 'ISO 3166-1 alpha-2 code.' }),
  })
  .openapi('NewOrganization');

const OrganizationChangesSchema = z
  .object({
    name: text(200).optional(),
    contactName: text(200).nullable().optional(),
    contactEmail: text(320).nullable().optional(),
    phone: text(50).nullable().optional(),
    address: text(500).nullable().optional(),
    country: text(2).nullable().optional().openapi({ description: 'ISO 3166-1 alpha-2 code.' }),
  })
  .openapi('OrganizationChanges');

const getRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}',
  tags: ['Organizations'],
  summary: 'Get an organization',
  description: 'The caller\'s own organization or one below it that they may reach. Needs "View dashboard".',
  security: SECURED,
  middleware: [...guarded('view_dashboard'), inReach()],
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(OrganizationSchema, 'The organization'), ...errorResponses(401, 403, 404) },
});

const childrenRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/children',
  tags: ['Organizations'],
  summary: 'List accounts below an organization',
  description:
    'The reachable children (or all descendants) of an organization, sorted by name, with search, kind filter and paging. Needs "View dashboard".',
  security: SECURED,
  middleware: [...guarded('view_dashboard'), inReach()],
  request: { params: OrganizationIdParams, query: ChildrenQuery },
  responses: {
    200: jsonResponse(OrganizationPage, 'One page of organizations'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const createChildRoute = createRoute({
  method: 'post',
  path: '/organizations/{id}/children',
  tags: ['Organizations'],
  summary: 'Add an account below an organization',
  description:
    'Creates a distributor, partner or customer account under the organization (roots hold any kind, distributors partners and customers, partners customers). Needs "Add accounts".',
  security: SECURED,
  middleware: [...guarded('add_accounts'), inReach()],
  request: { params: OrganizationIdParams, ...jsonBody(NewOrganizationSchema) },
  responses: {
    201: jsonResponse(OrganizationSchema, 'The new organization'),
    ...errorResponses(401, 403, 404, 409, 422),
  },
});

const updateRoute = createRoute({
  method: 'patch',
  path: '/organizations/{id}',
  tags: ['Organizations'],
  summary: "Change an organization's details",
  description:
    'Name and contact details; fields left out keep their value, null clears them. Needs an administrator (as Settings › Account does).',
  security: SECURED,
  middleware: [...guarded('add_accounts'), inReach()],
  request: { params: OrganizationIdParams, ...jsonBody(OrganizationChangesSchema) },
  responses: { 200: jsonResponse(OrganizationSchema, 'The organization'), ...errorResponses(401, 403, 404, 422) },
});

const RemovalSchema = z
  .object({
    confirmation: z
      .string()
      .max(100)
      .openapi({ example: REMOVAL_CONFIRMATION, description: `Exactly "${REMOVAL_CONFIRMATION}".` }),
  })
  .openapi('RemovalApproval');

const removeRoute = createRoute({
  method: 'put',
  path: '/organizations/{id}/removal',
  tags: ['Organizations'],
  summary: 'Remove an account (after a grace period)',
  description: `Starts the ${REMOVAL_GRACE_DAYS}-day grace period after which the account and everything below it is purged; until then DELETE restores it. Needs an administrator and the confirmation "${REMOVAL_CONFIRMATION}". The operator organization cannot be removed (409).`,
  security: SECURED,
  middleware: [...guarded('add_accounts'), inReach()],
  request: { params: OrganizationIdParams, ...jsonBody(RemovalSchema) },
  responses: {
    200: jsonResponse(OrganizationSchema, 'The organization, removal pending'),
    ...errorResponses(401, 403, 404, 409, 422),
  },
});

const restoreRoute = createRoute({
  method: 'delete',
  path: '/organizations/{id}/removal',
  tags: ['Organizations'],
  summary: 'Restore an account during its grace period',
  description: 'Cancels a pending removal. Needs an administrator.',
  security: SECURED,
  middleware: [...guarded('add_accounts'), inReach()],
  request: { params: OrganizationIdParams },
  responses: {
    200: jsonResponse(OrganizationSchema, 'The organization, active again'),
    ...errorResponses(401, 403, 404),
  },
});

export function organizationsApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openapi(getRoute, async (c) => {
    const org = await accessibleOrganization(c.get('em'), principalOf(c), c.req.valid('param').id);
    return c.json(organizationJson(org), 200);
  });

  api.openapi(childrenRoute, async (c) => {
    const principal = principalOf(c);
    const em = c.get('em');
    const parent = await accessibleOrganization(em, principal, c.req.valid('param').id);
    const { search, kind, scope, page, pageSize } = c.req.valid('query');
    const where: Record<string, unknown>[] = [
      // A customer that removed its partner's access stays listed (flagged), as in the portal.
      reachableFilter(principal, parent, { withdrawn: 'include' }) as Record<string, unknown>,
      scope === 'children' ? { parent: parent.id } : { id: { $ne: parent.id } },
    ];
    if (kind) where.push({ kind });
    const term = search?.trim();
    if (term) {
      where.push({
        $or: [
          containsText('name', term),
          containsText('contact_name', term),
          containsText('contact_email', term),
          { code: term.toUpperCase() },
        ],
      });
    }
    const [rows, total] = await em.findAndCount(Organization, { $and: where } as never, {
      orderBy: { name: 'asc', id: 'asc' },
      limit: pageSize,
      offset: (page - 1) * pageSize,
    });
    return c.json({ items: rows.map(organizationJson), total, page, pageSize }, 200);
  });

  api.openapi(createChildRoute, async (c) => {
    const em = c.get('em');
    const parent = await accessibleOrganization(em, principalOf(c), c.req.valid('param').id);
    const org = await createOrganization(em, parent, c.req.valid('json'));
    await recordAudit(em, {
      organization: parent,
      activity: 'Account added',
      account: org.name,
      description: `${KIND_LABELS[org.kind]} ${org.name} added under ${parent.name}`,
      actor: auditActor(c, deps),
    });
    return c.json(organizationJson(org), 201);
  });

  api.openapi(updateRoute, async (c) => {
    const em = c.get('em');
    const principal = principalOf(c);
    const org = await accessibleOrganization(em, principal, c.req.valid('param').id);
    if (!principal.isAdministrator) throw new ForbiddenError('Only administrators can change the account details.');
    const body = c.req.valid('json');
    const merged = {
      name: body.name ?? org.name,
      contactName: body.contactName === undefined ? org.contactName : body.contactName,
      contactEmail: body.contactEmail === undefined ? org.contactEmail : body.contactEmail,
      phone: body.phone === undefined ? org.phone : body.phone,
      address: body.address === undefined ? org.address : body.address,
      country: body.country === undefined ? org.country : body.country,
    };
    const changed = await updateOrganization(em, org, merged);
    if (changed.length > 0) {
      await recordAudit(em, {
        organization: org,
        activity: 'Settings changed',
        account: org.name,
        description: `Details of ${org.name} changed: ${changed.join(', ')}`,
        actor: auditActor(c, deps),
      });
    }
    return c.json(organizationJson(org), 200);
  });

  api.openapi(removeRoute, async (c) => {
    const em = c.get('em');
    const principal = principalOf(c);
    const org = await accessibleOrganization(em, principal, c.req.valid('param').id);
    if (!principal.isAdministrator) throw new ForbiddenError('Only administrators can remove an account.');
    const approved = c.req.valid('json').confirmation.trim() === REMOVAL_CONFIRMATION;
    try {
      const purgeAfter = await requestRemoval(em, org, approved, deps.now());
      await recordAudit(em, {
        organization: org,
        activity: 'Account removal requested',
        account: org.name,
        description: `Removal of ${org.name} approved; its data is purged after ${purgeAfter.toISOString()} unless restored`,
        actor: auditActor(c, deps),
      });
    } catch (err) {
      if (err instanceof ValidationError) {
        throw new ValidationError({ confirmation: `Send exactly "${REMOVAL_CONFIRMATION}" to remove this account.` });
      }
      throw err;
    }
    return c.json(organizationJson(org), 200);
  });

  api.openapi(restoreRoute, async (c) => {
    const em = c.get('em');
    const principal = principalOf(c);
    const org = await accessibleOrganization(em, principal, c.req.valid('param').id);
    if (!principal.isAdministrator) throw new ForbiddenError('Only administrators can restore an account.');
    if (org.status === 'removal_pending') {
      await cancelRemoval(em, org);
      await recordAudit(em, {
        organization: org,
        activity: 'Account restored',
        account: org.name,
        description: `Removal of ${org.name} cancelled`,
        actor: auditActor(c, deps),
      });
    }
    return c.json(organizationJson(org), 200);
  });

  return api;
}
