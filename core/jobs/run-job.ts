// Runs one claimed job to its end: a heartbeat renews the lease (and notices a cancel request or
// a lost lease) while the job's handler works; the end is recorded with conditional UPDATEs so a
// worker that lost its lease cannot overwrite what another did. The same function runs in the
// main thread (inline runner, tests) and in a worker thread.
import type { EntityManager } from '@mikro-orm/core';
import { RepositoryLockedError } from '../../storage/locks.ts';
import { TransientServiceError } from '../plugins/service.ts';
import { SinkError } from '../plugins/sink.ts';
import { heartbeatMs, type WorkContext } from './context.ts';
import { type IJob, Job, type JobLogEntry } from './entities.ts';
import { JobInterruption, JobNotApplicableError, jobEnded, jobHandler, type ProgressTracker } from './handler.ts';
import { appendJobLog, confirmJobHeld, fenceOf, finishJob, releaseJob, renewLease, retryDelayMs } from './queue.ts';

/** Errors worth another attempt later. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TransientServiceError || err instanceof RepositoryLockedError) return true;
  if (err instanceof SinkError) return err.kind === 'transient';
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ETIMEDOUT' || code === 'ECONNREFUSED' || code === 'EAI_AGAIN';
}

function sentence(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const trimmed = text.replace(/\s+/g, ' ').trim().slice(0, 1000);
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
}

export interface RunOptions {
  owner: string;
  /** Aborted when the appliance stops: the job is put back in the queue, not failed. */
  shutdown?: AbortSignal;
}

/** Runs a job already claimed by `owner`. Never throws: every end is recorded on the job. */
export async function runClaimedJob(ctx: WorkContext, jobId: string, options: RunOptions): Promise<void> {
  const em = ctx.orm.em.fork();
  const job = await em.findOne(Job, { id: jobId });
  if (job?.state !== 'in_progress' || job.leaseOwner !== options.owner) return;
  const log = ctx.log.child({ job: job.id, kind: job.kind });
  const progress: ProgressTracker = { items: 0, bytes: 0, step: null };
  const controller = new AbortController();
  const interrupt = (reason: JobInterruption['reason']) => {
    if (!controller.signal.aborted) controller.abort(new JobInterruption(reason));
  };
  const onShutdown = () => interrupt('shutdown');
  options.shutdown?.addEventListener('abort', onShutdown, { once: true });
  if (options.shutdown?.aborted) onShutdown();

  const leaseMs = ctx.settings.jobLeaseSeconds * 1000;
  // The claim's token (owner and attempt): every write of the job's outcome names it.
  const fence = fenceOf(job, options.owner);
  const confirmHeld = (tx: EntityManager) => confirmJobHeld(tx, fence, leaseMs, ctx.now());
  const beatEm = ctx.orm.em.fork();
  let beating = Promise.resolve();
  const timer = setInterval(() => {
    beating = beating.then(async () => {
      if (controller.signal.aborted) return;
      try {
        const status = await renewLease(beatEm, fence, leaseMs, ctx.now(), progress);
        if (status === 'canceled') interrupt('canceled');
        else if (status === 'lost') interrupt('lease_lost');
      } catch (err) {
        // A busy database is not a lost lease; the next beat tries again well within the lease.
        log.warn({ err }, 'job heartbeat failed');
      }
    });
  }, heartbeatMs(ctx.settings));

  try {
    const handler = jobHandler(job.kind);
    if (!handler) throw new Error(`no runner for ${job.kind} jobs on this appliance yet`);
    log.info('job started');
    const appendLog = (entries: JobLogEntry[]) => appendJobLog(em.fork(), fence, entries);
    const outcome = await handler({ ctx, em, job, signal: controller.signal, progress, log, confirmHeld, appendLog });
    clearInterval(timer);
    await beating;
    const ended = await finishJob(
      em,
      job,
      options.owner,
      { state: outcome.state, result: outcome.result, message: outcome.message },
      ctx.now(),
      progress,
    );
    if (ended) log.info({ state: outcome.state }, 'job finished');
    else log.warn('job lost its lease before its end was recorded; another worker resumes or fails it');
  } catch (err) {
    clearInterval(timer);
    await beating;
    await endAfterError(ctx, em, job, options.owner, err, controller.signal, progress);
  } finally {
    clearInterval(timer);
    options.shutdown?.removeEventListener('abort', onShutdown);
  }
}

async function endAfterError(
  ctx: WorkContext,
  em: EntityManager,
  job: IJob,
  owner: string,
  err: unknown,
  signal: AbortSignal,
  progress: ProgressTracker,
): Promise<void> {
  em.clear();
  const now = ctx.now();
  const log = ctx.log.child({ job: job.id, kind: job.kind });
  // A lost lease is noticed by the heartbeat (the signal) or by a fenced commit (the error).
  const interruption =
    err instanceof JobInterruption && err.reason === 'lease_lost'
      ? 'lease_lost'
      : signal.aborted && signal.reason instanceof JobInterruption
        ? signal.reason.reason
        : undefined;
  if (interruption === 'lease_lost') {
    log.warn('job lost its lease; another worker resumes or fails it');
    return;
  }
  if (interruption === 'canceled') {
    if (
      await finishJob(
        em,
        job,
        owner,
        { state: 'canceled', error: 'Canceled.', message: 'canceled; nothing was committed' },
        now,
        progress,
      )
    ) {
      await jobEnded(em, job, 'canceled', null, now);
    }
    log.info('job canceled');
    return;
  }
  if (interruption === 'shutdown' && job.kind === 'restore') {
    // Running it again at the next start would write the items already restored a second time.
    const message =
      'The appliance stopped during the restore; the items restored so far stay restored. Start the restore again for the rest.';
    await finishJob(em, job, owner, { state: 'failed', error: message, message }, now, progress);
    log.info('restore interrupted by shutdown; failed rather than run twice');
    return;
  }
  if (interruption === 'shutdown') {
    if (
      await releaseJob(
        em,
        job,
        owner,
        {
          runAfter: now,
          message: 'interrupted by the appliance stopping; it resumes at the next start',
          refundAttempt: true,
        },
        now,
      )
    ) {
      await jobEnded(em, job, 'pending', null, now);
    }
    log.info('job interrupted by shutdown, back in the queue');
    return;
  }
  if (err instanceof JobNotApplicableError) {
    // Ended here only while the job is still this run's (another node's run settles the entity).
    if (
      await finishJob(em, job, owner, { state: 'canceled', error: err.message, message: err.message }, now, progress)
    ) {
      await jobEnded(em, job, 'canceled', null, now);
    }
    return;
  }
  const message = sentence(err);
  const fresh = await em.findOne(Job, { id: job.id }, { disableIdentityMap: true });
  const attempts = fresh?.attempts ?? job.attempts + 1;
  if (isTransient(err) && attempts < job.maxAttempts) {
    const retryAfterMs = err instanceof TransientServiceError ? err.retryAfterMs : undefined;
    const delay = Math.max(retryAfterMs ?? 0, retryDelayMs(attempts, ctx.settings.jobRetryBaseSeconds * 1000));
    if (
      await releaseJob(
        em,
        job,
        owner,
        {
          runAfter: new Date(now.getTime() + delay),
          message: `${message} — retrying in ${Math.round(delay / 1000)} s`,
          error: message,
        },
        now,
      )
    ) {
      await jobEnded(em, job, 'pending', null, now);
    }
    log.warn({ err, attempts }, 'job failed with a transient error; retry queued');
    return;
  }
  if (
    await finishJob(em, job, owner, { state: 'failed', error: message, message: `failed: ${message}` }, now, progress)
  ) {
    await jobEnded(em, job, 'failed', message, now);
  }
  log.warn({ err }, 'job failed');
}
