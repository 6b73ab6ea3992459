// The time-based trigger: a small interval loop with an injectable clock. Each tick recovers
// lapsed jobs, queues purges of deleted tasks, enqueues due work, due restore drills
// (core/drills/) and due summary reports
// (core/notifications/summary-report.ts) and pokes the job runner; once
// an hour it also runs the appliance housekeeping (core/maintenance.ts; on PostgreSQL once an hour
// across the cluster, a named lease's turn: singleton.ts). Ticks never overlap in one process; on
// PostgreSQL one node ticks at a time (tick-lock.ts), and the queue's dedupe keys and conditional
// updates make overlapping ticks harmless anyway.
//
// Why not bree (the brief's first choice): bree starts each run as a worker thread from a file
// and keeps its own timers, so a test cannot move its clock across a DST change or a grace
// period, and every tick (a few indexed queries) would pay for a thread and a database
// connection. The heavy part — the jobs — does run in worker threads (core/jobs/executors.ts).

import { onPostgres } from '../db/run-sql.ts';
import { enqueueDueDrills } from '../drills/drill-schedule.ts';
import type { WorkContext } from '../jobs/context.ts';
import type { JobRunner } from '../jobs/runner.ts';
import { MAINTENANCE_INTERVAL_MS, runMaintenance } from '../maintenance.ts';
import { queueDueSummaryReports } from '../notifications/summary-report.ts';
import type { StorageRemovalHook } from './organization-purge.ts';
import { registerStoragePurge } from './organization-purge.ts';
import { enqueueDueWork, runJobMaintenance } from './scheduler.ts';
import { leaseOwner, takeTurn } from './singleton.ts';
import { withSchedulerLock } from './tick-lock.ts';

export class Scheduler {
  readonly #ctx: WorkContext;
  readonly #runner: JobRunner | undefined;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<'ran' | 'skipped' | 'failed'> | undefined;
  #unregister: StorageRemovalHook | undefined;
  #lastHousekeeping = Number.NEGATIVE_INFINITY;

  readonly #node: string;

  /** `node`: this node's name as the owner of the housekeeping's turn (singleton.ts). */
  constructor(ctx: WorkContext, runner?: JobRunner, node: string = leaseOwner()) {
    this.#ctx = ctx;
    this.#runner = runner;
    this.#node = node;
  }

  /** Ticks every `intervalMs`, and once now. */
  start(intervalMs: number): void {
    this.#unregister = registerStoragePurge(this.#ctx);
    this.#timer = setInterval(() => void this.tick(), intervalMs);
    this.#timer.unref();
    void this.tick();
  }

  /**
   * One pass (joined when the previous one is still running): 'skipped' when another node's tick
   * held the scheduler lock, 'failed' when it threw (logged).
   */
  tick(): Promise<'ran' | 'skipped' | 'failed'> {
    this.#tick ??= (async () => {
      const now = this.#ctx.now();
      let outcome: 'ran' | 'skipped' | 'failed';
      // First, as before (an ended trial holds its backups before due work is queued), but outside
      // the tick's lock: a long purge would hold every node's ticks up, and the hourly turn is guard
      // enough.
      try {
        // Sessions and removed accounts; it logs and audits what it does, and never throws.
        if (await this.#housekeepingDue(now))
          await runMaintenance(this.#ctx.orm, this.#ctx.log, now, this.#ctx.settings);
      } catch (err) {
        this.#ctx.log.warn({ err }, 'housekeeping turn could not be taken');
      }
      try {
        outcome = await withSchedulerLock(this.#ctx.orm.em, () => this.#work(now));
      } catch (err) {
        this.#ctx.log.warn({ err }, 'scheduler tick failed');
        outcome = 'failed';
      }
      await this.#runner?.poke();
      return outcome;
    })().finally(() => {
      this.#tick = undefined;
    });
    return this.#tick;
  }

  async #work(now: Date): Promise<void> {
    const recovered = await runJobMaintenance(this.#ctx, now);
    if (recovered.resumed || recovered.failed) {
      this.#ctx.log.warn(recovered, 'recovered jobs whose appliance stopped during the run');
    }
    const enqueued = await enqueueDueWork(this.#ctx, now);
    if (enqueued.jobs) this.#ctx.log.info(enqueued, 'scheduled jobs queued');
    const drills = await enqueueDueDrills(this.#ctx, now);
    if (drills) this.#ctx.log.info({ drills }, 'restore drills queued');
    const reports = await queueDueSummaryReports(this.#ctx.orm.em.fork(), now);
    if (reports) this.#ctx.log.info({ reports }, 'summary reports queued');
  }

  /**
   * Once an hour: on SQLite by this process's own count; on PostgreSQL once an hour across the
   * cluster, by the node whose tick first finds the housekeeping's hourly turn free.
   */
  async #housekeepingDue(now: Date): Promise<boolean> {
    const em = this.#ctx.orm.em.fork();
    if (onPostgres(em)) return takeTurn(em, 'housekeeping', this.#node, MAINTENANCE_INTERVAL_MS, now);
    if (now.getTime() - this.#lastHousekeeping < MAINTENANCE_INTERVAL_MS) return false;
    this.#lastHousekeeping = now.getTime();
    return true;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#tick;
    this.#unregister?.();
  }
}
