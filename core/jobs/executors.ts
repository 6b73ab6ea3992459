// Where a claimed job runs. The runner decides what to claim; an executor runs it:
// - InlineExecutor: in this thread (tests with a controlled clock, HOLDFAST_JOB_RUNNER=inline);
// - WorkerExecutor: each job in a worker thread (HOLDFAST_JOBS_PER_THREAD at a time per thread,
//   one by default; threads reused for later jobs) with its own database connection, so chunking, compression and encryption never
//   hold up the request thread. A worker that dies (out of memory, a crash in native code) fails
//   its job with that reason and is replaced.
import { Worker } from 'node:worker_threads';
import type { Config } from '../../config/schema.ts';
import type { Logger } from '../logging.ts';
import type { WorkContext } from './context.ts';
import { Job } from './entities.ts';
import { jobEnded } from './handler.ts';
import { finishJob } from './queue.ts';
import { runClaimedJob } from './run-job.ts';

export interface JobExecutor {
  /** Runs a job claimed by `owner`; resolves when it has ended (whatever the outcome). */
  run(jobId: string, owner: string, shutdown: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export class InlineExecutor implements JobExecutor {
  readonly #ctx: WorkContext;
  constructor(ctx: WorkContext) {
    this.#ctx = ctx;
  }
  run(jobId: string, owner: string, shutdown: AbortSignal): Promise<void> {
    return runClaimedJob(this.#ctx, jobId, { owner, shutdown });
  }
  async close(): Promise<void> {}
}

export interface WorkerData {
  config: Config;
  masterKey: Uint8Array;
}

/** Main thread → worker: run a claimed job, interrupt the running ones, or close and exit (when it has none). */
export type WorkerRequest = { type: 'run'; jobId: string; owner: string } | { type: 'shutdown' } | { type: 'exit' };
/** Worker → main thread: the job has ended (whatever the outcome), and the heap it left. */
export type WorkerReply = { type: 'done'; jobId: string; heapUsed: number };

export interface WorkerPoolOptions {
  /** An idle worker exits after this long without a job, so an idle appliance holds none. */
  idleMs?: number;
  /** A worker is retired after this many jobs (bounds what a slow leak can grow to). */
  maxJobsPerWorker?: number;
  /** A worker whose heap is still above this after a job is retired, not reused. */
  maxHeapBytes?: number;
  /** The worker's entry module (tests). */
  script?: URL;
}

interface PooledWorker {
  worker: Worker;
  /** Jobs it was given in all. */
  jobs: number;
  /** Jobs it runs now. */
  running: number;
  /** A job of it was interrupted for shutdown or left a large heap: retired once its jobs end. */
  retiring: boolean;
  idleTimer?: NodeJS.Timeout;
}

/**
 * Runs jobs in worker threads kept warm between jobs: a worker that ended its job normally goes
 * back to an idle list and takes the next one, so consecutive jobs (a Salesforce org's hundreds
 * of objects) do not each pay for a thread loading the kernel, plugins and a database connection.
 * At most `jobsPerThread` jobs per worker at once (config, 1 by default): a worker with room takes
 * the next job before an idle one or a new thread; the runner's concurrency bounds the jobs. A
 * worker that died, was interrupted for shutdown, served `maxJobsPerWorker` jobs or kept a large
 * heap is discarded once its jobs have ended.
 */
export class WorkerExecutor implements JobExecutor {
  readonly #ctx: WorkContext;
  readonly #config: Config;
  readonly #masterKey: Buffer;
  readonly #options: Required<WorkerPoolOptions>;
  readonly #workers = new Set<PooledWorker>();
  readonly #idle: PooledWorker[] = [];
  #started = 0;

  constructor(ctx: WorkContext, config: Config, masterKey: Buffer, options: WorkerPoolOptions = {}) {
    this.#ctx = ctx;
    this.#config = config;
    this.#masterKey = masterKey;
    this.#options = {
      idleMs: options.idleMs ?? 30_000,
      // Each replacement costs a thread loading the kernel again (~20 ms of CPU a job over 100
      // jobs); the heap check below is what bounds a leak between replacements.
      maxJobsPerWorker: options.maxJobsPerWorker ?? 1000,
      maxHeapBytes: options.maxHeapBytes ?? 192 * 1024 * 1024,
      script: options.script ?? new URL('../job-worker.ts', import.meta.url),
    };
  }

  /** Worker threads started so far, and those alive now (idle or running a job). */
  get stats(): { started: number; alive: number; idle: number } {
    return { started: this.#started, alive: this.#workers.size, idle: this.#idle.length };
  }

  #take(): PooledWorker {
    const perThread = this.#config.jobsPerThread ?? 1;
    // The busiest worker with room first, so few threads serve API-bound jobs.
    let roomy: PooledWorker | undefined;
    for (const w of this.#workers) {
      if (w.running > 0 && w.running < perThread && !w.retiring && w.jobs < this.#options.maxJobsPerWorker) {
        if (!roomy || w.running > roomy.running) roomy = w;
      }
    }
    if (roomy) return roomy;
    const idle = this.#idle.pop();
    if (idle) {
      clearTimeout(idle.idleTimer);
      return idle;
    }
    const data: WorkerData = { config: this.#config, masterKey: new Uint8Array(this.#masterKey) };
    const pooled: PooledWorker = {
      worker: new Worker(this.#options.script, { workerData: data }),
      jobs: 0,
      running: 0,
      retiring: false,
    };
    this.#started++;
    this.#workers.add(pooled);
    pooled.worker.once('exit', () => {
      this.#workers.delete(pooled);
      clearTimeout(pooled.idleTimer);
      const at = this.#idle.indexOf(pooled);
      if (at >= 0) this.#idle.splice(at, 1);
    });
    // An idle worker that fails (rare) just exits; a running job's failure is handled in run().
    pooled.worker.on('error', (err) => {
      if (this.#idle.includes(pooled)) this.#ctx.log.warn({ err }, 'idle job worker failed');
    });
    return pooled;
  }

  #release(pooled: PooledWorker, heapUsed: number, interrupted: boolean): void {
    pooled.running--;
    if (interrupted || heapUsed > this.#options.maxHeapBytes) pooled.retiring = true;
    if (pooled.running > 0) return;
    if (pooled.retiring || pooled.jobs >= this.#options.maxJobsPerWorker) {
      this.#retire(pooled);
      return;
    }
    pooled.idleTimer = setTimeout(() => {
      const at = this.#idle.indexOf(pooled);
      if (at >= 0) this.#idle.splice(at, 1);
      this.#retire(pooled);
    }, this.#options.idleMs);
    pooled.idleTimer.unref();
    this.#idle.push(pooled);
  }

  /** Asks the worker to close its connection and exit; one that lingers (a socket left open) is ended. */
  #retire(pooled: PooledWorker): void {
    pooled.worker.postMessage({ type: 'exit' } satisfies WorkerRequest);
    setTimeout(() => void pooled.worker.terminate(), 10_000).unref();
  }

  run(jobId: string, owner: string, shutdown: AbortSignal): Promise<void> {
    const pooled = this.#take();
    const { worker } = pooled;
    pooled.jobs++;
    pooled.running++;
    const onShutdown = () => worker.postMessage({ type: 'shutdown' } satisfies WorkerRequest);
    shutdown.addEventListener('abort', onShutdown, { once: true });
    if (shutdown.aborted) onShutdown();
    let failure: Error | undefined;
    const onError = (err: Error) => {
      failure = err;
    };
    worker.on('error', onError);
    return new Promise<void>((resolve) => {
      const settle = () => {
        shutdown.removeEventListener('abort', onShutdown);
        worker.off('error', onError);
        worker.off('message', onMessage);
        worker.off('exit', onExit);
      };
      const onMessage = (message: WorkerReply) => {
        if (message.type !== 'done' || message.jobId !== jobId) return;
        settle();
        // The main thread's share (debug): its V8 heap and external buffers, beside the worker's line.
        this.#ctx.log.debug({ job: jobId, memory: process.memoryUsage() }, 'main thread memory after a job');
        this.#release(pooled, message.heapUsed, shutdown.aborted);
        resolve();
      };
      // The worker stopped before the job ended: out of memory, a crash in native code, exit().
      const onExit = (code: number) => {
        settle();
        this.#recordCrash(jobId, owner, failure?.message ?? `exit code ${code}`, this.#ctx.log).finally(resolve);
      };
      worker.on('message', onMessage);
      worker.once('exit', onExit);
      worker.postMessage({ type: 'run', jobId, owner } satisfies WorkerRequest);
    });
  }
  async #recordCrash(jobId: string, owner: string, why: string, log: Logger): Promise<void> {
    log.error({ job: jobId, why }, 'job worker stopped unexpectedly');
    const em = this.#ctx.orm.em.fork();
    const job = await em.findOne(Job, { id: jobId });
    if (!job) return;
    const now = this.#ctx.now();
    const message = `The job's worker stopped unexpectedly (${why.slice(0, 300)}).`;
    if (await finishJob(em, job, owner, { state: 'failed', error: message, message }, now)) {
      await jobEnded(em, job, 'failed', message, now);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#workers].map((w) => w.worker.terminate()));
  }
}
