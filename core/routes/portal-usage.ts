// GET /portal/usage.csv: the portal's usage report (core/tenancy/account-usage.ts) for the
// accounts ticked in the list (`account`, repeated) or, without any, for every account matching
// the list's filters. Streamed; another tenant's account is a 404. POST /portal/usage/mail: the
// same report as a ZIP, queued as mail (core/tenancy/usage-mail.ts).
import { Hono } from 'hono';
import { ValidationError } from '../errors.ts';
import { csvResponse, mapRows } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { redirectWithFlash } from '../http/flash.ts';
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
import { queueUsageReportMail, usageRecipients } from '../tenancy/usage-mail.ts';
import { formLists } from './forms.ts';
import { listUrl } from './portal-bulk.ts';
import { kindLabeller } from './task-usage.ts';

const FILTER_FIELDS = ['q', 'kind', 'status', 'backup', 'sort', 'all'] as const;

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

  // The same report mailed as a ZIP through the outbox (to the requester, or the addresses typed).
  app.use('/portal/usage/mail', requireUser(deps));
  app.post('/portal/usage/mail', requirePermission('view_dashboard'), async (c) => {
    const lists = await formLists(c, ['account', 'recipients', ...FILTER_FIELDS]);
    const filters = Object.fromEntries(FILTER_FIELDS.map((k) => [k, lists[k]?.[0]]));
    const principal = principalOf(c);
    let recipients: string[];
    try {
      recipients = usageRecipients(principal, lists.recipients ?? []);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      return redirectWithFlash(c, deps, listUrl(lists), Object.values(err.fields ?? {})[0] ?? err.message, 'failure');
    }
    const queued = await queueUsageReportMail(c.get('em'), {
      principal,
      current: organizationOf(c),
      selection: usageSelection(lists.account ?? [], filters),
      recipients,
      kindLabel: kindLabeller,
      serviceLabel,
      now: deps.now(),
    });
    const where = deps.config.smtpUrl ? 'is on its way to' : 'waits in the Outbox (no mail server is set) for';
    return redirectWithFlash(
      c,
      deps,
      listUrl(lists),
      `The usage report (${queued.fileName}, ${queued.rows} row${queued.rows === 1 ? '' : 's'}) ${where} ${queued.recipients.join(', ')}.`,
    );
  });
  return app;
}
