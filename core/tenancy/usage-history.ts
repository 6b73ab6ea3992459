// The monthly usage history billing prices (issue 20): a daily sample per organization of what
// `account_health` holds for its own tasks (protected entities, logical and stored bytes), written
// by the hourly maintenance (the day's last pass wins), every sample kept, with the protected
// entities per entity kind beside it (usage_kind_samples); and per month, for an
// account and everything under it, the maximum and the average over the days sampled.
import type { EntityManager } from '@mikro-orm/core';
import type { IOrganization } from '../identity/entities.ts';
import { likeSafePath } from './organizations.ts';

/** Today's sample (UTC day) of every organization with backup health, replacing an earlier one of the day. */
export async function sampleUsage(em: EntityManager, now: Date): Promise<number> {
  const day = now.toISOString().slice(0, 10);
  const result = await em.getConnection().execute(
    `insert into usage_samples (organization_id, day, protected, logical_bytes, stored_bytes)
     select h.organization_id, ?, h.protected, h.bytes, h.stored_bytes from account_health h where true
     on conflict (organization_id, day) do update set protected = excluded.protected,
       logical_bytes = excluded.logical_bytes, stored_bytes = excluded.stored_bytes`,
    [day],
    'run',
  );
  // Per entity kind too (plans may price one kind, core/billing/meters.ts): the day's counts replace earlier ones.
  await em.getConnection().execute('delete from usage_kind_samples where day = ?', [day], 'run');
  await em.getConnection().execute(
    `insert into usage_kind_samples (organization_id, day, kind, protected)
     select t.organization_id, ?, e.kind, count(*) from task_entities e join backup_tasks t on t.id = e.task_id
     where t.deleted_at is null and e.deleted_at is null
       and e.status in ('scheduled', 'in_process', 'success', 'partial', 'failed')
     group by t.organization_id, e.kind`,
    [day],
    'run',
  );
  return Number((result as { affectedRows?: number }).affectedRows ?? 0);
}

export interface UsageMonth {
  /** YYYY-MM. */
  month: string;
  /** Days with a sample. */
  days: number;
  maxProtected: number;
  averageProtected: number;
  maxStoredBytes: number;
  averageStoredBytes: number;
  maxLogicalBytes: number;
  averageLogicalBytes: number;
}

/** Month summaries of the account and every organization under it, newest month first. */
export async function usageHistory(em: EntityManager, org: IOrganization, months = 24): Promise<UsageMonth[]> {
  const rows = (await em.getConnection().execute(
    `with daily as (
       select s.day as day, sum(s.protected) as protected, sum(s.stored_bytes) as stored, sum(s.logical_bytes) as logical
       from usage_samples s join organizations o on o.id = s.organization_id
       where o.path like ?
       group by s.day
     )
     select substr(day, 1, 7) as month, count(*) as days,
       max(protected) as max_protected, avg(protected) as avg_protected,
       max(stored) as max_stored, avg(stored) as avg_stored,
       max(logical) as max_logical, avg(logical) as avg_logical
     from daily group by substr(day, 1, 7) order by month desc limit ?`,
    [`${likeSafePath(org.path)}%`, months],
    'all',
  )) as Record<string, unknown>[];
  return rows.map((r) => ({
    month: r.month as string,
    days: Number(r.days),
    maxProtected: Number(r.max_protected),
    averageProtected: Math.round(Number(r.avg_protected) * 10) / 10,
    maxStoredBytes: Number(r.max_stored),
    averageStoredBytes: Math.round(Number(r.avg_stored)),
    maxLogicalBytes: Number(r.max_logical),
    averageLogicalBytes: Math.round(Number(r.avg_logical)),
  }));
}
