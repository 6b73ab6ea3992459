// Where a claimed job runs. The runner decides what to claim; an executor runs it:
// - InlineExecutor: in this thread (tests with a controlled clock, HOLDFAST_JOB_RUNNER=inline);
// - WorkerExecutor: each job in its own worker thread with its own database connection, so
//   chunking, compression and encryption never hold up the request thread. A worker that dies
//   (out of memory, a crash in native code) fails its job with that reason.
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
  jobId: string;
  owner: string;
}

export class WorkerExecutor implements JobExecutor {
  readonly #ctx: WorkContext;
  readonly #config: Config;
  readonly #masterKey: Buffer;
  readonly #workers = new Set<Worker>();

  constructor(ctx: WorkContext, config: Config, masterKey: Buffer) {
    this.#ctx = ctx;
    this.#config = config;
    this.#masterKey = masterKey;
  }

  run(jobId: string, owner: string, shutdown: AbortSignal): Promise<void> {
    const data: WorkerData = { config: this.#config, masterKey: new Uint8Array(this.#masterKey), jobId, owner };
    const worker = new Worker(new URL('../job-worker.ts', import.meta.url), { workerData: data });
    this.#workers.add(worker);
    const onShutdown = () => worker.postMessage({ type: 'shutdown' });
    shutdown.addEventListener('abort', onShutdown, { once: true });
    if (shutdown.aborted) onShutdown();
    let failure: Error | undefined;
    worker.on('error', (err) => {
      failure = err;
    });
    return new Promise<void>((resolve) => {
      worker.once('exit', (code) => {
        this.#workers.delete(worker);
        shutdown.removeEventListener('abort', onShutdown);
        if (code === 0 && !failure) return resolve();
        this.#recordCrash(jobId, owner, failure?.message ?? `exit code ${code}`, this.#ctx.log).finally(resolve);
      });
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
    await Promise.all([...this.#workers].map((w) => w.terminate()));
  }
}
