// One creation at a time of an account's repository at a location, across nodes. Two nodes (or
// job threads) that start an account's first backups together both find no repository and both
// create one. A store that honours If-None-Match (S3, MinIO, Azure, GCS) lets one config write
// win; on one that ignores it (s3rver, some S3-compatible stores: the S3 sink emulates if-absent
// writes with HEAD then PUT, which is atomic only within one sink) both writes succeed, the second
// config replaces the first while the first's marker stays, and the repository no longer opens
// ("config belongs to …"). On PostgreSQL the creation runs under a transaction-scoped advisory
// lock of the location and account: the second waits, then opens what the first created. A node
// that dies holding it loses its connection and the lock with it. SQLite is one appliance, whose
// job threads race only on such stores; its write lock is not held across storage I/O.
import type { EntityManager } from '@mikro-orm/core';
import { onPostgres, runSql } from '../db/run-sql.ts';
import type { InitSerializer } from '../tasks/storage.ts';

export function repositoryInitLock(em: EntityManager, locationId: string, organizationId: string): InitSerializer {
  return (create) => {
    if (!onPostgres(em)) return create();
    return em.fork().transactional(async (tx) => {
      await runSql(tx, 'select pg_advisory_xact_lock(hashtextextended(?, 0))', [
        `holdfast repository init ${locationId} ${organizationId}`,
      ]);
      return create();
    });
  };
}
