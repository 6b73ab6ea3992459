// Exceptions are mailed once per incident, not once per failed run: an incident about a subject
// (`backup:<taskId>`, `connection:<taskId>`) opens at the first failure, collects the members
// (entities) still failing, and resolves when the last of them succeeds again, with a
// "resolved" notification. Both changes run in the caller's transaction (the job's end).
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { NotificationPayload } from './entities.ts';
import { NotificationIncident } from './entities.ts';
import { queueNotification } from './queue.ts';

export interface IncidentEvent {
  organizationId: string;
  subject: string;
  /** What failed or recovered within the subject (an entity id). */
  member: string;
  at: Date;
  payload: NotificationPayload;
}

async function incidentRow(tx: EntityManager, organizationId: string, subject: string) {
  await (tx as SqlEntityManager)
    .createQueryBuilder(NotificationIncident)
    .insert({ organization: organizationId, subject, sequence: 0, openedAt: null, failing: [] } as never)
    .onConflict('subject')
    .ignore()
    .execute();
  return tx.findOneOrFail(NotificationIncident, { subject }, { refresh: true });
}

/** A member failed: opens the incident (and queues its exceptions mail) unless one is open. */
export async function incidentFailed(tx: EntityManager, event: IncidentEvent): Promise<void> {
  const row = await incidentRow(tx, event.organizationId, event.subject);
  if (row.openedAt) {
    if (!row.failing.includes(event.member)) {
      await tx.nativeUpdate(NotificationIncident, { id: row.id }, { failing: [...row.failing, event.member] });
    }
    return;
  }
  const sequence = row.sequence + 1;
  const opened = await tx.nativeUpdate(
    NotificationIncident,
    { id: row.id, sequence: row.sequence, openedAt: null },
    { sequence, openedAt: event.at, failing: [event.member] },
  );
  if (opened !== 1) return;
  await queueNotification(tx, {
    organizationId: event.organizationId,
    type: 'exceptions',
    eventKey: `incident:${event.subject}:${sequence}:opened`,
    payload: event.payload,
    at: event.at,
  });
}

/** A member succeeded: when it was the last one failing, resolves the incident with a mail. */
export async function incidentCleared(tx: EntityManager, event: IncidentEvent): Promise<void> {
  const row = await tx.findOne(NotificationIncident, { subject: event.subject }, { refresh: true });
  if (!row?.openedAt || !row.failing.includes(event.member)) return;
  const failing = row.failing.filter((m) => m !== event.member);
  if (failing.length > 0) {
    await tx.nativeUpdate(NotificationIncident, { id: row.id }, { failing });
    return;
  }
  const resolved = await tx.nativeUpdate(
    NotificationIncident,
    { id: row.id, sequence: row.sequence, openedAt: { $ne: null } },
    { openedAt: null, failing: [] },
  );
  if (resolved !== 1) return;
  await queueNotification(tx, {
    organizationId: event.organizationId,
    type: 'exceptions',
    eventKey: `incident:${event.subject}:${row.sequence}:resolved`,
    payload: event.payload,
    at: event.at,
  });
}
