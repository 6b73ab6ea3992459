// /api/v1/audit: the security audit of the caller's organization and the accounts they may
// reach, filtered and paged like the Security Audit page, and its CSV export (built from the
// same query, so the file holds exactly the filtered rows). Needs "View security audit".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import {
  AUDIT_ACTIVITIES,
  AUDIT_CSV_HEADER,
  type AuditFilters,
  type AuditRow,
  allAuditRows,
  auditCsvRow,
  queryAudit,
  recordAudit,
} from '../audit/audit-service.ts';
import { AUDIT_STATUSES } from '../audit/entities.ts';
import { auditActor } from '../http/audit-actor.ts';
import { csvResponse, mapRows } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, principalOf } from '../http/middleware.ts';
import { dateRangeOf, jsonResponse, PagingQuery, pageOf } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const dateParam = (description: string) =>
  z
    .string()
    .max(40)
    .optional()
    .openapi({ description, examples: ['2026-11-01', '2026-11-01T08:00:00Z'] });

const FilterQuery = z.object({
  from: dateParam('Entries at or after this time (a date means its start, UTC).'),
  to: dateParam('Entries before this time; a date includes that whole day (UTC).'),
  activity: z.enum(AUDIT_ACTIVITIES).optional(),
  status: z.enum(AUDIT_STATUSES).optional(),
  organization: z.string().max(36).optional().openapi({ description: 'Only entries of this organization.' }),
  performer: z.string().max(320).optional().openapi({ description: 'Part of the "performed by" name.' }),
});

const AuditEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string().openapi({ format: 'date-time' }),
    activity: z.string(),
    service: z.string().nullable(),
    status: z.enum(AUDIT_STATUSES),
    account: z.string().nullable(),
    organization: z.object({ id: z.string(), name: z.string() }).nullable(),
    performedBy: z.string().nullable(),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    description: z.string(),
  })
  .openapi('AuditEntry');

const queryRoute = createRoute({
  method: 'get',
  path: '/audit',
  tags: ['Security audit'],
  summary: 'Query the security audit',
  description:
    'Entries of the organization worked in and the accounts the caller may reach, newest first, filtered by date range, activity, status, organization and performer.',
  security: SECURED,
  middleware: guarded('view_security_audit'),
  request: { query: FilterQuery.extend(PagingQuery) },
  responses: {
    200: jsonResponse(pageOf(AuditEntrySchema, 'AuditPage'), 'One page of entries'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const exportRoute = createRoute({
  method: 'get',
  path: '/audit/export.csv',
  tags: ['Security audit'],
  summary: 'Export the security audit as CSV',
  description: 'Every entry matching the filters (same as GET /audit, without paging). The export itself is audited.',
  security: SECURED,
  middleware: guarded('view_security_audit'),
  request: { query: FilterQuery },
  responses: {
    200: { description: 'CSV (RFC 4180)', content: { 'text/csv': { schema: z.string() } } },
    ...errorResponses(401, 403, 404, 422),
  },
});

function entryJson(row: AuditRow): z.infer<typeof AuditEntrySchema> {
  const org = row.organization;
  return {
    id: row.id,
    at: row.at.toISOString(),
    activity: row.activity,
    service: row.service ?? null,
    status: row.status,
    account: row.account ?? null,
    organization: org ? { id: org.id, name: org.name } : null,
    performedBy: row.performedBy ?? null,
    ip: row.ip ?? null,
    userAgent: row.userAgent ?? null,
    description: row.description,
  };
}

export function auditApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  async function filtersOf(c: Context<AppEnv>, query: z.infer<typeof FilterQuery>): Promise<AuditFilters> {
    const { from, to } = dateRangeOf(query);
    const filters: AuditFilters = {
      from,
      to,
      activity: query.activity,
      status: query.status,
      performer: query.performer?.trim() || undefined,
    };
    if (query.organization) {
      filters.organizationId = (await accessibleOrganization(c.get('em'), principalOf(c), query.organization)).id;
    }
    return filters;
  }

  api.openapi(queryRoute, async (c) => {
    const { page, pageSize, ...query } = c.req.valid('query');
    const filters = await filtersOf(c, query);
    const { rows, total } = await queryAudit(c.get('em'), principalOf(c), organizationOf(c), filters, page, pageSize);
    return c.json({ items: rows.map(entryJson), total, page, pageSize }, 200);
  });

  api.openapi(exportRoute, async (c) => {
    const filters = await filtersOf(c, c.req.valid('query'));
    const principal = principalOf(c);
    const within = organizationOf(c);
    // The export's own entry is recorded after the last row is read, so it is not in the file.
    const em = c.get('em').fork();
    const actor = auditActor(c, deps);
    const log = c.get('log');
    return csvResponse(c, {
      fileName: `security-audit-${deps.now().toISOString().slice(0, 10)}.csv`,
      header: AUDIT_CSV_HEADER,
      rows: mapRows(allAuditRows(em, principal, within, filters), auditCsvRow),
      onEnd: ({ count, complete }) =>
        recordAudit(em, {
          organization: within,
          activity: 'Audit exported',
          status: complete ? 'completed' : 'failed',
          account: within.name,
          description: `Security audit ${complete ? 'exported' : 'export interrupted'} as CSV (${count} entr${count === 1 ? 'y' : 'ies'})`,
          actor,
        }).catch((err) => log.warn({ err }, 'could not record the audit export')),
    }) as never;
  });

  return api;
}
