// Writing and reading the security audit log. Entries are written in their own flush so an
// entry survives whatever the request does next; reads are always scoped to what the reader
// may reach, and the CSV export is built from the very same query as the page.

import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { type Principal, reachesEveryOrganization } from '../access/principal.ts';
import { containsText } from '../db/text-search.ts';
import { allEventLogRows, type EventLogRow, eventLogPage, eventLogWhere, presentValues } from '../event-log.ts';
import type { IOrganization } from '../identity/entities.ts';
import { AUDIT_STATUSES, AuditEvent, type AuditStatus, type IAuditEvent } from './entities.ts';

export const AUDIT_ACTIVITIES = [
  'Sign-in',
  'Sign-out',
  'Access denied',
  'Account accessed',
  'Account added',
  'Account removal requested',
  'Account restored',
  'Account purged',
  'Partner access removed',
  'Partner access restored',
  'User added',
  'User removed',
  'User deactivated',
  'User activated',
  'Email confirmed',
  'Permissions changed',
  'Settings changed',
  'Security settings changed',
  'IP restrictions changed',
  'Single sign-on changed',
  'External identity removed',
  'Storage location changed',
  'Verification started',
  'Repair started',
  'Password changed',
  'Password reset',
  'Two-factor changed',
  'API key created',
  'API key deleted',
  'Audit exported',
  'Activity exported',
  'Backup task added',
  'Backup task changed',
  'Backup task reconnected',
  'Backup task deleted',
  'Backup task restored',
  'Backup task purged',
  'Backups activated',
  'Backups paused',
  'Backup started',
  'Backups deleted',
  'Backups restored',
  'Job canceled',
  'Compare started',
  'Restore started',
  'Export started',
  'Export downloaded',
  'Recovery sheet viewed',
  'Integration added',
  'Integration changed',
  'Integration removed',
  'Trial subscribed',
  'Billing changed',
  'Invoice issued',
  'Invoice paid',
] as const;
export type AuditActivity = (typeof AUDIT_ACTIVITIES)[number];

/** Who did it and from where. */
export interface AuditActor {
  label: string | null;
  id?: string | null;
  ip?: string | null | undefined;
  userAgent?: string | null | undefined;
}

export interface AuditEntry {
  organization: IOrganization | null;
  activity: AuditActivity;
  status?: AuditStatus;
  service?: string | null;
  account?: string | null;
  description: string;
  actor: AuditActor;
}

export async function recordAudit(em: EntityManager, entry: AuditEntry): Promise<void> {
  const fork = em.fork();
  fork.create(AuditEvent, {
    organization: entry.organization ? entry.organization.id : null,
    activity: entry.activity,
    status: entry.status ?? 'completed',
    service: entry.service ?? null,
    account: entry.account?.slice(0, 320) ?? null,
    performedBy: entry.actor.label?.slice(0, 320) ?? null,
    performerId: entry.actor.id ?? null,
    ip: entry.actor.ip?.slice(0, 64) ?? null,
    userAgent: entry.actor.userAgent?.slice(0, 400) ?? null,
    description: entry.description.slice(0, 2000),
  });
  await fork.flush();
}

export interface AuditFilters {
  from?: Date | undefined;
  /** Exclusive upper bound. */
  to?: Date | undefined;
  activity?: AuditActivity | undefined;
  status?: AuditStatus | undefined;
  /** An organization id inside the reader's reach. */
  organizationId?: string | undefined;
  /** Substring of the performer's label. */
  performer?: string | undefined;
}

export const AUDIT_PAGE_SIZE = 50;

async function filterFor(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  filters: AuditFilters,
): Promise<FilterQuery<IAuditEvent>> {
  const where = await eventLogWhere(em, principal, within, filters);
  if (filters.activity) where.activity = filters.activity;
  if (filters.status) where.status = filters.status;
  if (filters.performer) Object.assign(where, containsText('performed_by', filters.performer));
  return where as FilterQuery<IAuditEvent>;
}

/** The activities and statuses the reader's entries hold (what the filters offer). */
export async function auditFacets(em: EntityManager, principal: Principal, within: IOrganization) {
  const where = await filterFor(em, principal, within, {});
  return presentValues(
    em,
    AuditEvent,
    where,
    ['activity', 'status'] as const,
    await reachesEveryOrganization(em, principal, within),
  );
}

/** An audit entry as its page, the API and the CSV export read it. */
export type AuditRow = EventLogRow<IAuditEvent>;

export async function queryAudit(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  filters: AuditFilters,
  page = 1,
  pageSize = AUDIT_PAGE_SIZE,
): Promise<{ rows: AuditRow[]; total: number }> {
  return eventLogPage(em, AuditEvent, await filterFor(em, principal, within, filters), page, pageSize);
}

/**
 * Every matching row, newest first, read in batches for the CSV export. Each batch continues
 * after the last row of the previous one (keyset paging on (at, id)), so a large export costs
 * the same per batch instead of re-reading everything before an ever-growing offset, and rows
 * written meanwhile neither shift nor repeat the ones still to come.
 */
export async function* allAuditRows(
  em: EntityManager,
  principal: Principal,
  within: IOrganization,
  filters: AuditFilters,
): AsyncGenerator<IAuditEvent> {
  yield* allEventLogRows(em, AuditEvent, await filterFor(em, principal, within, filters));
}

export const AUDIT_CSV_HEADER = [
  'Date',
  'Activity',
  'Service',
  'Status',
  'Account',
  'Organization',
  'Performed by',
  'IP address',
  'Description',
];

export function auditCsvRow(row: AuditRow): string[] {
  return [
    row.at.toISOString(),
    row.activity,
    row.service ?? '',
    statusLabel(row.status),
    row.account ?? '',
    row.organization?.name ?? '',
    row.performedBy ?? '',
    row.ip ?? '',
    row.description,
  ];
}

export function statusLabel(status: AuditStatus): string {
  return status === 'completed' ? 'Completed' : 'Failed';
}

export function isAuditStatus(value: string): value is AuditStatus {
  return (AUDIT_STATUSES as readonly string[]).includes(value);
}

export function isAuditActivity(value: string): value is AuditActivity {
  return (AUDIT_ACTIVITIES as readonly string[]).includes(value);
}
