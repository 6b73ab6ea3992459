// Reading the System Activity page's filters from a query string: dates as whole UTC days (the
// end date included), an activity, a service and a status from their lists, searches in the
// task name and the item, one job (the Jobs page's "View Log"), and an account id (checked for
// reach by the caller). Bad values come back as field messages.
import { parseDateRange } from '../date-range.ts';
import type { FieldErrors } from '../errors.ts';
import { type ActivityFilters, isActivity, isActivityStatus } from './activity-service.ts';

export interface ActivityFilterForm {
  from: string;
  to: string;
  activity: string;
  service: string;
  status: string;
  task: string;
  item: string;
  job: string;
  account: string;
}

export interface ParsedActivityFilters {
  /** What the form shows back. */
  values: ActivityFilterForm;
  /** What the query uses (the account id is in `values.account`, to be checked by the caller). */
  filters: ActivityFilters;
  errors: FieldErrors;
  /** Whether any filter is set (for "Clear filters" and the empty state). */
  active: boolean;
}

const JOB_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SERVICE_KIND = /^[a-z0-9][a-z0-9._-]*$/i;

export function parseActivityFilters(
  query: Record<string, string | undefined>,
  services: readonly { kind: string }[],
): ParsedActivityFilters {
  const text = (name: keyof ActivityFilterForm, max: number) => (query[name] ?? '').trim().slice(0, max);
  const values: ActivityFilterForm = {
    from: text('from', 10),
    to: text('to', 10),
    activity: text('activity', 100),
    service: text('service', 100),
    status: text('status', 30),
    task: text('task', 200),
    item: text('item', 500),
    job: text('job', 36),
    account: text('account', 36),
  };
  const filters: ActivityFilters = {};
  const errors: FieldErrors = {};
  const dates = parseDateRange(values, { ordered: true });
  Object.assign(filters, dates.range);
  Object.assign(errors, dates.errors);
  if (values.activity) {
    if (isActivity(values.activity)) filters.activity = values.activity;
    else errors.activity = 'Choose an activity from the list.';
  }
  if (values.service) {
    // A service whose plugin was removed still has rows: any well-formed kind is accepted.
    if (SERVICE_KIND.test(values.service) || services.some((s) => s.kind === values.service)) {
      filters.service = values.service;
    } else errors.service = 'Choose a service from the list.';
  }
  if (values.status) {
    if (isActivityStatus(values.status)) filters.status = values.status;
    else errors.status = 'Choose a status from the list.';
  }
  if (values.task) filters.task = values.task;
  if (values.item) filters.item = values.item;
  if (values.job) {
    if (JOB_ID.test(values.job)) filters.jobId = values.job.toLowerCase();
    else errors.job = 'That is not a job id.';
  }
  if (values.account) filters.organizationId = values.account;
  const active = Object.values(values).some((v) => v !== '');
  return { values, filters, errors, active };
}

/** The query string of a filter form (empty values left out), for links and the export. */
export function activityFilterQuery(values: ActivityFilterForm, extra: Record<string, string> = {}): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...values, ...extra })) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}
