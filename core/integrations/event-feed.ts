// The events an event-feed integration sends: System Activity and Security audit rows after the
// integration's cursor, in the organizations its streams cover, as the JSON documented in
// docs/INTEGRATIONS.md. Both logs are read by id from the cursor on (their primary keys), so a
// batch costs the same however long the logs are.
import type { EntityManager } from '@mikro-orm/core';
import { ActivityEvent, type IActivityEvent } from '../activity/entities.ts';
import { AuditEvent, type IAuditEvent } from '../audit/entities.ts';
import { onPostgres, runSql } from '../db/run-sql.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import type { IntegrationCursor, IntegrationStream } from './entities.ts';

export interface IntegrationEvent {
  /** `activity-<row id>` or `audit-<row id>`: the same on every resend; deduplicate on it. */
  id: string;
  time: string;
  log: 'activity' | 'audit' | 'test';
  organization: { id: string; name: string; kind: string; path: string[] };
  actor: string | null;
  action: string;
  status: string;
  details: Record<string, unknown>;
}

/** The organizations a stream covers, as a filter on a log row's organization. */
function scopeOf(owner: IOrganization, streams: readonly IntegrationStream[], log: 'activity' | 'audit') {
  // A customer account's integration sends that account's own logs; a portal's, its accounts'.
  if (owner.kind === 'customer') return streams.includes(log) ? [{ organization: owner.id }] : [];
  const parts: Record<string, unknown>[] = [];
  if (streams.includes(log)) parts.push({ organization: { path: { $like: `${owner.path}%` }, id: { $ne: owner.id } } });
  if (streams.includes('own')) parts.push({ organization: owner.id });
  return parts;
}

async function rowsAfter<T extends IActivityEvent | IAuditEvent>(
  em: EntityManager,
  entity: typeof ActivityEvent | typeof AuditEvent,
  after: number,
  upTo: number | undefined,
  scope: Record<string, unknown>[],
  limit: number,
): Promise<T[]> {
  if (scope.length === 0) return [];
  const where = { id: upTo === undefined ? { $gt: after } : { $gt: after, $lte: upTo }, $or: scope };
  return (await em.find(entity as never, where as never, {
    orderBy: { id: 'asc' } as never,
    limit,
    populate: ['organization'] as never,
  })) as T[];
}

/** Names from the top of the tree down to the organization (the appliance's root left out). */
async function pathNames(em: EntityManager, org: IOrganization, cache: Map<string, IOrganization>) {
  const ids = org.path.split('/').filter(Boolean);
  const missing = ids.filter((id) => !cache.has(id));
  if (missing.length > 0) {
    for (const o of await em.find(Organization, { id: { $in: missing } })) cache.set(o.id, o);
  }
  return ids
    .map((id) => cache.get(id))
    .filter((o): o is IOrganization => !!o && o.kind !== 'root')
    .map((o) => o.name);
}

function activityEvent(row: IActivityEvent, path: string[]): IntegrationEvent {
  return {
    id: `activity-${row.id}`,
    time: row.at.toISOString(),
    log: 'activity',
    organization: { id: row.organization.id, name: row.organization.name, kind: row.organization.kind, path },
    actor: null,
    action: row.activity,
    status: row.status,
    details: {
      summary: row.summary,
      service: row.serviceLabel ?? row.service,
      itemKind: row.subService,
      taskId: row.taskId,
      taskName: row.taskName,
      item: row.item,
      jobId: row.jobId,
      startedAt: row.startedAt?.toISOString() ?? null,
      durationMs: row.durationMs,
      bytes: row.bytes,
      items: row.items,
    },
  };
}

function auditEvent(row: IAuditEvent, path: string[]): IntegrationEvent {
  const org = row.organization;
  return {
    id: `audit-${row.id}`,
    time: row.at.toISOString(),
    log: 'audit',
    organization: org
      ? { id: org.id, name: org.name, kind: org.kind, path }
      : { id: '', name: '', kind: 'appliance', path: [] },
    actor: row.performedBy ?? null,
    action: row.activity,
    status: row.status,
    details: {
      description: row.description,
      account: row.account,
      service: row.service,
      ip: row.ip,
      userAgent: row.userAgent,
    },
  };
}

export interface FeedBatch {
  events: IntegrationEvent[];
  /** The cursor once these events are delivered. */
  through: IntegrationCursor;
}

/** The next events after `cursor` (at most `limit` of each log), oldest first. */
export async function nextEvents(
  em: EntityManager,
  owner: IOrganization,
  streams: readonly IntegrationStream[],
  cursor: IntegrationCursor,
  limit: number,
  /** The newest ids that may be read (eventLogHorizon); none on SQLite. */
  upTo?: IntegrationCursor,
): Promise<FeedBatch> {
  const activity = await rowsAfter<IActivityEvent>(
    em,
    ActivityEvent,
    cursor.activity,
    upTo?.activity,
    scopeOf(owner, streams, 'activity'),
    limit,
  );
  const audit = await rowsAfter<IAuditEvent>(
    em,
    AuditEvent,
    cursor.audit,
    upTo?.audit,
    scopeOf(owner, streams, 'audit'),
    limit,
  );
  const cache = new Map<string, IOrganization>();
  const events: IntegrationEvent[] = [];
  for (const row of activity) events.push(activityEvent(row, await pathNames(em, row.organization, cache)));
  for (const row of audit) {
    events.push(auditEvent(row, row.organization ? await pathNames(em, row.organization, cache) : []));
  }
  events.sort((a, b) => a.time.localeCompare(b.time));
  return {
    events,
    through: {
      activity: activity.at(-1)?.id ?? cursor.activity,
      audit: audit.at(-1)?.id ?? cursor.audit,
    },
  };
}

/** Where a new integration starts: after the newest rows of both logs (it sends what happens from now on). */
export async function currentCursor(em: EntityManager): Promise<IntegrationCursor> {
  const [a] = await em.find(ActivityEvent, {}, { orderBy: { id: 'desc' }, limit: 1, fields: ['id'] });
  const [b] = await em.find(AuditEvent, {}, { orderBy: { id: 'desc' }, limit: 1, fields: ['id'] });
  return { activity: a?.id ?? 0, audit: b?.id ?? 0 };
}

/** The advisory lock every insert into either log takes shared (migration 20261207215001): "HFev". */
export const EVENT_LOG_LOCK_KEY = 0x48_46_65_76;
const HORIZON_TRIES = 5;

/**
 * The newest ids a sender may read so that none it moves its cursor past can still appear.
 * SQLite: undefined (one writer at a time, ids grow in commit order). PostgreSQL: ids are drawn
 * when a row is inserted, not when it commits, so a row with a lower id can become visible after
 * one with a higher id. Every insert into the logs holds the shared lock until it commits; taken
 * exclusively here (tried, never waited for, so no writer queues behind the sender), it proves that
 * no insert is under way, and the newest ids then bound the read. Null when inserts kept it taken
 * (the pass sends nothing; the next one tries again).
 */
export async function eventLogHorizon(em: EntityManager): Promise<IntegrationCursor | null | undefined> {
  if (!onPostgres(em)) return undefined;
  for (let attempt = 0; attempt < HORIZON_TRIES; attempt++) {
    const horizon = await em.fork().transactional(async (tx) => {
      const [row] = await runSql<{ locked: boolean }[]>(tx, 'select pg_try_advisory_xact_lock(?) as locked', [
        EVENT_LOG_LOCK_KEY,
      ]);
      if (!row?.locked) return null;
      const [ids] = await runSql<{ activity: number | string | null; audit: number | string | null }[]>(
        tx,
        'select (select max(id) from activity_events) as activity, (select max(id) from audit_events) as audit',
      );
      return { activity: Number(ids?.activity ?? 0), audit: Number(ids?.audit ?? 0) };
    });
    if (horizon) return horizon;
    await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
  }
  return null;
}
