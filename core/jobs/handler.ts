// What a job kind implements, the interruptions the runner tells apart, and the registry the
// composition root (core/job-kinds.ts) fills: which handler runs each kind, and what else must
// happen when a job ends (a backup's entity leaves "In Process"). So the queue knows no task.
import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from '../logging.ts';
import type { WorkContext } from './context.ts';
import type { IJob, JobKind, JobLogEntry, JobResult, JobState } from './entities.ts';

export interface ProgressTracker {
  items: number;
  bytes: number;
  step: string | null;
}

export interface JobRun {
  ctx: WorkContext;
  em: EntityManager;
  job: IJob;
  /** Aborted with a JobInterruption: stop soon, commit nothing, and throw. */
  signal: AbortSignal;
  progress: ProgressTracker;
  log: Logger;
  /**
   * Call first in every transaction that records the job's outcome (a snapshot, a result), and
   * just before a commit point outside the database (a snapshot manifest): it checks that the job
   * is still this run's (lease owner and attempt, the fencing token), extends the lease, and
   * throws the lease-lost JobInterruption when another node has taken the job meanwhile.
   */
  confirmHeld: (tx: EntityManager) => Promise<void>;
  /**
   * Adds lines to the job's log (items a restore could not write…) while the job is still this
   * run's: false, and nothing written, once another attempt holds it.
   */
  appendLog: (entries: JobLogEntry[]) => Promise<boolean>;
}

export interface JobOutcome {
  state: 'succeeded' | 'partially_succeeded';
  result: JobResult;
  /** One line for the job's log. */
  message: string;
}

export type JobHandler = (run: JobRun) => Promise<JobOutcome>;

/** Why a running job's signal was aborted. */
export class JobInterruption extends Error {
  readonly reason: 'canceled' | 'lease_lost' | 'shutdown';
  constructor(reason: JobInterruption['reason']) {
    super(
      reason === 'canceled'
        ? 'the job was canceled'
        : reason === 'shutdown'
          ? 'the appliance is stopping'
          : 'the job lost its claim (its lease lapsed)',
    );
    this.name = 'JobInterruption';
    this.reason = reason;
  }
}

/** The job no longer applies (its entity was paused or deleted meanwhile): ends it as canceled. */
export class JobNotApplicableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JobNotApplicableError';
  }
}

const handlers = new Map<JobKind, JobHandler>();

/** Sets the handler of a job kind (at start-up and in every job worker). */
export function registerJobHandler(kind: JobKind, handler: JobHandler): void {
  handlers.set(kind, handler);
}

export function jobHandler(kind: JobKind): JobHandler | undefined {
  return handlers.get(kind);
}

/** Called when a job ends outside its handler's success (failed, canceled, put back in the queue). */
export type JobEndHook = (
  em: EntityManager,
  job: Pick<IJob, 'kind' | 'entity'>,
  state: JobState,
  error: string | null,
  now: Date,
) => Promise<void>;

const endHooks = new Set<JobEndHook>();

export function onJobEnd(hook: JobEndHook): void {
  endHooks.add(hook);
}

export async function jobEnded(
  em: EntityManager,
  job: Pick<IJob, 'kind' | 'entity'>,
  state: JobState,
  error: string | null,
  now: Date,
): Promise<void> {
  for (const hook of endHooks) await hook(em, job, state, error, now);
}

/**
 * Called inside the transaction that ends a job (any final state, any path: handler, failure,
 * cancel, lapsed lease), with that transaction's EntityManager: what it writes commits with the
 * job's end or not at all (notifications are queued this way). The job is read once for all of
 * them, in its final state, with its organization, task and entity: a hook reads nothing again.
 */
export type JobFinishedHook = (tx: EntityManager, job: IJob) => Promise<void>;

const finishedHooks = new Set<JobFinishedHook>();

export function onJobFinished(hook: JobFinishedHook): void {
  finishedHooks.add(hook);
}

export async function jobFinished(tx: EntityManager, job: IJob): Promise<void> {
  for (const hook of finishedHooks) await hook(tx, job);
}
