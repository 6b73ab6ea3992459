// Discovery: asks the service which entities the account has now and brings the task's entity
// list up to date. New entities start Scheduled when the task auto-activates them, otherwise Not
// Active; entities the service no longer lists become Archived (kept for the task's retention of
// archived backups); an archived entity that reappears is active again. Entities the service
// marks unavailable (a suspended member) become Unavailable with its reason: not activated, not
// backed up, not failed; they return to their earlier status when listed as available again.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { addActivity } from '../activity/activity-service.ts';
import type { Logger } from '../logging.ts';
import { addNotification } from '../notifications/queue.ts';
import type { ServicePlugin } from '../plugins/service.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { connectTask, markConnection } from './connection.ts';
import { type IBackupTask, type ITaskEntity, TaskEntity } from './entities.ts';

export interface DiscoveryReport {
  found: number;
  added: number;
  archived: number;
  returned: number;
  /** Entities that became active in this discovery (new with auto-activate, or back from the archive). */
  activated: ITaskEntity[];
}

export async function discoverEntities(
  em: EntityManager,
  task: IBackupTask,
  plugin: ServicePlugin,
  credentials: CredentialCipher,
  options: { signal: AbortSignal; log: Logger; now: Date },
): Promise<DiscoveryReport> {
  const connection = await connectTask(em, task, plugin, credentials, options.signal, options.log, options.now);
  const report: DiscoveryReport = { found: 0, added: 0, archived: 0, returned: 0, activated: [] };
  const returned = new Set<ITaskEntity>();
  const unavailable: ITaskEntity[] = [];
  const available: ITaskEntity[] = [];
  const created: ITaskEntity[] = [];
  try {
    const known = new Map((await em.find(TaskEntity, { task })).map((e) => [e.externalId, e]));
    const seen = new Set<string>();
    for await (const found of connection.discover(options.signal)) {
      if (seen.has(found.externalId)) continue;
      seen.add(found.externalId);
      report.found++;
      const entity = known.get(found.externalId);
      const reason = found.unavailable
        ? found.unavailable.reason.slice(0, 1000) || 'Unavailable at the service.'
        : null;
      if (!entity) {
        const status = task.autoActivate ? 'scheduled' : 'not_active';
        const newEntity = em.create(TaskEntity, {
          task,
          externalId: found.externalId.slice(0, 500),
          name: found.name.slice(0, 500),
          kind: found.kind.slice(0, 100),
          status: reason ? 'unavailable' : status,
          unavailableReason: reason,
          statusBeforeUnavailable: reason ? status : null,
          pluginState: null,
          createdAt: options.now,
        });
        report.added++;
        created.push(newEntity);
        if (reason) unavailable.push(newEntity);
        else if (status === 'scheduled') report.activated.push(newEntity);
        continue;
      }
      entity.name = found.name.slice(0, 500);
      entity.kind = found.kind.slice(0, 100);
      if (reason) {
        if (entity.status !== 'unavailable') {
          // Archived ones come back as active (as they would when readable); a run cut short is retried.
          entity.statusBeforeUnavailable =
            entity.status === 'archived' || entity.status === 'in_process' ? 'scheduled' : entity.status;
          entity.status = 'unavailable';
          entity.archivedAt = null;
          unavailable.push(entity);
        }
        entity.unavailableReason = reason;
        continue;
      }
      if (entity.status === 'unavailable') {
        entity.status = entity.statusBeforeUnavailable ?? 'scheduled';
        entity.statusBeforeUnavailable = null;
        entity.unavailableReason = null;
        available.push(entity);
        continue;
      }
      if (entity.status === 'archived' && !entity.deletedAt) {
        entity.status = 'scheduled';
        entity.archivedAt = null;
        report.returned++;
        report.activated.push(entity);
        returned.add(entity);
      }
    }
    const archived: ITaskEntity[] = [];
    for (const entity of known.values()) {
      if (seen.has(entity.externalId) || entity.status === 'archived') continue;
      entity.status = 'archived';
      entity.statusBeforeUnavailable = null;
      entity.unavailableReason = null;
      entity.archivedAt = options.now;
      report.archived++;
      archived.push(entity);
    }
    // The System Activity events, written with the entity changes in one flush.
    const event = { organization: task.organization, at: options.now, task };
    for (const entity of report.activated) {
      addActivity(em, {
        ...event,
        activity: 'Backup activated',
        status: 'succeeded',
        entity,
        summary: returned.has(entity)
          ? `${entity.name} is listed by the service again: its backups resume.`
          : `${entity.name} was discovered and activated automatically.`,
      });
    }
    for (const entity of archived) {
      const kept = task.archivedRetentionDays
        ? `its backups are kept for ${task.archivedRetentionDays} days`
        : 'its backups are kept';
      addActivity(em, {
        ...event,
        activity: 'Item archived',
        status: 'warning',
        entity,
        summary: `${entity.name} is no longer listed by the service and was archived; ${kept}.`,
      });
    }
    for (const entity of unavailable) {
      addActivity(em, {
        ...event,
        activity: 'Item unavailable',
        status: 'warning',
        entity,
        summary: `${entity.name} cannot be read at the service (${entity.unavailableReason}); it is not backed up until it can, and its earlier backups stay restorable.`,
      });
    }
    for (const entity of available) {
      addActivity(em, {
        ...event,
        activity: 'Item available again',
        status: 'succeeded',
        entity,
        summary: `${entity.name} can be read at the service again; it is back to ${entity.status.replace('_', ' ')}.`,
      });
    }
    // The auto-discovery mail, in the same flush; not for a task's first discovery, which finds everything.
    const news = [...created.map((e) => e.name), ...[...returned].map((e) => e.name)];
    if (task.discoveredAt && (news.length > 0 || archived.length > 0)) {
      addNotification(em, {
        organizationId: task.organization.id,
        type: 'discovery',
        eventKey: `discovery:${task.id}:${options.now.getTime()}:${randomUUID()}`,
        payload: {
          event: 'discovered',
          organizationName: task.organization.name ?? '',
          taskId: task.id,
          taskName: task.name,
          items: news,
          archived: archived.map((e) => e.name),
          linkPath: `/tasks/${task.id}`,
          linkLabel: 'Open the task',
        },
        at: options.now,
      });
    }
    task.discoveredAt = options.now;
    await em.flush();
    if (task.connectionState !== 'connected') await markConnection(em, task, true, null, options.now);
  } finally {
    await connection.close?.();
  }
  return report;
}
