// GET /portal/usage.csv: the portal's usage report (core/tenancy/account-usage.ts) for the
// accounts ticked in the list (`account`, repeated) or, without any, for every account matching
// the list's filters. Streamed; another tenant's account is a 404.
import { Hono } from 'hono';
import { csvResponse, mapRows } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { servicePlugin } from '../plugins/registry.ts';
import { parseAccountQuery } from '../tenancy/account-list.ts';
import {
  ACCOUNT_USAGE_CSV_HEADER,
  accountUsageCsvRow,
  accountUsageFileName,
  accountUsageRows,
  type UsageSelection,
} from '../tenancy/account-usage.ts';
import { kindLabeller } from './task-usage.ts';

/** The accounts a usage request names: ticked ids, or the list's filters. */
export function usageSelection(ids: readonly string[], query: Record<string, string | undefined>): UsageSelection {
  const ticked = ids.map((id) => id.trim()).filter(Boolean);
  return ticked.length ? { ids: ticked.slice(0, 10_000) } : { query: parseAccountQuery(query) };
}

export function serviceLabel(service: string): string {
  return servicePlugin(service)?.label ?? service;
}

export function portalUsageRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/portal/usage.csv', requireUser(deps));
  app.get('/portal/usage.csv', requirePermission('view_dashboard'), async (c) => {
    const selection = usageSelection(c.req.queries('account') ?? [], c.req.query());
    const em = c.get('em').fork();
    const rows = accountUsageRows(em, principalOf(c), organizationOf(c), selection, kindLabeller);
    // Read the first row before answering, so an unknown account is a 404 rather than a broken download.
    const first = await rows.next();
    async function* all() {
      if (!first.done) yield first.value;
      yield* rows;
    }
    return csvResponse(c, {
      fileName: accountUsageFileName(deps.now()),
      header: ACCOUNT_USAGE_CSV_HEADER,
      rows: mapRows(all(), (row) => accountUsageCsvRow(row, serviceLabel)),
      bom: true,
    });
  });
  return app;
}
