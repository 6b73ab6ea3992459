// Reading the Security Audit page's filters from a query string: dates as whole UTC days (the
// end date included), an activity and a status from their lists, an account id (checked for
// reach by the caller), and a performer substring. Bad values come back as field messages.
import { parseDateRange } from '../date-range.ts';
import type { FieldErrors } from '../errors.ts';
import { type AuditFilters, isAuditActivity, isAuditStatus } from './audit-service.ts';

export interface AuditFilterForm {
  from: string;
  to: string;
  activity: string;
  status: string;
  account: string;
  performer: string;
}

export interface ParsedAuditFilters {
  /** What the form shows back. */
  values: AuditFilterForm;
  /** What the query uses (the account id is in `values.account`, to be checked by the caller). */
  filters: AuditFilters;
  errors: FieldErrors;
  /** Whether any filter is set (for "Clear filters" and the empty state). */
  active: boolean;
}

export function parseAuditFilters(query: Record<string, string | undefined>): ParsedAuditFilters {
  const text = (name: keyof AuditFilterForm, max: number) => (query[name] ?? '').trim().slice(0, max);
  const values: AuditFilterForm = {
    from: text('from', 10),
    to: text('to', 10),
    activity: text('activity', 100),
    status: text('status', 20),
    account: text('account', 36),
    performer: text('performer', 320),
  };
  const filters: AuditFilters = {};
  const errors: FieldErrors = {};
  const dates = parseDateRange(values, { ordered: true });
  Object.assign(filters, dates.range);
  Object.assign(errors, dates.errors);
  if (values.activity) {
    if (isAuditActivity(values.activity)) filters.activity = values.activity;
    else errors.activity = 'Choose an activity from the list.';
  }
  if (values.status) {
    if (isAuditStatus(values.status)) filters.status = values.status;
    else errors.status = 'Choose a status from the list.';
  }
  if (values.account) filters.organizationId = values.account;
  if (values.performer) filters.performer = values.performer;
  const active = Object.values(values).some((v) => v !== '');
  return { values, filters, errors, active };
}

/** The query string of a filter form (empty values left out), for links and the export. */
export function auditFilterQuery(values: AuditFilterForm, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...values, ...extra })) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}
