// What a job kind implements, and the interruptions the runner tells apart.
import type { EntityManager } from '@mikro-orm/core';
import type { Logger } from '../logging.ts';
import type { WorkContext } from './context.ts';
import type { IJob, JobResult } from './entities.ts';

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
