// Activity: System Activity (every backup / restore / export run and notable task event, guarded
// by "view activity") and Security Audit (guarded by "view security audit"), each with filters,
// paging and a CSV export of exactly the filtered rows. Both show the organization being worked
// in and the accounts under it that the caller may reach. /activity is System Activity; a user
// who may only read the audit is sent there instead.
import { Hono } from 'hono';
import { MissingPermissionError } from '../access/errors.ts';
import { hasPermission } from '../access/principal.ts';
import { type ActivityFilterForm, activityFilterQuery, parseActivityFilters } from '../activity/activity-filters.ts';
import {
  ACTIVITIES,
  ACTIVITY_CSV_HEADER,
  ACTIVITY_PAGE_SIZE,
  ACTIVITY_STATUS_LABELS,
  type ActivityRow,
  activityCsvRow,
  activityFacets,
  allActivityRows,
  findActivity,
  humanBytes,
  humanDuration,
  jobLogOf,
  queryActivity,
} from '../activity/activity-service.ts';
import { ACTIVITY_STATUSES } from '../activity/entities.ts';
import { type AuditFilterForm, auditFilterQuery, parseAuditFilters } from '../audit/audit-filters.ts';
import {
  AUDIT_ACTIVITIES,
  AUDIT_CSV_HEADER,
  AUDIT_PAGE_SIZE,
  type AuditRow,
  allAuditRows,
  auditCsvRow,
  auditFacets,
  queryAudit,
  recordAudit,
  statusLabel,
} from '../audit/audit-service.ts';
import { AUDIT_STATUSES } from '../audit/entities.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { auditActorOf } from '../http/audit-actor.ts';
import { csvResponse, mapRows } from '../http/csv-response.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { renderFragment, wantsFragment } from '../http/htmx.ts';
import { organizationOf, principalOf, requirePermission, requireUser } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import type { IOrganization } from '../identity/entities.ts';
import { servicePlugins } from '../plugins/registry.ts';
import { accountPicker } from '../tenancy/account-search.ts';
import { findWithin } from '../tenancy/portal-accounts.ts';

function rowView(row: AuditRow, current: IOrganization) {
  const org = row.organization;
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

function pageNumber(text: string | undefined): number {
  const requested = Number.parseInt(text ?? '1', 10);
  return Number.isFinite(requested) && requested > 0 ? Math.min(requested, 1_000_000) : 1;
}

/** The service filter's choices: the installed service plugins. */
function serviceChoices(): { kind: string; label: string }[] {
  return servicePlugins()
    .map((p) => ({ kind: p.kind, label: p.label }))
    .sort((a, b) => a.label.localeCompare(b.label));
}

/** Offered: a value some row holds, or the one chosen (so the form still shows it). */
function offered(present: Set<string>, chosen: string): (value: string) => boolean {
  return (value) => present.has(value) || value === chosen;
}

function activityChoices(
  present: Awaited<ReturnType<typeof activityFacets>>,
  values: ActivityFilterForm,
  services: { kind: string; label: string }[],
) {
  return {
    activities: ACTIVITIES.filter(offered(present.activity, values.activity)),
    services: services.filter((s) => offered(present.service, values.service)(s.kind)),
    statuses: ACTIVITY_STATUSES.filter(offered(present.status, values.status)).map((s) => ({
      value: s,
      label: ACTIVITY_STATUS_LABELS[s],
    })),
  };
}

function auditChoices(present: Awaited<ReturnType<typeof auditFacets>>, values: AuditFilterForm) {
  return {
    activities: AUDIT_ACTIVITIES.filter(offered(present.activity, values.activity)),
    statuses: AUDIT_STATUSES.filter(offered(present.status, values.status)).map((s) => ({
      value: s,
      label: statusLabel(s),
    })),
  };
}

function activityRowView(row: ActivityRow, current: IOrganization) {
  const org = row.organization;
  return {
    id: row.id,
    at: row.at,
    activity: row.activity,
    service: row.serviceLabel,
    subService: row.subService,
    status: row.status,
    statusLabel: ACTIVITY_STATUS_LABELS[row.status],
    taskName: row.taskName,
    item: row.item,
    organizationName: org && org.id !== current.id ? org.name : null,
    jobId: row.jobId,
    startedAt: row.startedAt,
    duration: row.durationMs == null ? null : humanDuration(row.durationMs),
    dataSize: row.bytes == null ? null : humanBytes(Number(row.bytes)),
    items: row.items,
    summary: row.summary,
  };
}

function describeActivityFilters(values: ActivityFilterForm, accountName: string | null): string {
  const labels: [keyof ActivityFilterForm, string][] = [
    ['from', 'from'],
    ['to', 'to'],
    ['activity', 'activity'],
    ['service', 'service'],
    ['status', 'status'],
    ['task', 'task'],
    ['item', 'item'],
    ['job', 'job'],
  ];
  const parts = labels.filter(([key]) => values[key]).map(([key, label]) => `${label} ${values[key]}`);
  if (accountName) parts.push(`account ${accountName}`);
  return parts.length ? ` (filters: ${parts.join(', ')})` : '';
}

export function activityRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  app.use('/activity', requireUser(deps));
  app.use('/activity/*', requireUser(deps));
  const canView = requirePermission('view_security_audit');
  const canViewActivity = requirePermission('view_activity');

  app.get(
    '/activity',
    async (c, next) => {
      const principal = principalOf(c);
      if (hasPermission(principal, 'view_activity')) return next();
      if (hasPermission(principal, 'view_security_audit')) return c.redirect('/activity/security-audit', 302);
      throw new MissingPermissionError('view_activity');
    },
    async (c) => {
      const principal = principalOf(c);
      const org = organizationOf(c);
      const em = c.get('em');
      const services = serviceChoices();
      const parsed = parseActivityFilters(c.req.query(), services);
      const picker = await accountPicker(em, principal, org, parsed.values.account || undefined);
      const invalid = Object.keys(parsed.errors).length > 0;
      const page = pageNumber(c.req.query('page'));
      const result = invalid ? { rows: [], total: 0 } : await queryActivity(em, principal, org, parsed.filters, page);
      const pageCount = Math.max(1, Math.ceil(result.total / ACTIVITY_PAGE_SIZE));
      const pageUrl = (n: number) => `/activity${activityFilterQuery(parsed.values, { page: String(n) })}`;
      const context = {
        rows: result.rows.map((row) => activityRowView(row, org)),
        total: result.total,
        page,
        pageCount,
        pageSize: ACTIVITY_PAGE_SIZE,
        previousUrl: page > 1 ? pageUrl(page - 1) : null,
        nextUrl: page < pageCount ? pageUrl(page + 1) : null,
        exportUrl: `/activity/export.csv${activityFilterQuery(parsed.values)}`,
        // "Showing one job" drops only the job, keeping the other filters.
        clearJobUrl: `/activity${activityFilterQuery({ ...parsed.values, job: '' })}`,
        filtersActive: parsed.active,
        invalid,
        values: parsed.values,
        errors: parsed.errors,
        // The rows' dialogs fetch the job's log when first shown.
        lazy: true,
      };
      if (wantsFragment(c)) {
        const pageParam: Record<string, string> = page > 1 ? { page: String(page) } : {};
        c.header('HX-Push-Url', `/activity${activityFilterQuery(parsed.values, pageParam)}`);
        return renderFragment(c, deps.views, 'partials/activity/system-results.njk', context);
      }
      return renderPage(
        c,
        deps,
        'pages/activity/system-activity.njk',
        {
          title: 'System activity',
          organizationName: org.name,
          // Only what some row holds (and the value chosen), so no choice leads to an empty table.
          ...activityChoices(await activityFacets(em, principal, org), parsed.values, services),
          picker,
          ...context,
        },
        invalid ? 422 : 200,
      );
    },
  );

  // One row's details: the info dialog's figures and the job's log while the job exists. htmx
  // loads it into the dialog; without htmx it is a page of its own.
  app.get('/activity/events/:id', canViewActivity, async (c) => {
    const principal = principalOf(c);
    const org = organizationOf(c);
    const em = c.get('em');
    const id = c.req.param('id');
    const row = /^\d{1,15}$/.test(id) ? await findActivity(em, principal, org, Number(id)) : null;
    if (!row) throw new NotFoundError('No such activity.');
    const log = await jobLogOf(em, row);
    const context = {
      r: activityRowView(row, org),
      log: log?.map((entry) => ({
        at: entry.at.slice(0, 19).replace('T', ' '),
        level: entry.level,
        message: entry.message,
      })),
      jobGone: !!row.jobId && !log,
    };
    if (wantsFragment(c)) return renderFragment(c, deps.views, 'partials/activity/event-details.njk', context);
    return renderPage(c, deps, 'pages/activity/event.njk', { title: `${row.activity} details`, ...context });
  });

  // Streams every row matching the filters (all pages), then records the export in the audit log.
  app.get('/activity/export.csv', canViewActivity, async (c) => {
    const principal = principalOf(c);
    const org = organizationOf(c);
    const parsed = parseActivityFilters(c.req.query(), serviceChoices());
    if (Object.keys(parsed.errors).length > 0) throw new ValidationError(parsed.errors, 'Some filters are not valid.');
    const account = parsed.values.account ? await findWithin(c.get('em'), principal, org, parsed.values.account) : null;
    const actor = auditActorOf(c, deps);
    const now = deps.now();
    const em = c.get('em').fork();
    const log = c.get('log');
    return csvResponse(c, {
      fileName: `holdfast-system-activity-${now.toISOString().slice(0, 10)}.csv`,
      header: ACTIVITY_CSV_HEADER,
      rows: mapRows(allActivityRows(em, principal, org, parsed.filters), activityCsvRow),
      bom: true,
      onEnd: ({ count, complete }) =>
        recordAudit(em, {
          organization: org,
          activity: 'Activity exported',
          status: complete ? 'completed' : 'failed',
          account: org.name,
          description: `${complete ? 'Exported' : 'Export interrupted after'} ${count} system activity ${count === 1 ? 'row' : 'rows'} as CSV${describeActivityFilters(parsed.values, account?.name ?? null)}`,
          actor,
        }).catch((err) => log.warn({ err }, 'could not record the activity export')),
    });
  });

  app.get('/activity/security-audit', canView, async (c) => {
    const principal = principalOf(c);
    const org = organizationOf(c);
    const em = c.get('em');
    const parsed = parseAuditFilters(c.req.query());
    const picker = await accountPicker(em, principal, org, parsed.values.account || undefined);
    const invalid = Object.keys(parsed.errors).length > 0;
    const page = pageNumber(c.req.query('page'));
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
        // Only what some entry holds (and the value chosen).
        ...auditChoices(await auditFacets(em, principal, org), parsed.values),
        picker,
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
    return csvResponse(c, {
      fileName: `holdfast-security-audit-${now.toISOString().slice(0, 10)}.csv`,
      header: AUDIT_CSV_HEADER,
      rows: mapRows(allAuditRows(em, principal, org, parsed.filters), auditCsvRow),
      bom: true,
      onEnd: ({ count, complete }) =>
        recordAudit(em, {
          organization: org,
          activity: 'Audit exported',
          status: complete ? 'completed' : 'failed',
          account: org.name,
          description: `${complete ? 'Exported' : 'Export interrupted after'} ${count} security audit ${count === 1 ? 'entry' : 'entries'} as CSV${describeFilters(parsed.values, account?.name ?? null)}`,
          actor,
        }).catch((err) => log.warn({ err }, 'could not record the audit export')),
    });
  });

  return app;
}
