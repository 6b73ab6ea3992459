// The usage report's drill-down (seed 3.4, 5.2), read from finished backup runs' results: one
// entity's records added / updated / deleted per UTC day, and a task's service API calls per day
// (the `apiCalls` a plugin reports for a run; runs of plugins that do not count them add none).
import type { EntityManager } from '@mikro-orm/core';
import { Job, type JobState } from '../jobs/entities.ts';
import type { IBackupTask, ITaskEntity } from './entities.ts';

/** The longest drill-down, in days. */
export const DRILLDOWN_DAYS = [7, 14, 30] as const;
const DAY_MS = 86_400_000;
const COUNTED: JobState[] = ['succeeded', 'partially_succeeded'];

export interface DrilldownDay {
  /** YYYY-MM-DD, UTC. */
  day: string;
  added: number;
  updated: number;
  deleted: number;
  apiCalls: number;
  runs: number;
}

/** Parses ?days=: one of 7, 14, 30 (30 by default). */
export function drilldownDays(value: string | undefined): number {
  const n = Number(value);
  return (DRILLDOWN_DAYS as readonly number[]).includes(n) ? n : 30;
}

async function perDay(
  em: EntityManager,
  where: { task: IBackupTask; entity?: ITaskEntity },
  days: number,
  now: Date,
): Promise<DrilldownDay[]> {
  const start = new Date((Math.floor(now.getTime() / DAY_MS) - (days - 1)) * DAY_MS);
  const out: DrilldownDay[] = [];
  const byDay = new Map<string, DrilldownDay>();
  for (let i = 0; i < days; i++) {
    const d = {
      day: new Date(start.getTime() + i * DAY_MS).toISOString().slice(0, 10),
      added: 0,
      updated: 0,
      deleted: 0,
      apiCalls: 0,
      runs: 0,
    };
    out.push(d);
    byDay.set(d.day, d);
  }
  const jobs = await em.find(
    Job,
    {
      task: where.task,
      ...(where.entity ? { entity: where.entity } : {}),
      kind: 'backup',
      state: { $in: COUNTED },
      finishedAt: { $gte: start },
    },
    { fields: ['finishedAt', 'result'], orderBy: { finishedAt: 'asc' } },
  );
  for (const job of jobs) {
    const d = job.finishedAt ? byDay.get(job.finishedAt.toISOString().slice(0, 10)) : undefined;
    if (!d) continue;
    const r = (job.result ?? {}) as Record<string, unknown>;
    const n = (key: string) => (typeof r[key] === 'number' ? (r[key] as number) : 0);
    d.runs++;
    d.added += n('added');
    d.updated += n('updated');
    d.deleted += n('deleted');
    d.apiCalls += n('apiCalls');
  }
  return out;
}

/** One entity's changes (and API calls) per day over the last `days` days, today included. */
export function entityChangesPerDay(
  em: EntityManager,
  task: IBackupTask,
  entity: ITaskEntity,
  days: number,
  now: Date,
): Promise<DrilldownDay[]> {
  return perDay(em, { task, entity }, days, now);
}

/** A task's changes and API calls per day over the last `days` days, today included. */
export function taskUsagePerDay(
  em: EntityManager,
  task: IBackupTask,
  days: number,
  now: Date,
): Promise<DrilldownDay[]> {
  return perDay(em, { task }, days, now);
}
