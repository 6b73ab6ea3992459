// Background work that one node of a cluster does at a time (the integration sender, scheduled
// verification, the configuration backup, the hourly housekeeping). On PostgreSQL each such loop
// holds a named lease, a row of `cluster_leases` (owner, expiry) taken with a conditional UPDATE:
// a node that finds it held by another skips its round, the holder renews it while the work runs
// and frees it after, and a node that dies lets it lapse. The scheduler's tick has its advisory
// lock (tick-lock.ts) instead: it is short and runs inside one transaction. On SQLite the
// appliance is one process, which does the work as before, unguarded.
import { hostname } from 'node:os';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { onPostgres } from '../db/run-sql.ts';
import { ClusterLease } from '../system/entities.ts';

/** A node's name as a lease owner: host, process and a random part (two kernels of one process differ). */
export function leaseOwner(): string {
  return `${hostname()}/${process.pid}/${crypto.randomUUID().slice(0, 8)}`.slice(0, 100);
}

const NEVER = new Date(0);

async function ensureLeaseRow(em: EntityManager, name: string): Promise<void> {
  await (em as SqlEntityManager)
    .createQueryBuilder(ClusterLease)
    .insert({ name, owner: null, expiresAt: NEVER, mark: null } as never)
    .onConflict('name')
    .ignore()
    .execute('run');
}

/**
 * Takes the lease `name` for `owner` until `now + ttlMs` when it has lapsed or is `owner`'s
 * already. True when this call holds it.
 */
export async function takeLease(
  em: EntityManager,
  name: string,
  owner: string,
  ttlMs: number,
  now: Date,
): Promise<boolean> {
  await ensureLeaseRow(em, name);
  const taken = await em.nativeUpdate(
    ClusterLease,
    { name, $or: [{ expiresAt: { $lt: now } }, { owner }] },
    { owner, expiresAt: new Date(now.getTime() + ttlMs) },
  );
  return taken === 1;
}

/**
 * Takes the lease `name` when it has lapsed, for `periodMs`, and keeps it: work guarded this way
 * runs at most once per period across the cluster, whichever node gets there first.
 */
export async function takeTurn(em: EntityManager, name: string, owner: string, periodMs: number, now: Date) {
  await ensureLeaseRow(em, name);
  const taken = await em.nativeUpdate(
    ClusterLease,
    { name, expiresAt: { $lte: now } },
    { owner, expiresAt: new Date(now.getTime() + periodMs) },
  );
  return taken === 1;
}

async function releaseLease(em: EntityManager, name: string, owner: string, mark: string | undefined) {
  await em.nativeUpdate(
    ClusterLease,
    { name, owner },
    { owner: null, expiresAt: NEVER, ...(mark === undefined ? {} : { mark: mark.slice(0, 200) }) },
  );
}

export interface AloneOptions {
  em: () => EntityManager;
  name: string;
  owner: string;
  /** The lease's length; it is renewed every third of it while the work runs. */
  ttlMs: number;
  now: () => Date;
}

/**
 * Runs `work` on this node unless another holds the lease: 'ran' or 'skipped'. `work` gets the
 * mark the last holder left (undefined on SQLite, which keeps none) and may leave a new one.
 */
export async function runAlone(
  options: AloneOptions,
  work: (mark: string | undefined) => Promise<{ mark?: string } | undefined>,
): Promise<'ran' | 'skipped'> {
  const em = options.em();
  if (!onPostgres(em)) {
    await work(undefined);
    return 'ran';
  }
  if (!(await takeLease(em, options.name, options.owner, options.ttlMs, options.now()))) return 'skipped';
  const row = await em.fork().findOne(ClusterLease, { name: options.name }, { fields: ['mark'] });
  let renewing = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = renewing.then(() =>
        takeLease(options.em(), options.name, options.owner, options.ttlMs, options.now()).then(
          () => undefined,
          // A busy database: the next renewal, well within the lease, tries again.
          () => undefined,
        ),
      );
    },
    Math.max(100, options.ttlMs / 3),
  );
  timer.unref();
  let mark: string | undefined;
  try {
    mark = (await work(row?.mark ?? undefined))?.mark;
    return 'ran';
  } finally {
    clearInterval(timer);
    await renewing;
    await releaseLease(options.em(), options.name, options.owner, mark);
  }
}
