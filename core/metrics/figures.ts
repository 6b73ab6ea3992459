// What /metrics reports from the database, read at scrape time in a few grouped queries (never
// one per task), so a scrape stays cheap at thousands of tasks.
import { stat } from 'node:fs/promises';
import type { EntityManager } from '@mikro-orm/core';
import { raw } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { onPostgres, runSql } from '../db/run-sql.ts';
import { Job } from '../jobs/entities.ts';
import { StorageLocation } from '../storage-locations/entities.ts';
import { BUILTIN_LOCATION_ID, BUILTIN_LOCATION_NAME } from '../storage-locations/locations.ts';
import { BackupTask, TaskEntity } from '../tasks/entities.ts';
import { DEFAULT_LOCATION } from '../tasks/storage.ts';

export interface TaskFigures {
  id: string;
  name: string;
  organizationId: string;
  organization: string;
  /** The newest snapshot of any of its entities (the task page's "Last backup"); null: none yet. */
  lastBackupAt: Date | null;
  /** Its entities (not deleted) per status, as the task page's tiles count them. */
  entities: Map<string, number>;
}

export interface ApplianceFigures {
  /** Jobs per kind and state, as kept in the queue (old ones leave with System Activity retention). */
  jobs: { kind: string; state: string; count: number }[];
  /** Pending jobs whose time has come: what waits for a free slot. */
  queueDepth: number;
  tasks: TaskFigures[];
  /** Bytes the tasks' runs wrote to each storage location (after dedup and compression). */
  storedBytes: { locationId: string; location: string; bytes: number }[];
  /** The database file with its write-ahead log. */
  databaseBytes: number;
}

/** A SQL aggregate's date: drivers give epoch milliseconds or text. */
function dateOf(value: unknown): Date | null {
  if (value === null || value === undefined) return null;
  const ms =
    typeof value === 'number' ? value : /^\d+$/.test(String(value)) ? Number(value) : Date.parse(String(value));
  return Number.isNaN(ms) ? null : new Date(ms);
}

export async function readApplianceFigures(
  em: EntityManager,
  databasePath: string,
  now: Date,
): Promise<ApplianceFigures> {
  const sql = em as SqlEntityManager;
  const jobRows = (await sql
    .createQueryBuilder(Job, 'j')
    .select(['j.kind', 'j.state', raw('count(*) as n')])
    .groupBy(['j.kind', 'j.state'])
    .execute('all', false)) as { kind: string; state: string; n: number | string }[];
  const queueDepth = await em.count(Job, { state: 'pending', runAfter: { $lte: now } });

  const tasks = await em.find(
    BackupTask,
    { deletedAt: null },
    { fields: ['id', 'name', 'storageLocation', 'organization.id', 'organization.name'], orderBy: { id: 'asc' } },
  );
  // Stored bytes count every entity (a deleted one's data stays until it is purged); the last
  // backup only the entities still listed, as the task page does.
  const perTask = (await sql
    .createQueryBuilder(TaskEntity, 'e')
    .select([
      'e.task',
      raw('sum(e.stored_bytes) as stored'),
      raw('max(case when e.deleted_at is null then e.last_run_at end) as last'),
    ])
    .groupBy(['e.task'])
    .execute('all', false)) as { task_id: string; stored: number | string | null; last: unknown }[];
  const statusRows = (await sql
    .createQueryBuilder(TaskEntity, 'e')
    .select(['e.task', 'e.status', raw('count(*) as n')])
    .where({ deletedAt: null })
    .groupBy(['e.task', 'e.status'])
    .execute('all', false)) as { task_id: string; status: string; n: number | string }[];

  const byTask = new Map(perTask.map((r) => [r.task_id, r]));
  const statuses = new Map<string, Map<string, number>>();
  for (const r of statusRows) {
    const counts = statuses.get(r.task_id) ?? new Map<string, number>();
    counts.set(r.status, Number(r.n));
    statuses.set(r.task_id, counts);
  }
  const storedBytes = new Map<string, number>();
  const out: TaskFigures[] = [];
  for (const task of tasks) {
    const row = byTask.get(task.id);
    if (task.storageLocation) {
      storedBytes.set(task.storageLocation, (storedBytes.get(task.storageLocation) ?? 0) + Number(row?.stored ?? 0));
    }
    out.push({
      id: task.id,
      name: task.name,
      organizationId: task.organization.id,
      organization: task.organization.name,
      lastBackupAt: dateOf(row?.last),
      entities: statuses.get(task.id) ?? new Map(),
    });
  }

  // Tasks record the location's id ('default': the built-in one, as the first backups recorded it).
  const ids = [...storedBytes.keys()];
  const named = new Map(
    (await em.find(StorageLocation, { id: { $in: ids } }, { fields: ['id', 'name'] })).map((l) => [l.id, l.name]),
  );
  const locations = ids.map((id) => {
    const builtin = id === DEFAULT_LOCATION || id === BUILTIN_LOCATION_ID;
    return {
      locationId: builtin ? BUILTIN_LOCATION_ID : id,
      location: builtin ? BUILTIN_LOCATION_NAME : (named.get(id) ?? id),
      bytes: storedBytes.get(id) ?? 0,
    };
  });

  let databaseBytes = 0;
  if (onPostgres(em)) {
    const [size] = await runSql<{ bytes: number | string }[]>(
      em,
      'select pg_database_size(current_database()) as bytes',
    );
    databaseBytes = Number(size?.bytes ?? 0);
  } else {
    for (const file of [databasePath, `${databasePath}-wal`]) {
      databaseBytes += await stat(file).then(
        (s) => s.size,
        () => 0,
      );
    }
  }
  return {
    jobs: jobRows.map((r) => ({ kind: r.kind, state: r.state, count: Number(r.n) })),
    queueDepth,
    tasks: out,
    storedBytes: locations,
    databaseBytes,
  };
}
