// The durable queue over the `jobs` table. Every state change that two processes could race on
// is one conditional UPDATE whose WHERE clause names the state it expects (and the lease owner),
// so exactly one of them sees a changed row: two workers never claim the same job, a worker that
// lost its lease cannot finish a job someone else resumed, and two scheduler ticks cannot enqueue
// one slot twice (the unique dedupe key). Plain SQL through the ORM: the same on PostgreSQL.
import { randomUUID } from 'node:crypto';
import { type EntityManager, LockMode } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { recordJobActivity } from '../activity/activity-service.ts';
import { onPostgres } from '../db/run-sql.ts';
import {
  type IJob,
  type InitiatorKind,
  JOB_LABEL_MAX,
  Job,
  type JobKind,
  type JobLogEntry,
  type JobResult,
  type JobState,
} from './entities.ts';
import { JobInterruption, jobEnded, jobFinished } from './handler.ts';

export interface Initiator {
  kind: InitiatorKind;
  id?: string | null;
  label?: string | null;
}

export interface NewJob {
  /** Chosen by the caller when something must be bound to the job before it exists (a sealed secret). */
  id?: string;
  organizationId: string;
  kind: JobKind;
  label: string;
  taskId?: string | null;
  entityId?: string | null;
  initiator: Initiator;
  params?: Record<string, unknown>;
  dedupeKey?: string | null;
  scheduledFor?: Date | null;
  runAfter?: Date;
  maxAttempts: number;
}

const LOG_MAX = 50;

/** Labels are shown in narrow columns: at most 50 characters, cut with an ellipsis. */
export function jobLabel(text: string): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  return clean.length <= JOB_LABEL_MAX ? clean : `${clean.slice(0, JOB_LABEL_MAX - 1)}…`;
}

export function logEntry(level: JobLogEntry['level'], message: string, at: Date): JobLogEntry {
  return { at: at.toISOString(), level, message: message.slice(0, 1000) };
}

function appendLog(log: JobLogEntry[], entry: JobLogEntry): JobLogEntry[] {
  return [...log, entry].slice(-LOG_MAX);
}

/**
 * Moves a job to another state with one conditional UPDATE; when that ends the job, its run is
 * recorded in the activity log and the job-finished hooks run (notifications) in the same
 * transaction, so they never disagree. True when this call changed the row.
 */
async function changeJob(
  em: EntityManager,
  where: Record<string, unknown>,
  set: Record<string, unknown>,
  jobId: string,
): Promise<boolean> {
  return em.fork().transactional(async (tx) => {
    const changed = await tx.nativeUpdate(Job, where as never, set as never);
    if (changed !== 1) return false;
    if (set.finishedAt) {
      // Read once, as it ended, for the activity row and every hook (one joined query).
      const job = await tx.findOne(
        Job,
        { id: jobId },
        { populate: ['organization', 'task', 'entity'], strategy: 'joined' },
      );
      if (job) {
        await recordJobActivity(tx, job);
        await jobFinished(tx, job);
      }
    }
    return true;
  });
}

function row(job: NewJob, now: Date) {
  return {
    id: job.id ?? randomUUID(),
    organization: job.organizationId,
    kind: job.kind,
    state: 'pending' as JobState,
    label: jobLabel(job.label),
    task: job.taskId ?? null,
    entity: job.entityId ?? null,
    initiatorKind: job.initiator.kind,
    initiatorId: job.initiator.id ?? null,
    initiatorLabel: job.initiator.label?.slice(0, 320) ?? null,
    params: job.params ?? {},
    dedupeKey: job.dedupeKey ?? null,
    scheduledFor: job.scheduledFor ?? null,
    runAfter: job.runAfter ?? now,
    attempts: 0,
    maxAttempts: job.maxAttempts,
    log: [logEntry('info', `queued by ${job.initiator.label ?? job.initiator.kind}`, now)],
    createdAt: now,
  };
}

/** Adds a job and returns its id. */
export async function enqueueJob(em: EntityManager, job: NewJob, now: Date): Promise<string> {
  const data = row(job, now);
  await em.insert(Job, data as never);
  return data.id;
}

/**
 * Adds each job unless one with the same dedupe key exists (ON CONFLICT DO NOTHING, which SQLite
 * and PostgreSQL both have). Returns how many were added.
 */
export async function enqueueJobsOnce(em: EntityManager, jobs: NewJob[], now: Date): Promise<number> {
  let added = 0;
  for (const job of jobs) {
    if (!job.dedupeKey) throw new Error('enqueueJobsOnce needs a dedupe key');
    const result = (await (em as SqlEntityManager)
      .createQueryBuilder(Job)
      .insert(row(job, now) as never)
      .onConflict('dedupeKey')
      .ignore()
      .execute('run')) as { affectedRows?: number };
    added += result.affectedRows ?? 0;
  }
  return added;
}

export interface ClaimLimits {
  /** Jobs this claimer may still start. */
  slots: number;
  perOrganization: number;
  perTask: number;
  /**
   * Jobs this claimer still holds although their end may be recorded: their executor has not
   * returned yet (a worker thread is handing itself back). They count as running, so a task's
   * next job waits for that worker instead of starting another thread.
   */
  held?: readonly string[];
  /**
   * Organizations this claimer served in its current round, kept by the caller from one call to
   * the next (the runner): each organization with due jobs gets one before any gets another, so
   * a tenant whose jobs were queued last still starts among the first. Absent: a round per call.
   */
  served?: Set<string>;
}

/**
 * Claims up to `limits.slots` due jobs for `owner`, honouring the per-organization and per-task
 * limits and never two jobs of one entity at once. Organizations take turns (round-robin, the one
 * whose oldest claimable job waited longest first; the round carries over between calls when the
 * caller keeps `limits.served`), and the limits are conditions of the query,
 * so however many jobs one tenant or task queues, every other tenant's due jobs are reached.
 * Each claim is a conditional UPDATE on the state and attempt count read, so of racing claimers
 * exactly one gets each job.
 */
export async function claimJobs(
  em: EntityManager,
  owner: string,
  limits: ClaimLimits,
  leaseMs: number,
  now: Date,
): Promise<IJob[]> {
  if (limits.slots <= 0) return [];
  const running = await em.find(
    Job,
    limits.held?.length
      ? { $or: [{ state: 'in_progress' }, { id: { $in: [...limits.held] } }] }
      : { state: 'in_progress' },
    { fields: ['organization', 'task', 'entity'] },
  );
  const perOrg = new Map<string, number>();
  const perTask = new Map<string, number>();
  const busyEntities = new Set<string>();
  const count = (j: { organization: { id: string }; task?: { id: string } | null; entity?: { id: string } | null }) => {
    perOrg.set(j.organization.id, (perOrg.get(j.organization.id) ?? 0) + 1);
    if (j.task) perTask.set(j.task.id, (perTask.get(j.task.id) ?? 0) + 1);
    if (j.entity) busyEntities.add(j.entity.id);
  };
  for (const j of running) count(j);
  const full = (counts: Map<string, number>, limit: number) =>
    [...counts].flatMap(([id, n]) => (n >= limit ? [id] : []));

  const claimed: IJob[] = [];
  // Organizations served in the current round: each gets one job per round.
  const served = limits.served ?? new Set<string>();
  // Lost races and empty rounds cost a query each; a bound keeps a claimer that keeps losing from spinning.
  for (let queries = 0; claimed.length < limits.slots && queries < limits.slots * 4 + 8; queries++) {
    const exclude = {
      organizations: [...new Set([...full(perOrg, limits.perOrganization), ...served])],
      tasks: full(perTask, limits.perTask),
      entities: [...busyEntities],
    };
    const picked = await claimOne(em, owner, leaseMs, now, exclude);
    if (picked === 'none') {
      // Every organization with a claimable job had one this round: the next round starts.
      if (served.size === 0) break;
      served.clear();
      continue;
    }
    const { job, won } = picked;
    served.add(job.organization.id);
    // Lost to another claimer: the job is no longer pending, so the next query skips it.
    if (!won) continue;
    count(job);
    claimed.push(job);
  }
  em.clear();
  return claimed;
}

type Exclusions = { organizations: string[]; tasks: string[]; entities: string[] };

/**
 * Picks the next claimable job and takes it with a conditional UPDATE (`won`: false when another
 * claimer took it first). On PostgreSQL the pick locks the row `for update skip locked` in a short
 * transaction: racing claimers (other nodes) each lock a different job instead of all reaching for
 * the oldest, and none waits on another's lock. SQLite has one writer at a time: no row locks.
 */
async function claimOne(
  em: EntityManager,
  owner: string,
  leaseMs: number,
  now: Date,
  exclude: Exclusions,
): Promise<'none' | { job: IJob; won: boolean }> {
  const take = async (tx: EntityManager, lock: boolean) => {
    const job = await nextClaimable(tx, now, exclude, lock);
    if (!job) return 'none' as const;
    const won = await tx.nativeUpdate(
      Job,
      { id: job.id, state: 'pending', attempts: job.attempts },
      {
        state: 'in_progress',
        leaseOwner: owner,
        leaseExpiresAt: new Date(now.getTime() + leaseMs),
        heartbeatAt: now,
        attempts: job.attempts + 1,
        startedAt: job.startedAt ?? now,
        log: appendLog(job.log, logEntry('info', `attempt ${job.attempts + 1} started`, now)),
      },
    );
    return { job, won: won === 1 };
  };
  return onPostgres(em) ? em.transactional((tx) => take(tx, true)) : take(em, false);
}

/** The oldest due pending job outside the excluded organizations, tasks and entities. */
async function nextClaimable(em: EntityManager, now: Date, exclude: Exclusions, lock: boolean): Promise<IJob | null> {
  const where: Record<string, unknown>[] = [{ state: 'pending', runAfter: { $lte: now } }];
  if (exclude.organizations.length > 0) where.push({ organization: { $nin: exclude.organizations } });
  if (exclude.tasks.length > 0) where.push({ $or: [{ task: null }, { task: { $nin: exclude.tasks } }] });
  if (exclude.entities.length > 0) where.push({ $or: [{ entity: null }, { entity: { $nin: exclude.entities } }] });
  return em.findOne(Job, { $and: where } as never, {
    orderBy: { runAfter: 'asc', createdAt: 'asc', id: 'asc' },
    disableIdentityMap: true,
    ...(lock ? { lockMode: LockMode.PESSIMISTIC_PARTIAL_WRITE } : {}),
  });
}

/**
 * What makes a claim this run's own: the lease owner and the attempt number its claim set. A node
 * whose lease lapsed and whose job another node (or a later claim of its own) took holds a stale
 * token; every write of the job's outcome names the token, so a stale one writes nothing.
 */
export interface JobFence {
  jobId: string;
  owner: string;
  attempt: number;
}

export function fenceOf(job: Pick<IJob, 'id' | 'attempts'>, owner: string): JobFence {
  return { jobId: job.id, owner, attempt: job.attempts };
}

function fenced(fence: JobFence) {
  return { id: fence.jobId, leaseOwner: fence.owner, attempts: fence.attempt, state: 'in_progress' as const };
}

/**
 * Confirms, inside the caller's transaction, that the job is still this run's (its fencing token
 * matches) and extends its lease from `now`: the row is then locked until the transaction ends
 * (PostgreSQL), and the lapsed-lease recovery, whose update names the expiry it read, cannot take
 * the job from under the commit. Throws the lease-lost interruption when the token is stale.
 */
export async function confirmJobHeld(tx: EntityManager, fence: JobFence, leaseMs: number, now: Date): Promise<void> {
  const held = await tx.nativeUpdate(Job, fenced(fence), {
    leaseExpiresAt: new Date(now.getTime() + leaseMs),
    heartbeatAt: now,
  });
  if (held !== 1) throw new JobInterruption('lease_lost');
}

export interface ProgressReport {
  items: number;
  bytes: number;
  step: string | null;
}

/**
 * Extends the lease and records progress. 'held': carry on; 'canceled': a cancel was requested;
 * 'lost': the job is no longer ours (its lease lapsed and someone resumed or failed it).
 */
export async function renewLease(
  em: EntityManager,
  fence: JobFence,
  leaseMs: number,
  now: Date,
  progress: ProgressReport,
): Promise<'held' | 'canceled' | 'lost'> {
  const jobId = fence.jobId;
  const updated = await em.nativeUpdate(Job, fenced(fence), {
    leaseExpiresAt: new Date(now.getTime() + leaseMs),
    heartbeatAt: now,
    progressItems: progress.items,
    progressBytes: progress.bytes,
    progressStep: progress.step?.slice(0, 200) ?? null,
  });
  if (updated !== 1) return 'lost';
  const row = await em.findOne(Job, { id: jobId }, { fields: ['cancelRequestedAt'], disableIdentityMap: true });
  return row?.cancelRequestedAt ? 'canceled' : 'held';
}

/**
 * Keeps the leases of jobs this node still holds from lapsing, whatever their executor is doing
 * (a worker thread still starting, which renews nothing yet): a lease says the node is alive.
 * Only the expiry is written, so the progress and cancel flag the job's own heartbeat writes and
 * reads are left alone. Returns how many leases were extended (a job no longer ours is skipped).
 */
export async function extendLeases(
  em: EntityManager,
  jobIds: readonly string[],
  owner: string,
  leaseMs: number,
  now: Date,
): Promise<number> {
  if (jobIds.length === 0) return 0;
  return em.nativeUpdate(
    Job,
    { id: { $in: [...jobIds] }, leaseOwner: owner, state: 'in_progress' },
    { leaseExpiresAt: new Date(now.getTime() + leaseMs) },
  );
}

export interface JobEnd {
  state: Extract<JobState, 'succeeded' | 'partially_succeeded' | 'failed' | 'canceled'>;
  result?: JobResult | null;
  error?: string | null;
  message: string;
}

/**
 * Ends a job we hold (`job` as claimed: its attempt number is part of the fencing token). False
 * when the lease was lost (the job is someone else's now, or a later attempt's).
 */
export async function finishJob(
  em: EntityManager,
  job: IJob,
  owner: string,
  end: JobEnd,
  now: Date,
  progress?: ProgressReport,
): Promise<boolean> {
  const current = await em.findOne(Job, { id: job.id }, { disableIdentityMap: true });
  if (!current || current.leaseOwner !== owner || current.attempts !== job.attempts || current.state !== 'in_progress')
    return false;
  return changeJob(
    em,
    fenced(fenceOf(job, owner)),
    {
      state: end.state,
      result: end.result ?? current.result ?? null,
      error: end.error ?? null,
      leaseOwner: null,
      leaseExpiresAt: null,
      finishedAt: now,
      ...(progress
        ? {
            progressItems: progress.items,
            progressBytes: progress.bytes,
            progressStep: progress.step?.slice(0, 200) ?? null,
          }
        : {}),
      log: appendLog(current.log, logEntry(end.state === 'failed' ? 'error' : 'info', end.message, now)),
    },
    job.id,
  );
}

/**
 * Puts a job we hold back in the queue: after a transient failure (runAfter = backoff), or when
 * the appliance stops mid-run (`refundAttempt`: a stop is not the job's fault).
 */
export async function releaseJob(
  em: EntityManager,
  job: IJob,
  owner: string,
  options: { runAfter: Date; message: string; error?: string | null; refundAttempt?: boolean },
  now: Date,
): Promise<boolean> {
  const current = await em.findOne(Job, { id: job.id }, { disableIdentityMap: true });
  if (!current || current.leaseOwner !== owner || current.attempts !== job.attempts || current.state !== 'in_progress')
    return false;
  const updated = await em.nativeUpdate(Job, fenced(fenceOf(job, owner)), {
    state: 'pending',
    leaseOwner: null,
    leaseExpiresAt: null,
    runAfter: options.runAfter,
    error: options.error ?? null,
    attempts: options.refundAttempt ? Math.max(0, current.attempts - 1) : current.attempts,
    log: appendLog(current.log, logEntry('warn', options.message, now)),
  });
  return updated === 1;
}

/**
 * Adds entries to the log of a job we hold (e.g. the items a restore could not write), while the
 * fencing token is ours: an earlier attempt still running (a stalled node, the same node's runner
 * after a put-back) writes nothing into the current attempt's log. The update names the cancel
 * flag it read, so a cancel request logged meanwhile is not overwritten.
 */
export async function appendJobLog(em: EntityManager, fence: JobFence, entries: JobLogEntry[]): Promise<boolean> {
  if (entries.length === 0) return true;
  for (let tries = 0; tries < 3; tries++) {
    const current = await em.findOne(Job, { id: fence.jobId }, { disableIdentityMap: true });
    if (
      !current ||
      current.leaseOwner !== fence.owner ||
      current.attempts !== fence.attempt ||
      current.state !== 'in_progress'
    )
      return false;
    const updated = await em.nativeUpdate(
      Job,
      { ...fenced(fence), cancelRequestedAt: current.cancelRequestedAt ?? null },
      { log: entries.reduce(appendLog, current.log) },
    );
    if (updated === 1) return true;
  }
  return false;
}

/** Exponential backoff: base, 2×base, 4×base … capped at an hour. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(3_600_000, baseMs * 2 ** Math.max(0, attempt - 1));
}

export type CancelOutcome = 'canceled' | 'requested' | 'finished';

/**
 * Cancels a job: a pending one at once; a running one is asked to stop (its worker sees the
 * request at its next heartbeat, within about a second, and aborts without committing).
 */
export async function requestCancel(em: EntityManager, jobId: string, now: Date, by: string): Promise<CancelOutcome> {
  for (;;) {
    const job = await em.findOne(Job, { id: jobId }, { disableIdentityMap: true });
    if (!job) return 'finished';
    if (job.state === 'pending') {
      const done = await changeJob(
        em,
        { id: jobId, state: 'pending', attempts: job.attempts },
        {
          state: 'canceled',
          cancelRequestedAt: now,
          finishedAt: now,
          error: `Canceled by ${by}.`,
          log: appendLog(job.log, logEntry('info', `canceled by ${by} before it started`, now)),
        },
        jobId,
      );
      if (done) {
        await jobEnded(em, job, 'canceled', null, now);
        return 'canceled';
      }
      continue; // claimed meanwhile: ask the runner instead
    }
    if (job.state === 'in_progress') {
      const asked = await em.nativeUpdate(
        Job,
        { id: jobId, state: 'in_progress', cancelRequestedAt: null },
        { cancelRequestedAt: now, log: appendLog(job.log, logEntry('info', `cancel requested by ${by}`, now)) },
      );
      if (asked === 1 || job.cancelRequestedAt) return 'requested';
      continue;
    }
    return 'finished';
  }
}

export const STOPPED_DURING_RUN = 'the appliance stopped during the run';

/**
 * Jobs whose lease lapsed were held by a process that stopped (crash, SIGKILL, power loss): each
 * is resumed (back to pending, run again from its last committed state) while it has attempts
 * left, otherwise failed with the reason. A cancel that was requested ends it as canceled.
 */
export async function recoverLapsedJobs(em: EntityManager, now: Date): Promise<{ resumed: number; failed: number }> {
  const lapsed = await em.find(
    Job,
    { state: 'in_progress', leaseExpiresAt: { $lt: now } },
    { disableIdentityMap: true, limit: 500 },
  );
  const outcome = { resumed: 0, failed: 0 };
  for (const job of lapsed) {
    const expected = {
      id: job.id,
      state: 'in_progress' as const,
      leaseOwner: job.leaseOwner,
      leaseExpiresAt: job.leaseExpiresAt,
    };
    const resume = !job.cancelRequestedAt && job.attempts < job.maxAttempts;
    const state: JobState = resume ? 'pending' : job.cancelRequestedAt ? 'canceled' : 'failed';
    const message = resume
      ? `${STOPPED_DURING_RUN}; resumed (attempt ${job.attempts + 1} of ${job.maxAttempts} next)`
      : job.cancelRequestedAt
        ? `${STOPPED_DURING_RUN}; it had been asked to cancel`
        : `${STOPPED_DURING_RUN}; no attempts left`;
    const changed = await changeJob(
      em,
      expected,
      {
        state,
        leaseOwner: null,
        leaseExpiresAt: null,
        runAfter: now,
        error: resume ? null : `The job failed: ${STOPPED_DURING_RUN}.`,
        ...(resume ? {} : { finishedAt: now }),
        log: appendLog(job.log, logEntry(resume ? 'warn' : 'error', message, now)),
      },
      job.id,
    );
    if (!changed) continue;
    if (resume) outcome.resumed++;
    else outcome.failed++;
    await jobEnded(em, job, state, resume ? null : `The last backup failed: ${STOPPED_DURING_RUN}.`, now);
  }
  return outcome;
}
