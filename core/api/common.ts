// Schemas and helpers shared by the tenancy endpoints of /api/v1.
import { z } from '@hono/zod-openapi';
import type { EntityManager } from '@mikro-orm/core';
import type { Context, MiddlewareHandler } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import { type DateRange, parseDateRange } from '../date-range.ts';
import { ValidationError } from '../errors.ts';
import type { AppEnv } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import { type IOrganization, ORGANIZATION_KINDS, ORGANIZATION_STATUSES } from '../identity/entities.ts';

export const OrganizationIdParams = z.object({
  id: z
    .string()
    .max(36)
    .openapi({
      param: { name: 'id', in: 'path' },
      description: 'Organization id.',
      example: '6f1c2b9e-3d4a-4c5b-9a8e-7d6c5b4a3f21',
    }),
});

export const PagingQuery = {
  page: z.coerce.number().int().min(1).default(1).openapi({ description: 'Page number, from 1.' }),
  pageSize: z.coerce.number().int().min(1).max(200).default(50).openapi({ description: 'Rows per page (1–200).' }),
};

export function pageOf<T extends z.ZodType>(item: T, name: string) {
  return z
    .object({
      items: z.array(item),
      total: z.number().int().openapi({ description: 'Rows matching the filters, on all pages.' }),
      page: z.number().int(),
      pageSize: z.number().int(),
    })
    .openapi(name);
}

export const OrganizationSchema = z
  .object({
    id: z.string(),
    code: z.string().nullable().openapi({ description: 'The short human Partner/Account ID.' }),
    name: z.string(),
    kind: z.enum(ORGANIZATION_KINDS),
    parentId: z.string().nullable(),
    status: z.enum(ORGANIZATION_STATUSES),
    contactName: z.string().nullable(),
    contactEmail: z.string().nullable(),
    phone: z.string().nullable(),
    address: z.string().nullable(),
    country: z.string().nullable().openapi({ description: 'ISO 3166-1 alpha-2 code.' }),
    partnerAccessRemoved: z.boolean().openapi({
      description:
        "A customer whose administrator removed its partner's access: listed for its partner, but its data answers 404 to anyone outside it.",
    }),
    enforceTwoFactor: z.boolean(),
    passwordExpiryDays: z.number().int().nullable(),
    ipRestrictionsEnabled: z.boolean(),
    purgeAfter: z.string().nullable().openapi({ format: 'date-time', description: 'Set while removal is pending.' }),
    createdAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Organization');

export function organizationJson(org: IOrganization): z.infer<typeof OrganizationSchema> {
  const parent = org.parent as { id: string } | null | undefined;
  return {
    id: org.id,
    code: org.code ?? null,
    name: org.name,
    kind: org.kind,
    parentId: parent?.id ?? null,
    status: org.status,
    contactName: org.contactName ?? null,
    contactEmail: org.contactEmail ?? null,
    phone: org.phone ?? null,
    address: org.address ?? null,
    country: org.country ?? null,
    partnerAccessRemoved: Boolean(org.partnerAccessRemovedAt),
    enforceTwoFactor: org.enforceTwoFactor,
    passwordExpiryDays: org.passwordExpiryDays ?? null,
    ipRestrictionsEnabled: org.ipRestrictionsEnabled,
    purgeAfter: org.purgeAfter?.toISOString() ?? null,
    createdAt: org.createdAt.toISOString(),
  };
}

export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { body: { required: true, description, content: { 'application/json': { schema } } } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/**
 * Route middleware after the permission check: the organization in the path (and, with `find`,
 * the object inside it) must be within the caller's reach, else 404 before anything else, even
 * before the payload is validated, so a foreign id never gets a different answer than 404.
 */
export function inReach(
  find?: (em: EntityManager, org: IOrganization, c: Context<AppEnv>) => Promise<unknown>,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const org = await accessibleOrganization(c.get('em'), principalOf(c), c.req.param('id') ?? '');
    if (find) await find(c.get('em'), org, c);
    await next();
  };
}

/** The query's date range (a bare "to" date includes that whole day); 422 naming the field otherwise. */
export function dateRangeOf(query: { from?: string | undefined; to?: string | undefined }): DateRange {
  const { range, errors } = parseDateRange(query, { times: true });
  if (Object.keys(errors).length > 0) throw new ValidationError(errors);
  return range;
}
