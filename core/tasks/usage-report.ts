// The usage report of a backup task (seed 3.4): every entity it holds — user, folder, object,
// metadata type — with its status, what its last run stored and when its last snapshot was
// taken, for any connector. Rows are read 500 at a time in a stable order, so a CSV of any size
// streams (core/http/csv-response.ts) without holding the task's entities in memory.
import type { EntityManager } from '@mikro-orm/core';
import { snapshotSpans } from '../catalog/browse.ts';
import { type EntityStatus, type IBackupTask, type ITaskEntity, TaskEntity } from './entities.ts';
import { ENTITY_STATUS_LABELS } from './task-overview.ts';

const BATCH = 500;

export const USAGE_CSV_HEADER = [
  'Type',
  'Name',
  'Id at the service',
  'Status',
  'Items',
  'Size (bytes)',
  'Last snapshot (UTC)',
  'Snapshots',
  'Last backup (UTC)',
  'Added',
  'Updated',
  'Deleted',
  'Last error',
] as const;

/** "user-usage-2026-12-07.csv"-like names: the task's name made ASCII, then the day. */
export function usageFileName(task: Pick<IBackupTask, 'name'>, at: Date): string {
  const slug = task.name
    .normalize('NFKD')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '')
    .slice(0, 60);
  return `${slug || 'backup-task'}-usage-${at.toISOString().slice(0, 10)}.csv`;
}

/** Every entity of the task that is not deleted, by kind, name and id (`em` is cleared between batches: give it a fork). */
async function* taskEntities(em: EntityManager, task: IBackupTask): AsyncGenerator<ITaskEntity> {
  let after: { kind: string; name: string; id: string } | undefined;
  for (;;) {
    const where = after
      ? {
          task: task.id,
          deletedAt: null,
          $or: [
            { kind: { $gt: after.kind } },
            { kind: after.kind, name: { $gt: after.name } },
            { kind: after.kind, name: after.name, id: { $gt: after.id } },
          ],
        }
      : { task: task.id, deletedAt: null };
    const rows = await em.find(TaskEntity, where as never, {
      orderBy: { kind: 'asc', name: 'asc', id: 'asc' },
      limit: BATCH,
    });
    yield* rows;
    if (rows.length < BATCH) return;
    const last = rows[rows.length - 1] as ITaskEntity;
    after = { kind: last.kind, name: last.name, id: last.id };
    em.clear();
  }
}

export interface UsageEntry {
  entity: ITaskEntity;
  /** The entity's snapshots in the catalog: first and last taken, and how many; none yet: undefined. */
  span: { first: Date; last: Date; count: number } | undefined;
}

/**
 * Every entity of the task with its snapshot span: what a usage report row is built from (this
 * task's CSV, and the portal's report over many accounts, core/tenancy/account-usage.ts).
 * `em` should be the caller's own fork: it is cleared as the rows go.
 */
export async function* usageEntries(em: EntityManager, task: IBackupTask): AsyncGenerator<UsageEntry> {
  const spans = await snapshotSpans(em, task.id);
  for await (const entity of taskEntities(em, task)) yield { entity, span: spans.get(entity.externalId) };
}

/**
 * The report's rows as CSV cells; `kindLabel` names an entity kind as its service does ("Data").
 * `em` should be the caller's own fork: it is cleared as the rows go.
 */
export async function* usageRows(
  em: EntityManager,
  task: IBackupTask,
  kindLabel: (kind: string) => string,
): AsyncGenerator<string[]> {
  for await (const { entity: e, span } of usageEntries(em, task)) {
    yield [
      kindLabel(e.kind),
      e.name,
      e.externalId,
      ENTITY_STATUS_LABELS[e.status as EntityStatus] ?? e.status,
      String(e.lastItems),
      String(Number(e.lastBytes)),
      span?.last.toISOString() ?? '',
      String(span?.count ?? 0),
      e.lastRunAt?.toISOString() ?? '',
      String(e.lastAdded),
      String(e.lastUpdated),
      String(e.lastDeleted),
      e.lastError ?? '',
    ];
  }
}
