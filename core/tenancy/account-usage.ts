// The portal's usage report (seeds 001 and 003 "Export Usage Report"): every backed-up entity of
// the chosen accounts (and of every account under a chosen partner or distributor) with its
// account, service, task, status, first and last backup, items, logical and stored size. The rows of one task are
// built by core/tasks/usage-report.ts (the task page's report); here the accounts and their tasks
// are walked in batches, so a report over thousands of accounts streams in constant memory.
import type { EntityManager, FilterQuery } from '@mikro-orm/core';
import { canReach, type Principal } from '../access/principal.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import { BackupTask, type EntityStatus, type IBackupTask } from '../tasks/entities.ts';
import { ENTITY_STATUS_LABELS } from '../tasks/task-overview.ts';
import { usageEntries } from '../tasks/usage-report.ts';
import { type AccountQuery, listAccounts } from './account-list.ts';
import { likeSafePath } from './organizations.ts';
import { ACCESS_REMOVED_LABEL } from './partner-access.ts';
import { findHeldWithin } from './portal-accounts.ts';

const BATCH = 200;

export const ACCOUNT_USAGE_CSV_HEADER = [
  'Account',
  'Account id',
  'Parent',
  'Service',
  'Task',
  'Type',
  'Name',
  'Id at the service',
  'Status',
  'First backed up (UTC)',
  'Last backup (UTC)',
  'Items',
  'Logical size (bytes)',
  'Stored size (bytes)',
] as const;

export interface UsageRow {
  account: { id: string; name: string; parent: string | null };
  service: string;
  task: { id: string; name: string };
  type: string;
  name: string;
  externalId: string;
  status: EntityStatus;
  statusLabel: string;
  firstBackupAt: Date | null;
  lastBackupAt: Date | null;
  items: number;
  logicalBytes: number;
  /** What its runs wrote to storage after dedup and compression. */
  storedBytes: number;
}

/** Which accounts a report covers: the ones ticked, or all that match the list's filters. */
export type UsageSelection = { ids: string[] } | { query: AccountQuery };

/**
 * The organizations the report starts from, as (id, path): ticked ones are checked one by one
 * (the organization itself or one below it; another tenant's is a 404); otherwise every account the filters match, read a page at a time.
 * An account under another chosen one is left out, so no entity is reported twice.
 */
async function chosenRoots(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  selection: UsageSelection,
): Promise<{ id: string; path: string }[]> {
  const found: { id: string; path: string }[] = [];
  if ('ids' in selection) {
    for (const id of new Set(selection.ids)) {
      const org = await findHeldWithin(em, principal, current, id);
      found.push({ id: org.id, path: org.path });
    }
  } else {
    for (let page = 1; ; page++) {
      const result = await listAccounts(em, principal, current, { ...selection.query, page, sort: 'name' }, 500);
      if (result.page !== page) break;
      const paths = await em.find(
        Organization,
        { id: { $in: result.rows.map((r) => r.id) } },
        { fields: ['id', 'path'] },
      );
      found.push(...paths.map((o) => ({ id: o.id, path: o.path })));
      em.clear();
      if (page >= result.pageCount) break;
    }
  }
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  // Sorted by path, an account inside a kept one follows it directly.
  const roots: { id: string; path: string }[] = [];
  for (const org of found) {
    const last = roots[roots.length - 1];
    if (!last || !org.path.startsWith(last.path)) roots.push(org);
  }
  return roots;
}

/** Tasks (not deleted) of every organization under (and at) `path`, by id, a batch at a time. */
async function* tasksUnder(em: EntityManager, path: string): AsyncGenerator<IBackupTask> {
  let after = '';
  for (;;) {
    const where: FilterQuery<IBackupTask> = {
      deletedAt: null,
      organization: { path: { $like: `${likeSafePath(path)}%` } },
      ...(after ? { id: { $gt: after } } : {}),
    };
    const tasks = await em.find(BackupTask, where, {
      orderBy: { id: 'asc' },
      limit: BATCH,
      populate: ['organization', 'organization.parent'],
    });
    yield* tasks;
    if (tasks.length < BATCH) return;
    after = (tasks[tasks.length - 1] as IBackupTask).id;
    em.clear();
  }
}

/**
 * Every entity of the selected accounts, account by account (by path) and task by task.
 * `kindLabel(service)` names an entity kind as its service does. `em` should be a fork of its own.
 */
export async function* accountUsageRows(
  em: EntityManager,
  principal: Principal,
  current: IOrganization,
  selection: UsageSelection,
  kindLabel: (service: string) => (kind: string) => string,
): AsyncGenerator<UsageRow> {
  const roots = await chosenRoots(em, principal, current, selection);
  const entitiesEm = em.fork();
  for (const root of roots) {
    for await (const task of tasksUnder(em, root.path)) {
      const org = task.organization as IOrganization;
      const parent = org.parent as IOrganization | null | undefined;
      const account = { id: org.id, name: org.name, parent: parent && parent.id !== current.id ? parent.name : null };
      const label = kindLabel(task.service);
      // A customer that removed its partner's access: its figures stay, its names do not.
      const hidden = !canReach(principal, org);
      for await (const { entity, span } of usageEntries(entitiesEm, task)) {
        yield {
          account,
          service: task.service,
          task: hidden ? { id: '', name: ACCESS_REMOVED_LABEL } : { id: task.id, name: task.name },
          type: label(entity.kind),
          name: hidden ? ACCESS_REMOVED_LABEL : entity.name,
          externalId: hidden ? '' : entity.externalId,
          status: entity.status as EntityStatus,
          statusLabel: ENTITY_STATUS_LABELS[entity.status as EntityStatus] ?? entity.status,
          firstBackupAt: span?.first ?? null,
          lastBackupAt: entity.lastRunAt ?? span?.last ?? null,
          items: entity.lastItems,
          logicalBytes: Number(entity.lastBytes),
          storedBytes: Number(entity.storedBytes),
        };
      }
      entitiesEm.clear();
    }
  }
}

export function accountUsageCsvRow(row: UsageRow, serviceLabel: (service: string) => string): string[] {
  return [
    row.account.name,
    row.account.id,
    row.account.parent ?? '',
    serviceLabel(row.service),
    row.task.name,
    row.type,
    row.name,
    row.externalId,
    row.statusLabel,
    row.firstBackupAt?.toISOString() ?? '',
    row.lastBackupAt?.toISOString() ?? '',
    String(row.items),
    String(row.logicalBytes),
    String(row.storedBytes),
  ];
}

/** "usage-report-2026-12-07.csv". */
export function accountUsageFileName(at: Date): string {
  return `usage-report-${at.toISOString().slice(0, 10)}.csv`;
}
