// What a live compare of all objects costs (seed 6.1 against "the production database"): it reads
// every object the account lists, in full, through the service's API. The estimate is, per object
// of the task, the most API calls one backup run of it reported (its first run read it whole, as a
// live read does), summed over the objects; none when the service does not count its calls.
import type { EntityManager } from '@mikro-orm/core';

export interface LiveCompareEstimate {
  /** Objects (entities) the task lists now, each read in full. */
  objects: number;
  /** About this many API calls for the `measured` objects; null when no backup run reported any. */
  apiCalls: number | null;
  /** Objects a backup run reported calls for: the others add calls not in the estimate. */
  measured: number;
}

export async function estimateLiveCompare(em: EntityManager, taskId: string): Promise<LiveCompareEstimate> {
  const conn = em.getConnection();
  const [counted] = (await conn.execute(
    'select count(*) as n from task_entities where task_id = ? and deleted_at is null',
    [taskId],
    'all',
  )) as { n: number | string }[];
  // One row per entity (grouped in SQL): the job history is never read into memory.
  const rows = (await conn.execute(
    `select max(cast(json_extract(j.result, '$.apiCalls') as integer)) as calls
       from jobs j join task_entities e on e.id = j.entity_id and e.deleted_at is null
      where j.task_id = ? and j.kind = 'backup' and j.state in ('succeeded', 'partially_succeeded')
        and json_extract(j.result, '$.apiCalls') is not null
      group by j.entity_id`,
    [taskId],
    'all',
  )) as { calls: number | string | null }[];
  const apiCalls = rows.reduce((sum, r) => sum + Number(r.calls ?? 0), 0);
  return { objects: Number(counted?.n ?? 0), apiCalls: rows.length ? apiCalls : null, measured: rows.length };
}
