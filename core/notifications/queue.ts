// Queueing a notification: one row in `notifications`, written by the caller's transaction (or
// flush) together with the change that caused it, so an event and its notification exist
// together or not at all. The event key is unique: an event queued twice (a retried run, two
// processes) is one notification. The sender (sender.ts) fans it out to the recipients later.
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { addWebhookEvent, queueWebhookEvent } from '../webhooks/events.ts';
import { Notification, type NotificationPayload, type NotificationType } from './entities.ts';

export interface NewNotification {
  organizationId: string;
  type: NotificationType;
  /** Unique per event: the same key queued again is ignored. */
  eventKey: string;
  payload: NotificationPayload;
  at: Date;
}

function rowOf(input: NewNotification) {
  return {
    organization: input.organizationId,
    type: input.type,
    eventKey: input.eventKey.slice(0, 300),
    payload: input.payload,
    createdAt: input.at,
    fannedOutAt: null,
  };
}

/** Inserts the notification now, in the caller's transaction, unless its event key exists. */
export async function queueNotification(em: EntityManager, input: NewNotification): Promise<void> {
  await (em as SqlEntityManager)
    .createQueryBuilder(Notification)
    .insert(rowOf(input) as never)
    .onConflict('eventKey')
    .ignore()
    .execute();
  await queueWebhookEvent(em, input); // webhooks: another fan-out of the same event, same transaction
}

/**
 * Adds the notification to the EntityManager, written by the caller's next flush with its other
 * changes. For events whose key cannot repeat (it names the moment of a change made once).
 */
export function addNotification(em: EntityManager, input: NewNotification): void {
  em.create(Notification, rowOf(input) as never);
  addWebhookEvent(em, input);
}
