// Pending recovery steps of service plugins: a restore that changes something at the service
// which must not outlive it (automation switched off, inactive users activated) first registers
// an undo step here, durably, then makes the change, and clears the step once it has undone it.
// Whatever is left is handed to the plugin's `recover()`: at the end of the restore job whatever
// its outcome (with the job's connection), and at the next start of the appliance for jobs that
// died with it (SIGKILL, power loss). A step that fails stays, is tried again at each later start,
// and each failure is written to System Activity. Nothing here knows any plugin.
import { hostname } from 'node:os';
import type { EntityManager } from '@mikro-orm/core';
import { recordActivity } from '../activity/activity-service.ts';
import { Job } from '../jobs/entities.ts';
import type { Logger } from '../logging.ts';
import type { RecoverySteps, ServiceConnection, ServicePlugin } from '../plugins/service.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { connectTask } from './connection.ts';
import { BackupTask, type IBackupTask, type IPluginRecoveryStep, PluginRecoveryStep } from './entities.ts';

/** How long one recovery step may take (its own deadline: the job's signal may be aborted already). */
export const RECOVERY_TIMEOUT_MS = 10 * 60_000;

/** The steps a restore run registers: each row written before `register` returns. */
export function recoverySteps(
  em: EntityManager,
  owner: { taskId: string; jobId: string | null; pluginKind: string },
  now: () => Date,
): RecoverySteps {
  return {
    async register(payload) {
      const id = crypto.randomUUID();
      await em.fork().insert(PluginRecoveryStep, {
        id,
        task: owner.taskId,
        jobId: owner.jobId,
        pluginKind: owner.pluginKind,
        payload,
        createdAt: now(),
        attempts: 0,
      } as never);
      return {
        clear: async () => {
          await em.fork().nativeDelete(PluginRecoveryStep, { id });
        },
      };
    },
  };
}

interface RunContext {
  em: EntityManager;
  signal?: AbortSignal | undefined;
  plugin: ServicePlugin;
  connection: ServiceConnection;
  task: Pick<IBackupTask, 'id' | 'name' | 'service' | 'organization'>;
  log: Logger;
  now: () => Date;
  /** Written to System Activity when the step succeeds too (start-up: a crash had left it). */
  recordSuccess: boolean;
}

/** Runs the steps with one connection; returns how many are done (deleted). */
async function runSteps(steps: IPluginRecoveryStep[], c: RunContext): Promise<number> {
  let done = 0;
  for (const step of steps) {
    if (c.signal?.aborted) break;
    const signal = deadline(c.signal);
    const log = c.log.child({ recoveryStep: step.id });
    let problem: string | undefined;
    try {
      if (!c.plugin.recover) throw new Error(`the ${c.plugin.label} plugin has no recover step`);
      await c.plugin.recover(c.connection, step.payload, { signal, log });
    } catch (err) {
      problem = ((err as Error)?.message ?? String(err)).slice(0, 900);
    }
    // Stopped by the appliance's own shutdown: not a failure, the step simply stays for the next start.
    if (problem !== undefined && c.signal?.aborted) break;
    const em = c.em.fork();
    const at = c.now();
    if (problem === undefined) {
      await em.nativeDelete(PluginRecoveryStep, { id: step.id });
      done++;
      log.info({ task: c.task.id, job: step.jobId }, 'restore clean-up step done');
    } else {
      await em.nativeUpdate(
        PluginRecoveryStep,
        { id: step.id },
        { attempts: step.attempts + 1, lastAttemptAt: at, lastError: problem },
      );
      log.warn({ task: c.task.id, job: step.jobId, err: problem }, 'restore clean-up step failed');
    }
    if (problem !== undefined || c.recordSuccess) {
      await recordActivity(em, [
        {
          organization: c.task.organization,
          activity: 'Restore clean-up',
          status: problem === undefined ? 'succeeded' : 'failed',
          at,
          task: c.task,
          summary:
            problem === undefined
              ? `A restore that stopped before it ended had left a change at ${c.plugin.label}; it was undone when the appliance started (${describe(step)}).`
              : `A restore's change at ${c.plugin.label} could not be undone (attempt ${step.attempts + 1}): ${problem} It is tried again when the appliance starts (${describe(step)}).`,
        },
      ]);
    }
  }
  return done;
}

function deadline(outer: AbortSignal | undefined): AbortSignal {
  const own = AbortSignal.timeout(RECOVERY_TIMEOUT_MS);
  return outer ? AbortSignal.any([own, outer]) : own;
}

function describe(step: IPluginRecoveryStep): string {
  const what = typeof step.payload.describe === 'string' ? step.payload.describe.slice(0, 300) : 'clean-up step';
  return step.jobId ? `${what}, job ${step.jobId}` : what;
}

/** At the end of a restore job, whatever its outcome: the steps it left, with its connection. */
export async function recoverJobSteps(
  c: Omit<RunContext, 'recordSuccess'> & { jobId: string },
): Promise<{ pending: number; done: number }> {
  const steps = await c.em.fork().find(PluginRecoveryStep, { jobId: c.jobId }, { orderBy: { createdAt: 'desc' } });
  if (steps.length === 0) return { pending: 0, done: 0 };
  const done = await runSteps(steps, { ...c, recordSuccess: false });
  return { pending: steps.length, done };
}

/**
 * Whether the process named by a job's lease owner (`host/pid/nonce`) is gone. Only this host's
 * processes can be told: the owner is gone when its pid is not running, or when it is our own pid
 * (a restarted container reuses pid 1; this runs before our runner claims anything).
 */
export function leaseHolderGone(owner: string | null | undefined): boolean {
  if (!owner) return true;
  const [host, pidText] = owner.split('/');
  if (host !== hostname()) return false;
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * The steps to run at start: those whose job is over, gone, or held by a process that is no
 * longer running (the lease of a killed appliance has not lapsed yet, but nothing renews it).
 * Steps of a job another live process still runs are left to that job's end.
 */
export async function orphanedSteps(em: EntityManager, now: Date): Promise<IPluginRecoveryStep[]> {
  const steps = await em.fork().find(PluginRecoveryStep, {}, { orderBy: { createdAt: 'desc' }, limit: 1000 });
  const jobIds = [...new Set(steps.map((s) => s.jobId).filter((id): id is string => !!id))];
  const jobs = new Map(
    (
      await em.fork().find(Job, { id: { $in: jobIds } }, { fields: ['id', 'state', 'leaseOwner', 'leaseExpiresAt'] })
    ).map((j) => [j.id, j]),
  );
  return steps.filter((s) => {
    const job = s.jobId ? jobs.get(s.jobId) : undefined;
    if (job?.state !== 'in_progress') return true;
    if (job.leaseExpiresAt && job.leaseExpiresAt.getTime() < now.getTime()) return true;
    return leaseHolderGone(job.leaseOwner);
  });
}

export interface StartupRecoveryContext {
  em: EntityManager;
  credentials: CredentialCipher;
  services: (kind: string) => ServicePlugin | undefined;
  log: Logger;
  now: () => Date;
  /** Aborted when the appliance stops: the steps left stay pending for the next start. */
  signal?: AbortSignal;
}

/** Runs the given steps (from `orphanedSteps`), one connection per task; failures stay pending. */
export async function runOrphanedSteps(
  c: StartupRecoveryContext,
  steps: IPluginRecoveryStep[],
): Promise<{ done: number; failed: number }> {
  const byTask = new Map<string, IPluginRecoveryStep[]>();
  for (const s of steps) byTask.set(s.task.id, [...(byTask.get(s.task.id) ?? []), s]);
  let done = 0;
  let failed = 0;
  for (const [taskId, taskSteps] of byTask) {
    if (c.signal?.aborted) break;
    const em = c.em.fork();
    const task = await em.findOne(BackupTask, { id: taskId });
    if (!task) continue;
    const plugin = c.services(task.service);
    let connection: ServiceConnection | undefined;
    try {
      if (!plugin) throw new Error(`the service plugin "${task.service}" is not installed on this appliance`);
      connection = await connectTask(em, task, plugin, c.credentials, deadline(c.signal), c.log);
    } catch (err) {
      const problem = ((err as Error)?.message ?? String(err)).slice(0, 900);
      c.log.warn({ task: taskId, err: problem }, 'restore clean-up: could not connect the task');
      for (const step of taskSteps) {
        await em.nativeUpdate(
          PluginRecoveryStep,
          { id: step.id },
          { attempts: step.attempts + 1, lastAttemptAt: c.now(), lastError: problem },
        );
      }
      await recordActivity(em, [
        {
          organization: task.organization,
          activity: 'Restore clean-up',
          status: 'failed',
          at: c.now(),
          task,
          summary: `${taskSteps.length} change(s) a restore left at the service could not be undone: ${problem} They are tried again when the appliance starts.`,
        },
      ]);
      failed += taskSteps.length;
      continue;
    }
    try {
      const ok = await runSteps(taskSteps, {
        em,
        plugin: plugin as ServicePlugin,
        connection,
        task,
        log: c.log,
        now: c.now,
        signal: c.signal,
        recordSuccess: true,
      });
      done += ok;
      failed += taskSteps.length - ok;
    } finally {
      await connection.close?.();
    }
  }
  return { done, failed };
}
