// Activity › Security Audit: the audit log of the organization being worked in and the accounts
// under it that the caller may reach, with filters, paging and a CSV export of exactly the
// filtered rows. Guarded by "view security audit". System Activity joins it later; until then
// /activity leads here.
import type { EntityManager } from '@mikro-orm/core';
import { Hono } from 'hono';
import type { Principal } from '../access/principal.ts';
import { reachableFilter } from '../access/principal.ts';
import { type AuditFilterForm, auditFilterQuery, parseAuditFilters } from '../audit/audit-filters.ts';
import {
  AUDIT_ACTIVITIES,
  AUDIT_CSV_HEADER,
  AUDIT_PAGE_SIZE,
  allAuditRows,
  auditCsvRow,
  queryAudit,
  recordAudit,
  statusLabel,
} from '../audit/audit-service.ts';
import { AUDIT_STATUSES, type IAuditEvent } from '../audit/entities.ts';
import { ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import { csvLine } from '../http/csv.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { KIND_LABELS } from '../tenancy/organizations.ts';
import { findWithin } from '../tenancy/portal-accounts.ts';

const MAX_ACCOUNT_CHOICES = 500;
/** Rows gathered before a chunk of the CSV is handed to the response. */
const CSV_ROWS_PER_CHUNK = 200;

function rowView(row: IAuditEvent, current: IOrganization) {
  const org = row.organization as IOrganization | null;
  return {
    at: row.at,
    activity: row.activity,
    service: row.service,
    status: row.status,
    statusLabel: statusLabel(row.status),
    account: row.account,
    // Entries of an account under the one worked in say where they belong, unless the Account column already does.
    organizationName: org && org.id !== current.id && org.name !== row.account ? org.name : null,
    performedBy: row.performedBy,
    ip: row.ip,
    description: row.description,
  };
}

function describeFilters(values: AuditFilterForm, accountName: string | null): string {
  const parts: string[] = [];
  if (values.from) parts.push(`from ${values.from}`);
  if (values.to) parts.push(`to ${values.to}`);
  if (values.activity) parts.push(`activity ${values.activity}`);
  if (values.status) parts.push(`status ${values.status}`);
  if (accountName) parts.push(`account ${accountName}`);
  if (values.performer) parts.push(`performed by "${values.performer}"`);
  return parts.length ? ` (filters: ${parts.join(', ')})` : '';
}

async function accountChoices(em: EntityManager, principal: Principal, org: IOrganization) {
  const rows = await em.find(Organization, reachableFilter(principal, org), {
    orderBy: { name: 'asc', id: 'asc' },
    limit: MAX_ACCOUNT_CHOICES,
  });
  return rows.map((o) => ({ id: o.id, name: o.name, kind: KIND_LABELS[o.kind] }));
}

export function activityRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/activity', requireUser(deps));
  app.use('/activity/*', requireUser(deps));
  const canView = requirePermission('view_security_audit');

  app.get('/activity', (c) => c.redirect('/activity/security-audit', 302));

  app.get('/activity/security-audit', canView, async (c) => {
    const principal = principalOf(c);
    const org = organizationOf(c);
    const em = c.get('em');
    const parsed = parseAuditFilters(c.req.query());
    if (parsed.values.account) await findWithin(em, principal, org, parsed.values.account);
    const invalid = Object.keys(parsed.errors).length > 0;
    const requested = Number.parseInt(c.req.query('page') ?? '1', 10);
    const page = Number.isFinite(requested) && requested > 0 ? Math.min(requested, 1_000_000) : 1;
    const result = invalid ? { rows: [], total: 0 } : await queryAudit(em, principal, org, parsed.filters, page);
    const pageCount = Math.max(1, Math.ceil(result.total / AUDIT_PAGE_SIZE));
    const context = {
      rows: result.rows.map((row) => rowView(row, org)),
      total: result.total,
      page,
      pageCount,
      pageSize: AUDIT_PAGE_SIZE,
      previousUrl:
        page > 1 ? `/activity/security-audit${auditFilterQuery(parsed.values, { page: String(page - 1) })}` : null,
      nextUrl:
        page < pageCount
          ? `/activity/security-audit${auditFilterQuery(parsed.values, { page: String(page + 1) })}`
          : null,
      exportUrl: `/activity/security-audit/export.csv${auditFilterQuery(parsed.values)}`,
      filtersActive: parsed.active,
      invalid,
      values: parsed.values,
      errors: parsed.errors,
    };
    // htmx swaps only successful responses, so the fragment shows its messages with a 200.
    if (wantsFragment(c)) {
      // The address bar gets the tidy form of the query (no empty fields).
      const pageParam: Record<string, string> = page > 1 ? { page: String(page) } : {};
      c.header('HX-Push-Url', `/activity/security-audit${auditFilterQuery(parsed.values, pageParam)}`);
      return renderFragment(c, deps.views, 'partials/activity/audit-results.njk', context);
    }
    return renderPage(
      c,
      deps,
      'pages/activity/security-audit.njk',
      {
        title: 'Security audit',
        organizationName: org.name,
        activities: AUDIT_ACTIVITIES,
        statuses: AUDIT_STATUSES.map((s) => ({ value: s, label: statusLabel(s) })),
        accounts: await accountChoices(em, principal, org),
        ...context,
      },
      invalid ? 422 : 200,
    );
  });

  // Streams every row matching the filters (all pages), then records the export in the log.
  app.get('/activity/security-audit/export.csv', canView, async (c) => {
    const principal = principalOf(c);
    const org = organizationOf(c);
    const parsed = parseAuditFilters(c.req.query());
    if (Object.keys(parsed.errors).length > 0) throw new ValidationError(parsed.errors, 'Some filters are not valid.');
    const account = parsed.values.account ? await findWithin(c.get('em'), principal, org, parsed.values.account) : null;
    const actor = auditActorOf(c, deps);
    const now = deps.now();
    // Its own EntityManager: the export clears it between batches.
    const em = c.get('em').fork();
    const log = c.get('log');
    async function* csv(): AsyncGenerator<string> {
      let count = 0;
      let complete = false;
      try {
        let chunk = `\uFEFF${csvLine(AUDIT_CSV_HEADER)}`;
        let rowsInChunk = 0;
        for await (const row of allAuditRows(em, principal, org, parsed.filters)) {
          chunk += csvLine(auditCsvRow(row));
          count += 1;
          if (++rowsInChunk === CSV_ROWS_PER_CHUNK) {
            yield chunk;
            chunk = '';
            rowsInChunk = 0;
          }
        }
        if (chunk) yield chunk;
        complete = true;
      } finally {
        await recordAudit(em, {
          organization: org,
          activity: 'Audit exported',
          status: complete ? 'completed' : 'failed',
          account: org.name,
          description: `${complete ? 'Exported' : 'Export interrupted after'} ${count} security audit ${count === 1 ? 'entry' : 'entries'} as CSV${describeFilters(parsed.values, account?.name ?? null)}`,
          actor,
        }).catch((err) => log.warn({ err }, 'could not record the audit export'));
      }
    }
    const body = ReadableStream.from(csv()).pipeThrough(new TextEncoderStream());
    return c.body(body, 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="holdfast-security-audit-${now.toISOString().slice(0, 10)}.csv"`,
      'Cache-Control': 'no-store',
    });
  });

  return app;
}
