// Backup tasks: create one from a service plugin, change its settings, reconnect, pause, delete
// (hidden at once, restorable during the grace period, purged with its snapshots afterwards).
// Every lookup is scoped to the organization acted on: another tenant's task is "not found".
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { addActivity } from '../activity/activity-service.ts';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { type FieldErrors, fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { Job } from '../jobs/entities.ts';
import { requestCancel } from '../jobs/queue.ts';
import type { Logger } from '../logging.ts';
import type { ServicePlugin } from '../plugins/service.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { REMOVAL_GRACE_DAYS } from '../tenancy/organizations.ts';
import {
  openConnectionSettings,
  parseConnectionSettings,
  RECONNECTED_SUMMARY,
  sealConnection,
  UnknownServiceError,
} from './connection.ts';
import { BackupTask, type IBackupTask, type TaskStatus } from './entities.ts';
import {
  DEFAULT_API_USAGE_LIMIT_PERCENT,
  DEFAULT_TASK_SETTINGS,
  type TaskSettings,
  taskSettingsSchema,
} from './settings.ts';

export const TASK_GRACE_DAYS = REMOVAL_GRACE_DAYS;

export interface TaskServiceDeps {
  credentials: CredentialCipher;
  services: (kind: string) => ServicePlugin | undefined;
  now: () => Date;
  log: Logger;
}

function requirePlugin(deps: TaskServiceDeps, kind: string): ServicePlugin {
  const plugin = deps.services(kind);
  if (!plugin) throw new UnknownServiceError(kind);
  return plugin;
}

function parseSettings(input: unknown): TaskSettings {
  const parsed = taskSettingsSchema.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  return parsed.data;
}

/** Checks the credentials with the service; a refusal is a message on the connection form. */
async function checkCredentials(plugin: ServicePlugin, settings: unknown, log: Logger): Promise<void> {
  const signal = AbortSignal.timeout(60_000);
  let problem: string | undefined;
  try {
    const connection = await plugin.connect(settings, { signal, log });
    try {
      const result = await connection.check(signal);
      if (!result.ok) problem = result.reason;
    } finally {
      await connection.close?.();
    }
  } catch (err) {
    problem = (err as Error).message;
  }
  if (problem) throw new ValidationError({ connection: problem }, `${plugin.label} refused the connection.`);
}

export interface NewTaskInput {
  service: string;
  name: string;
  connection: unknown;
  settings?: Partial<Record<keyof TaskSettings, unknown>>;
}

/** The settings a new task starts with for this service (the API usage limit only where it has one). */
export function defaultSettingsFor(plugin: ServicePlugin): Omit<TaskSettings, 'name'> {
  return {
    ...DEFAULT_TASK_SETTINGS,
    apiUsageLimitPercent: plugin.apiUsageLimit ? DEFAULT_API_USAGE_LIMIT_PERCENT : null,
  };
}

/**
 * Every problem of a new task's input at once, split by part (task settings and the plugin's
 * connection settings), so a form can mark each field before anything is sent to the service.
 */
export function checkNewTaskInput(
  plugin: ServicePlugin,
  input: Omit<NewTaskInput, 'service'>,
): { settings: FieldErrors; connection: FieldErrors } {
  const settings = taskSettingsSchema.safeParse({ ...defaultSettingsFor(plugin), ...input.settings, name: input.name });
  const connection = plugin.settings.safeParse(input.connection);
  return {
    settings: settings.success ? {} : fieldErrorsFrom(settings.error.issues),
    connection: connection.success ? {} : fieldErrorsFrom(connection.error.issues),
  };
}

export async function createTask(
  em: EntityManager,
  deps: TaskServiceDeps,
  organization: IOrganization,
  input: NewTaskInput,
  actor: AuditActor,
): Promise<IBackupTask> {
  const plugin = requirePlugin(deps, input.service);
  const settings = parseSettings({ ...defaultSettingsFor(plugin), ...input.settings, name: input.name });
  if (!plugin.apiUsageLimit) settings.apiUsageLimitPercent = null;
  const connection = parseConnectionSettings(plugin, input.connection);
  await checkCredentials(plugin, connection, deps.log);
  const id = randomUUID();
  const now = deps.now();
  const task = em.create(BackupTask, {
    id,
    organization,
    service: plugin.kind,
    connection: sealConnection(deps.credentials, id, connection),
    connectionState: 'connected',
    connectionProblem: null,
    ...settings,
    storageLocation: null,
    status: 'active',
    createdAt: now,
    updatedAt: now,
  });
  addActivity(em, {
    organization,
    activity: 'Task created',
    status: 'succeeded',
    at: now,
    task,
    summary: `Backup task "${task.name}" created for ${plugin.label} by ${actor.label ?? 'a user'}.`,
  });
  await em.flush();
  await recordAudit(em, {
    organization,
    activity: 'Backup task added',
    service: plugin.label,
    description: `Backup task "${task.name}" added for ${plugin.label}.`,
    actor,
  });
  return task;
}

/** Tasks of the organization acted on that are not deleted, by name. */
export async function listTasks(em: EntityManager, organization: IOrganization): Promise<IBackupTask[]> {
  return em.find(BackupTask, { organization, deletedAt: null }, { orderBy: { name: 'asc', createdAt: 'asc' } });
}

/** Deleted tasks still in their grace period (restorable). */
export async function listDeletedTasks(em: EntityManager, organization: IOrganization): Promise<IBackupTask[]> {
  return em.find(BackupTask, { organization, deletedAt: { $ne: null } }, { orderBy: { purgeAfter: 'asc' } });
}

export async function getTask(em: EntityManager, organization: IOrganization, id: string): Promise<IBackupTask> {
  const task = await em.findOne(BackupTask, { id, organization, deletedAt: null });
  if (!task) throw new NotFoundError('No such backup task.');
  return task;
}

const SETTING_LABELS: Record<keyof TaskSettings, string> = {
  name: 'name',
  frequency: 'backup frequency',
  backupHour: 'backup hour',
  apiUsageLimitPercent: 'API usage limit',
  indexForSearch: 'index for search',
  autoActivate: 'automatic activation',
  archivedRetentionDays: 'retention of archived backups',
  retention: 'retention policy',
};

/** Applies new settings (all of them, validated together); returns the names of those that changed. */
export async function updateTaskSettings(
  em: EntityManager,
  deps: TaskServiceDeps,
  task: IBackupTask,
  input: Partial<Record<keyof TaskSettings, unknown>>,
  actor: AuditActor,
): Promise<(keyof TaskSettings)[]> {
  const plugin = requirePlugin(deps, task.service);
  const current: TaskSettings = {
    name: task.name,
    frequency: task.frequency,
    backupHour: task.backupHour,
    apiUsageLimitPercent: task.apiUsageLimitPercent ?? null,
    indexForSearch: task.indexForSearch,
    autoActivate: task.autoActivate,
    archivedRetentionDays: task.archivedRetentionDays ?? null,
    retention: task.retention,
  };
  const next = parseSettings({ ...current, ...input });
  if (!plugin.apiUsageLimit) next.apiUsageLimitPercent = null;
  const changed = (Object.keys(next) as (keyof TaskSettings)[]).filter(
    (k) => JSON.stringify(next[k]) !== JSON.stringify(current[k]),
  );
  if (changed.length === 0) return changed;
  Object.assign(task, next);
  await em.flush();
  await recordAudit(em, {
    organization: task.organization,
    activity: 'Backup task changed',
    service: plugin.label,
    description: `Backup task "${task.name}": ${changed.map((k) => SETTING_LABELS[k]).join(', ')} changed.`,
    actor,
  });
  return changed;
}

/** New credentials (the "Disconnected" icon's re-authentication); checked before they are stored. */
export async function reconnectTask(
  em: EntityManager,
  deps: TaskServiceDeps,
  task: IBackupTask,
  connectionInput: unknown,
  actor: AuditActor,
): Promise<void> {
  const plugin = requirePlugin(deps, task.service);
  const stored = storedSettings(deps.credentials, task);
  const connection = parseConnectionSettings(plugin, withKeptSettings(plugin, stored, connectionInput));
  requireSameAccount(plugin, stored, connection);
  await checkCredentials(plugin, connection, deps.log);
  task.connection = sealConnection(deps.credentials, task.id, connection);
  if (task.connectionState === 'disconnected') {
    // Written with the change, like the disconnection: a PSA closes the "disconnected" ticket on it.
    addActivity(em, {
      organization: task.organization,
      activity: 'Task reconnected',
      status: 'succeeded',
      at: deps.now(),
      task,
      summary: RECONNECTED_SUMMARY,
    });
  }
  task.connectionState = 'connected';
  task.connectionProblem = null;
  await em.flush();
  await recordAudit(em, {
    organization: task.organization,
    activity: 'Backup task reconnected',
    service: plugin.label,
    description: `Backup task "${task.name}" authenticated again.`,
    actor,
  });
}

/** The task's stored connection settings, or undefined when they can no longer be opened. */
function storedSettings(credentials: CredentialCipher, task: IBackupTask): unknown {
  try {
    return openConnectionSettings(credentials, task);
  } catch {
    return undefined;
  }
}

/** The new connection input with the settings the plugin keeps across re-authentication filled in. */
function withKeptSettings(plugin: ServicePlugin, stored: unknown, input: unknown): unknown {
  const kept = plugin.keptOnReconnect ?? [];
  if (!kept.length || !isRecord(stored) || !isRecord(input)) return input;
  const out: Record<string, unknown> = { ...input };
  for (const name of kept) if (out[name] === undefined && stored[name] !== undefined) out[name] = stored[name];
  return out;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** New credentials for a task must reach the account it has been backing up. */
function requireSameAccount(plugin: ServicePlugin, stored: unknown, next: unknown): void {
  if (!plugin.accountOf || stored === undefined) return;
  const before = plugin.accountOf(stored);
  const after = plugin.accountOf(next);
  if (before.id === after.id) return;
  throw new ValidationError(
    {
      connection: `You signed in to ${after.label}, but this task backs up ${before.label}. Sign in to ${before.label}, or add a new backup task for ${after.label}.`,
    },
    'The credentials reach another account.',
  );
}

/** Pauses or resumes the whole task (its schedule); entities keep their own statuses. */
export async function setTaskStatus(
  em: EntityManager,
  task: IBackupTask,
  status: TaskStatus,
  actor: AuditActor,
): Promise<void> {
  if (task.status === status) return;
  task.status = status;
  await em.flush();
  await recordAudit(em, {
    organization: task.organization,
    activity: 'Backup task changed',
    service: task.service,
    description: `Backup task "${task.name}" ${status === 'paused' ? 'paused' : 'resumed'}.`,
    actor,
  });
}

/**
 * Deletes a task: it disappears from lists at once, its queued jobs are canceled and running ones
 * asked to stop; it can be restored until `purgeAfter`, when maintenance purges it and its snapshots.
 */
export async function deleteTask(
  em: EntityManager,
  deps: TaskServiceDeps,
  task: IBackupTask,
  actor: AuditActor,
): Promise<Date> {
  if (task.deletedAt && task.purgeAfter) return task.purgeAfter;
  const now = deps.now();
  task.deletedAt = now;
  task.purgeAfter = new Date(now.getTime() + TASK_GRACE_DAYS * 86_400_000);
  addActivity(em, {
    organization: task.organization,
    activity: 'Task deleted',
    status: 'succeeded',
    at: now,
    task,
    summary: `Backup task "${task.name}" deleted by ${actor.label ?? 'a user'}; it can be restored until ${task.purgeAfter.toISOString().slice(0, 16).replace('T', ' ')} UTC.`,
  });
  await em.flush();
  await cancelTaskJobs(em, task.id, now, actor.label ?? 'a user');
  await recordAudit(em, {
    organization: task.organization,
    activity: 'Backup task deleted',
    service: task.service,
    description: `Backup task "${task.name}" deleted; it can be restored until ${task.purgeAfter.toISOString()}.`,
    actor,
  });
  return task.purgeAfter;
}

export async function cancelTaskJobs(em: EntityManager, taskId: string, now: Date, by: string): Promise<void> {
  const open = await em.find(
    Job,
    { task: taskId, state: { $in: ['pending', 'in_progress'] }, kind: { $ne: 'maintenance' } },
    { fields: ['id'] },
  );
  for (const job of open) await requestCancel(em, job.id, now, by);
}

export async function restoreTask(
  em: EntityManager,
  deps: TaskServiceDeps,
  organization: IOrganization,
  id: string,
  actor: AuditActor,
): Promise<IBackupTask> {
  const task = await em.findOne(BackupTask, {
    id,
    organization,
    deletedAt: { $ne: null },
    purgeAfter: { $gt: deps.now() },
  });
  if (!task) throw new NotFoundError('No such deleted backup task (its grace period may have ended).');
  task.deletedAt = null;
  task.purgeAfter = null;
  addActivity(em, {
    organization,
    activity: 'Task restored',
    status: 'succeeded',
    at: deps.now(),
    task,
    summary: `Backup task "${task.name}" restored by ${actor.label ?? 'a user'}.`,
  });
  await em.flush();
  await recordAudit(em, {
    organization,
    activity: 'Backup task restored',
    service: task.service,
    description: `Backup task "${task.name}" restored.`,
    actor,
  });
  return task;
}
