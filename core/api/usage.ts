// GET /api/v1/usage: the portal's usage report (core/tenancy/account-usage.ts) as CSV — every
// backed-up entity of the accounts named by `account` (repeatable) or, without any, of every
// account under the caller's organization matching the accounts list's filters. Needs "View
// dashboard"; another tenant's account is a 404.
import { createRoute, z } from '@hono/zod-openapi';
import { csvResponse, mapRows } from '../http/csv-response.ts';
import type { AppDeps } from '../http/env.ts';
import { organizationOf, principalOf } from '../http/middleware.ts';
import { ORGANIZATION_STATUSES } from '../identity/entities.ts';
import { serviceLabel, usageSelection } from '../routes/portal-usage.ts';
import { kindLabeller } from '../routes/task-usage.ts';
import { BACKUP_STATUSES } from '../tenancy/account-health.ts';
import {
  ACCOUNT_USAGE_CSV_HEADER,
  accountUsageCsvRow,
  accountUsageFileName,
  accountUsageRows,
} from '../tenancy/account-usage.ts';
import { createApiRouter, guarded, SECURED } from './router.ts';
import { errorResponses } from './schemas.ts';

const UsageQuery = z.object({
  account: z
    .union([z.string().max(36), z.array(z.string().max(36)).max(10_000)])
    .optional()
    .openapi({
      description: 'Only these accounts (and the accounts under them); repeat for more. Overrides the filters.',
    }),
  q: z.string().max(200).optional().openapi({ description: 'Part of the account name or contact email.' }),
  kind: z.enum(['distributor', 'partner', 'customer']).optional(),
  status: z.enum(ORGANIZATION_STATUSES).optional().openapi({ description: 'Account status.' }),
  backup: z
    .enum(BACKUP_STATUSES)
    .optional()
    .openapi({ description: 'The worst last-run result of the account’s tasks (none: never backed up).' }),
  all: z
    .enum(['1'])
    .optional()
    .openapi({ description: '1: match accounts at every level, not only the direct children.' }),
});

const usageRoute = createRoute({
  method: 'get',
  path: '/usage',
  tags: ['Organizations'],
  summary: 'Export the usage report of accounts as CSV',
  description:
    'Every backed-up entity (user, team folder, object…) of the chosen accounts and of every account under them, account by account: service, task, type, name, status, first backed up, last backup, items and logical size of its last snapshot, and the bytes its runs wrote to storage after dedup and compression. The same report as the portal’s Export usage report.',
  security: SECURED,
  middleware: guarded('view_dashboard'),
  request: { query: UsageQuery },
  responses: {
    200: { description: 'CSV (RFC 4180)', content: { 'text/csv': { schema: z.string() } } },
    ...errorResponses(401, 403, 404, 422),
  },
});

export function usageApi(deps: AppDeps) {
  const api = createApiRouter(deps);
  api.openapi(usageRoute, async (c) => {
    const { account, ...filters } = c.req.valid('query');
    const ids = account === undefined ? [] : Array.isArray(account) ? account : [account];
    const selection = usageSelection(ids, filters);
    const rows = accountUsageRows(c.get('em').fork(), principalOf(c), organizationOf(c), selection, kindLabeller);
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
    }) as never;
  });
  return api;
}
