// One scheduler tick at a time across nodes. On PostgreSQL a tick runs while this node holds a
// transaction-scoped advisory lock, taken with pg_try_advisory_xact_lock: a node that finds it
// taken skips its tick instead of waiting (the holder is doing the same work), and a node that
// dies mid-tick loses its connection and with it the lock. On SQLite the appliance is one
// process, whose ticks never overlap already. Ticks stay idempotent either way (dedupe keys,
// conditional updates): the lock saves the database from N nodes doing the same scan.
import type { EntityManager } from '@mikro-orm/core';
import { onPostgres, runSql } from '../db/run-sql.ts';

/** The advisory lock key of the scheduler tick ("HFsc" as a 32-bit number): any fixed bigint. */
export const SCHEDULER_LOCK_KEY = 0x48_46_73_63;

/**
 * Runs `tick` unless another node's tick holds the lock: 'ran' or 'skipped'. The lock lives in
 * a transaction of its own connection, which writes nothing; the tick uses other connections.
 */
export async function withSchedulerLock(em: EntityManager, tick: () => Promise<void>): Promise<'ran' | 'skipped'> {
  if (!onPostgres(em)) {
    await tick();
    return 'ran';
  }
  return em.fork().transactional(async (tx) => {
    const [row] = await runSql<{ locked: boolean }[]>(tx, 'select pg_try_advisory_xact_lock(?) as locked', [
      SCHEDULER_LOCK_KEY,
    ]);
    if (!row?.locked) return 'skipped';
    await tick();
    return 'ran';
  });
}
