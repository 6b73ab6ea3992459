// Backup health per organization, kept by the database itself: SQLite triggers on task_entities
// and backup_tasks (migration ..._account_health) add and subtract each entity's contribution as
// it is inserted, changed or deleted and as its task is deleted or restored, so the portal reads
// one row per account instead of aggregating every entity (core/tenancy/account-health.ts).
// A row counts the organization's own tasks only; subtree_health (below) sums them per subtree.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';

/** The counters both tables keep (fresh property builders for each entity). */
function healthCounters() {
  return {
    /** Backup tasks not deleted. */
    tasks: p.integer().default(0),
    /** Entities (not deleted, of tasks not deleted) whose last run failed / partly failed / succeeded. */
    failed: p.integer().default(0),
    partial: p.integer().default(0),
    success: p.integer().default(0),
    /** Entities in an active status (scheduled, in process, success, partial, failed). */
    protected: p.integer().default(0),
    /** Sum of the entities' last snapshot bytes (logical size). */
    bytes: p.double().default(0),
    /** Sum of the bytes the entities' runs wrote to storage after dedup and compression. */
    storedBytes: p.double().default(0),
    /** The latest last run of any entity counted so far (kept when that entity goes). */
    lastRunAt: p.datetime().nullable(),
  };
}

export const AccountHealth = defineEntity({
  name: 'AccountHealth',
  tableName: 'account_health',
  properties: {
    organization: () => p.oneToOne(Organization).primary().owner().deleteRule('cascade'),
    ...healthCounters(),
  },
});
export type IAccountHealth = InferEntity<typeof AccountHealth>;

/**
 * Backup health per organization subtree (itself and every account below it), kept by the
 * database from account_health and organizations (triggers of migration ..._subtree_health;
 * core/db/migrations/subtree-health-sql.ts) and recounted at start (core/tenancy/
 * subtree-health.ts): the portal's tiles and each listed account's roll-up read its row instead
 * of summing the accounts below.
 */
export const SubtreeHealth = defineEntity({
  name: 'SubtreeHealth',
  tableName: 'subtree_health',
  properties: {
    organization: () => p.oneToOne(Organization).primary().owner().deleteRule('cascade'),
    /** account_health's counters summed over the subtree (latest run: the latest). */
    ...healthCounters(),
    /** Customer accounts strictly below, in all and by their own worst result (none = the rest). */
    customers: p.integer().default(0),
    customersSuccess: p.integer().default(0),
    customersPartial: p.integer().default(0),
    customersFailed: p.integer().default(0),
  },
});
export type ISubtreeHealth = InferEntity<typeof SubtreeHealth>;
