// Claims due jobs up to the concurrency limits and hands them to an executor. One claim pass at a
// time per runner; a pass runs on a timer, when a job ends, and when poked (e.g. after Backup
// Now). Stopping: no new claims, running jobs get part of the shutdown timeout to finish, then
// are interrupted (they go back to the queue and resume at the next start).
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { WorkContext } from './context.ts';
import { heartbeatMs } from './context.ts';
import { Job } from './entities.ts';
import type { JobExecutor } from './executors.ts';
import { claimJobs, extendLeases } from './queue.ts';

/** Told of each job this runner ran, as it ends (metrics). */
export interface JobObserver {
  jobEnded(kind: string, state: string, seconds: number): void;
}

export class JobRunner {
  readonly owner: string;
  readonly #ctx: WorkContext;
  readonly #executor: JobExecutor;
  readonly #observer: JobObserver | undefined;
  readonly #running = new Map<string, Promise<void>>();
  readonly #shutdown = new AbortController();
  /** This runner's round over the organizations (claimJobs: fair claiming across passes). */
  readonly #served = new Set<string>();
  #pass: Promise<void> | undefined;
  #again = false;
  #stopping = false;
  #timer: NodeJS.Timeout | undefined;
  #leaseTimer: NodeJS.Timeout | undefined;
  #extending: Promise<void> | undefined;

  constructor(ctx: WorkContext, executor: JobExecutor, observer?: JobObserver) {
    this.#ctx = ctx;
    this.#executor = executor;
    this.#observer = observer;
    this.owner = `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`.slice(0, 100);
  }

  get running(): number {
    return this.#running.size;
  }

  start(pollMs: number): void {
    this.#timer = setInterval(() => void this.poke(), pollMs);
    this.#timer.unref();
    this.#leaseTimer = setInterval(() => void this.extendLeases(), heartbeatMs(this.#ctx.settings));
    this.#leaseTimer.unref();
    void this.poke();
  }

  /**
   * Extends the leases of the jobs this runner holds, from their claim until their executor
   * returns: a job's own heartbeat starts only once its worker thread is up, which on a busy
   * machine can take longer than a lease, and another node would take the job meanwhile.
   */
  extendLeases(): Promise<void> {
    this.#extending ??= extendLeases(
      this.#ctx.orm.em.fork(),
      [...this.#running.keys()],
      this.owner,
      this.#ctx.settings.jobLeaseSeconds * 1000,
      this.#ctx.now(),
    )
      .then(
        () => undefined,
        (err: unknown) => this.#ctx.log.warn({ err }, 'extending job leases failed'),
      )
      .finally(() => {
        this.#extending = undefined;
      });
    return this.#extending;
  }

  /** Claims what can run now. Concurrent calls coalesce into one more pass. */
  poke(): Promise<void> {
    if (this.#stopping) return Promise.resolve();
    if (this.#pass) {
      this.#again = true;
      return this.#pass;
    }
    this.#pass = (async () => {
      do {
        this.#again = false;
        await this.#claim().catch((err) => this.#ctx.log.warn({ err }, 'claiming jobs failed'));
      } while (this.#again && !this.#stopping);
    })().finally(() => {
      this.#pass = undefined;
    });
    return this.#pass;
  }

  async #claim(): Promise<void> {
    const { settings } = this.#ctx;
    const slots = settings.jobConcurrency - this.#running.size;
    if (slots <= 0) return;
    const jobs = await claimJobs(
      this.#ctx.orm.em.fork(),
      this.owner,
      {
        slots,
        perOrganization: settings.jobsPerOrganization,
        perTask: settings.jobsPerTask,
        held: [...this.#running.keys()],
        served: this.#served,
      },
      settings.jobLeaseSeconds * 1000,
      this.#ctx.now(),
    );
    for (const job of jobs) {
      const done = this.#executor
        .run(job.id, this.owner, this.#shutdown.signal)
        .catch((err) => this.#ctx.log.error({ err, job: job.id }, 'job executor failed'))
        .then(() => this.#observe(job.id))
        .finally(() => {
          this.#running.delete(job.id);
          void this.poke();
        });
      this.#running.set(job.id, done);
    }
  }

  /** Reports how the job ended and how long it ran (a job sent back to the queue: until now). */
  async #observe(id: string): Promise<void> {
    if (!this.#observer) return;
    const job = await this.#ctx.orm.em
      .fork()
      .findOne(Job, { id }, { fields: ['kind', 'state', 'startedAt', 'finishedAt'] })
      .catch(() => null);
    if (!job?.startedAt) return;
    const end = job.finishedAt ?? this.#ctx.now();
    this.#observer.jobEnded(job.kind, job.state, Math.max(0, (end.getTime() - job.startedAt.getTime()) / 1000));
  }

  /** Runs jobs until none is running and none can be claimed now (tests). */
  async runUntilIdle(): Promise<void> {
    for (;;) {
      await this.poke();
      if (this.#running.size === 0) return;
      await Promise.race(this.#running.values());
    }
  }

  /** Stops claiming; gives running jobs `graceMs` to finish, then interrupts them and waits. */
  async stop(graceMs: number): Promise<void> {
    this.#stopping = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#pass;
    const all = () => Promise.all(this.#running.values());
    const finished = await Promise.race([all().then(() => true), sleep(graceMs).then(() => false)]);
    if (!finished) {
      this.#ctx.log.info({ jobs: this.#running.size }, 'interrupting running jobs for shutdown');
      this.#shutdown.abort();
      // A job that ignores the interruption is left to lease recovery at the next start.
      await Promise.race([all(), sleep(Math.max(1000, graceMs))]);
    }
    if (this.#leaseTimer) clearInterval(this.#leaseTimer);
    await this.#extending;
    await this.#executor.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
