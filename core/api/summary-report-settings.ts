// /api/v1/organizations/{id}/summary-report-settings: the organization's summary report settings
// (format, CSV attached or linked, frequency and hour in a time zone, only when a backup failed,
// one file or one per customer above customers). Needs "Manage notifications".
import { createRoute, z } from '@hono/zod-openapi';
import { accessibleOrganization } from '../access/principal.ts';
import type { AppDeps } from '../http/env.ts';
import { principalOf } from '../http/middleware.ts';
import {
  REPORT_DELIVERIES,
  REPORT_FORMATS,
  REPORT_FREQUENCIES,
  REPORT_SPLITS,
} from '../notifications/summary-entities.ts';
import { reportSettingsOf, saveReportSettings } from '../notifications/summary-settings.ts';
import { inReach, jsonBody, jsonResponse, OrganizationIdParams } from './common.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const SummaryReportSchema = z
  .object({
    enabled: z.boolean().openapi({ description: 'Whether the report is sent.' }),
    format: z
      .enum(REPORT_FORMATS)
      .openapi({ description: 'overview: every task and item; failures: only the items whose backup failed.' }),
    delivery: z.enum(REPORT_DELIVERIES).openapi({
      description:
        'attachment: the CSV is attached; link: a download link (14 days, signed-in users of the organization).',
    }),
    frequency: z.enum(REPORT_FREQUENCIES).openapi({ description: 'Weekly on Mondays, monthly on the 1st.' }),
    hour: z.number().int().min(0).max(23).openapi({ description: 'The hour (0–23) in `timeZone`.', example: 7 }),
    timeZone: z.string().openapi({ description: 'An IANA time zone.', example: 'Europe/Berlin' }),
    onlyWhenFailed: z.boolean().openapi({ description: 'Send only when some backup failed.' }),
    split: z.enum(REPORT_SPLITS).openapi({
      description: 'Above customers: consolidated (one file) or per_customer. Customers: consolidated.',
    }),
  })
  .openapi('SummaryReportSettings');

const tags = ['Notifications'];
const middleware = [...guarded('manage_notifications'), inReach()];

const getRoute = createRoute({
  method: 'get',
  path: '/organizations/{id}/summary-report-settings',
  tags,
  summary: 'Get the summary report settings',
  description: 'The summary report settings; defaults (not sent) when none are saved.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams },
  responses: { 200: jsonResponse(SummaryReportSchema, 'Settings'), ...errorResponses(401, 403, 404) },
});

const putRoute = createRoute({
  method: 'put',
  path: '/organizations/{id}/summary-report-settings',
  tags,
  summary: 'Replace the summary report settings',
  description: 'A bad value is a 422 naming the field; nothing is saved.',
  security: SECURED,
  middleware,
  request: { params: OrganizationIdParams, ...jsonBody(SummaryReportSchema) },
  responses: { 200: jsonResponse(SummaryReportSchema, 'Settings'), ...errorResponses(401, 403, 404, 422) },
});

export function summaryReportSettingsApi(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openapi(getRoute, async (c) => {
    const org = await accessibleOrganization(c.get('em'), principalOf(c), c.req.valid('param').id);
    return c.json(await reportSettingsOf(c.get('em'), org), 200);
  });

  api.openapi(putRoute, async (c) => {
    const org = await accessibleOrganization(c.get('em'), principalOf(c), c.req.valid('param').id);
    const body = c.req.valid('json');
    return c.json(await saveReportSettings(c.get('em'), org, body, deps.now()), 200);
  });

  return api;
}
