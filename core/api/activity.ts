// /api/v1/activity: the System Activity of the caller's organization and the accounts they may
// reach (every backup / restore / export run and notable task event), filtered and paged like the
// page, and its CSV export (built from the same query, so the file holds exactly the filtered
// rows). Needs "View account activity".
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { accessibleOrganization } from '../access/principal.ts';
import {
  ACTIVITIES,
  ACTIVITY_CSV_HEADER,
  type ActivityFilters,
  type ActivityRow,
  activityCsvRow,
  allActivityRows,
  queryActivity,
} from '../activity/activity-service.ts';
import { ACTIVITY_STATUSES } from '../activity/entities.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { ValidationError } from '../errors.ts';
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
  from: dateParam('Rows at or after this time (a date means its start, UTC).'),
  to: dateParam('Rows before this time; a date includes that whole day (UTC).'),
  activity: z.enum(ACTIVITIES).optional(),
  service: z.string().max(100).optional().openapi({ description: "A service plugin's kind, e.g. dropbox." }),
  status: z.enum(ACTIVITY_STATUSES).optional(),
  task: z.string().max(200).optional().openapi({ description: 'Part of the task name.' }),
  item: z.string().max(500).optional().openapi({ description: 'Part of the item (user, folder, object) name.' }),
  job: z.uuid().optional().openapi({ description: 'Only the row of this job.' }),
  organization: z.string().max(36).optional().openapi({ description: 'Only rows of this organization.' }),
});

const ActivityEntrySchema = z
  .object({
    id: z.number().int(),
    at: z.string().openapi({ format: 'date-time', description: 'When the run ended or the event happened.' }),
    activity: z.string(),
    service: z.string().nullable().openapi({ description: "The service plugin's kind." }),
    serviceLabel: z.string().nullable(),
    subService: z.string().nullable().openapi({ description: 'The kind of item, e.g. Users, Team folders.' }),
    status: z.enum(ACTIVITY_STATUSES),
    task: z
      .object({ id: z.string(), name: z.string() })
      .nullable()
      .openapi({ description: 'The task as it was named then (it may be deleted since).' }),
    item: z.string().nullable(),
    organization: z.object({ id: z.string(), name: z.string() }),
    jobId: z.string().nullable(),
    startedAt: z.string().nullable().openapi({ format: 'date-time' }),
    durationMs: z.number().int().nullable(),
    bytes: z.number().nullable(),
    items: z.number().int().nullable(),
    summary: z.string(),
  })
  .openapi('ActivityEntry');

const queryRoute = createRoute({
  method: 'get',
  path: '/activity',
  tags: ['System activity'],
  summary: 'Query the system activity',
  description:
    'Backup, restore and export runs and notable task events of the organization worked in and the accounts the caller may reach, newest first, filtered like the System Activity page.',
  security: SECURED,
  middleware: guarded('view_activity'),
  request: { query: FilterQuery.extend(PagingQuery) },
  responses: {
    200: jsonResponse(pageOf(ActivityEntrySchema, 'ActivityPage'), 'One page of rows'),
    ...errorResponses(401, 403, 404, 422),
  },
});

const exportRoute = createRoute({
  method: 'get',
  path: '/activity/export.csv',
  tags: ['System activity'],
  summary: 'Export the system activity as CSV',
  description:
    'Every row matching the filters (same as GET /activity, without paging). The export is recorded in the security audit.',
  security: SECURED,
  middleware: guarded('view_activity'),
  request: { query: FilterQuery },
  responses: {
    200: { description: 'CSV (RFC 4180)', content: { 'text/csv': { schema: z.string() } } },
    ...errorResponses(401, 403, 404, 422),
  },
});

function entryJson(row: ActivityRow): z.infer<typeof ActivityEntrySchema> {
  const org = row.organization;
  return {
    id: row.id,
    at: row.at.toISOString(),
    activity: row.activity,
    service: row.service ?? null,
    serviceLabel: row.serviceLabel ?? null,
    subService: row.subService ?? null,
    status: row.status,
    task: row.taskId ? { id: row.taskId, name: row.taskName ?? '' } : null,
    item: row.item ?? null,
    organization: { id: org?.id ?? '', name: org?.name ?? '' },
    jobId: row.jobId ?? null,
    startedAt: row.startedAt?.toISOString() ?? null,
    durationMs: row.durationMs ?? null,
    bytes: row.bytes == null ? null : Number(row.bytes),
    items: row.items ?? null,
    summary: row.summary,
  };
}

export function activityApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  async function filtersOf(c: Context<AppEnv>, query: z.infer<typeof FilterQuery>): Promise<ActivityFilters> {
    const { from, to } = dateRangeOf(query);
    if (from && to && to <= from) throw new ValidationError({ to: 'The end is before the start.' });
    const filters: ActivityFilters = {
      from,
      to,
      activity: query.activity,
      service: query.service?.trim() || undefined,
      status: query.status,
      task: query.task?.trim() || undefined,
      item: query.item?.trim() || undefined,
      jobId: query.job?.toLowerCase(),
    };
    if (query.organization) {
      filters.organizationId = (await accessibleOrganization(c.get('em'), principalOf(c), query.organization)).id;
    }
    return filters;
  }

  api.openapi(queryRoute, async (c) => {
    const { page, pageSize, ...query } = c.req.valid('query');
    const filters = await filtersOf(c, query);
    const { rows, total } = await queryActivity(
      c.get('em'),
      principalOf(c),
      organizationOf(c),
      filters,
      page,
      pageSize,
    );
    return c.json({ items: rows.map(entryJson), total, page, pageSize }, 200);
  });

  api.openapi(exportRoute, async (c) => {
    const filters = await filtersOf(c, c.req.valid('query'));
    const principal = principalOf(c);
    const within = organizationOf(c);
    const em = c.get('em').fork();
    const actor = auditActor(c, deps);
    const log = c.get('log');
    return csvResponse(c, {
      fileName: `system-activity-${deps.now().toISOString().slice(0, 10)}.csv`,
      header: ACTIVITY_CSV_HEADER,
      rows: mapRows(allActivityRows(em, principal, within, filters), activityCsvRow),
      onEnd: ({ count, complete }) =>
        recordAudit(em, {
          organization: within,
          activity: 'Activity exported',
          status: complete ? 'completed' : 'failed',
          account: within.name,
          description: `System activity ${complete ? 'exported' : 'export interrupted'} as CSV (${count} row${count === 1 ? '' : 's'})`,
          actor,
        }).catch((err) => log.warn({ err }, 'could not record the activity export')),
    }) as never;
  });

  return api;
}
