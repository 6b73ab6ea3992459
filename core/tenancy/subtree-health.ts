// The per-subtree health counters (`subtree_health`, core/tenancy/entities.ts): counted again
// from account_health and organizations at every start, so a row the triggers could not keep
// (a table rebuilt by a later migration without them, an edit by hand) is right again; and read
// for the dashboard tiles of a whole subtree.
import type { EntityManager } from '@mikro-orm/core';
import { ADD_MISSING_ROWS, recountRows } from '../db/migrations/subtree-health-sql.ts';
import { onPostgres, runSql } from '../db/run-sql.ts';
import type { BackupStatus } from './account-health.ts';

/**
 * Counts every row again from its range. On PostgreSQL the table is locked for the count: a
 * change another node makes meanwhile waits and then adds its difference to the new figures.
 */
export async function recountSubtreeHealth(em: EntityManager): Promise<void> {
  await em.fork().transactional(async (tx) => {
    if (onPostgres(tx)) await runSql(tx, 'lock table subtree_health in exclusive mode');
    await runSql(tx, ADD_MISSING_ROWS);
    await runSql(tx, recountRows(true));
  });
}

/** The customer accounts strictly below an organization, per backup status, from its row. */
export async function subtreeBackupStatusCounts(
  em: EntityManager,
  organizationId: string,
): Promise<Record<BackupStatus, number>> {
  const rows = (await em
    .getConnection()
    .execute(
      'select customers, customers_success, customers_partial, customers_failed from subtree_health where organization_id = ?',
      [organizationId],
      'all',
    )) as Record<string, number | string>[];
  const row = rows[0];
  if (!row) return { none: 0, success: 0, partial: 0, failed: 0 };
  const success = Number(row.customers_success);
  const partial = Number(row.customers_partial);
  const failed = Number(row.customers_failed);
  return { none: Number(row.customers) - success - partial - failed, success, partial, failed };
}
