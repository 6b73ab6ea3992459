// A task's connection to its service: the plugin's settings sealed at rest under a context that
// names the task (a ciphertext copied to another task does not open), and opening a connection.
import type { EntityManager } from '@mikro-orm/core';
import { addActivity } from '../activity/activity-service.ts';
import { AppError, fieldErrorsFrom, ValidationError } from '../errors.ts';
import type { Logger } from '../logging.ts';
import { addNotification } from '../notifications/queue.ts';
import type { ServiceConnection, ServicePlugin } from '../plugins/service.ts';
import { ServiceAuthError } from '../plugins/service.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import type { IBackupTask } from './entities.ts';

export function connectionContext(taskId: string): string {
  return `backup-task:${taskId}`;
}

export class UnknownServiceError extends AppError {
  constructor(kind: string) {
    super('unknown_service', `No service plugin "${kind}" is installed on this appliance.`, 422);
    this.name = 'UnknownServiceError';
  }
}

/** Validates connection settings with the plugin's schema; messages per field. */
export function parseConnectionSettings(plugin: ServicePlugin, input: unknown): unknown {
  const parsed = plugin.settings.safeParse(input);
  if (!parsed.success) throw new ValidationError(fieldErrorsFrom(parsed.error.issues));
  return parsed.data;
}

export function sealConnection(credentials: CredentialCipher, taskId: string, settings: unknown): string {
  return credentials.encrypt(JSON.stringify(settings), connectionContext(taskId));
}

export function openConnectionSettings(
  credentials: CredentialCipher,
  task: Pick<IBackupTask, 'id' | 'connection'>,
): unknown {
  return JSON.parse(credentials.decrypt(task.connection, connectionContext(task.id)));
}

/**
 * Connects with the task's stored settings. A refusal of the credentials marks the task
 * Disconnected (with the service's reason) before rethrowing.
 */
export async function connectTask(
  em: EntityManager,
  task: IBackupTask,
  plugin: ServicePlugin,
  credentials: CredentialCipher,
  signal: AbortSignal,
  log: Logger,
  now: Date = new Date(),
): Promise<ServiceConnection> {
  try {
    return await plugin.connect(openConnectionSettings(credentials, task), { signal, log });
  } catch (err) {
    if (err instanceof ServiceAuthError) await markConnection(em, task, false, err.message, now);
    throw err;
  }
}

/** A disconnected task's credentials work again: what System Activity says (a PSA closes its ticket on it). */
export const RECONNECTED_SUMMARY = 'The task’s credentials work again; backups resume.';

/** Records the connection state; each change (Disconnected, connected again) is also a System Activity event. */
export async function markConnection(
  em: EntityManager,
  task: IBackupTask,
  connected: boolean,
  problem: string | null,
  now: Date = new Date(),
): Promise<void> {
  const lost = !connected && task.connectionState === 'connected';
  const regained = connected && task.connectionState === 'disconnected';
  task.connectionState = connected ? 'connected' : 'disconnected';
  task.connectionProblem = connected ? null : (problem?.slice(0, 1000) ?? 'The service refused the connection.');
  if (lost) {
    addActivity(em, {
      organization: task.organization,
      activity: 'Task disconnected',
      status: 'failed',
      at: now,
      task,
      summary: `The service refused the task's credentials: ${task.connectionProblem} Backups stop until the task is authenticated again.`,
    });
  }
  if (regained) {
    addActivity(em, {
      organization: task.organization,
      activity: 'Task reconnected',
      status: 'succeeded',
      at: now,
      task,
      summary: RECONNECTED_SUMMARY,
    });
  }
  // The exceptions mail of the incident, written by the same flush as the change it reports.
  if (lost || regained) {
    addNotification(em, {
      organizationId: task.organization.id,
      type: 'exceptions',
      eventKey: `connection:${task.id}:${now.getTime()}:${lost ? 'lost' : 'regained'}`,
      payload: {
        event: lost ? 'disconnected' : 'reconnected',
        organizationName: task.organization.name ?? '',
        taskId: task.id,
        taskName: task.name,
        reason: lost ? task.connectionProblem : null,
        linkPath: `/tasks/${task.id}`,
        linkLabel: 'Open the task',
      },
      at: now,
    });
  }
  await em.flush();
}
