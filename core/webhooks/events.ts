// Queueing a webhook event: one row in `webhook_events`, written with the change that caused it
// (the notification's transaction, the transaction that ends a job), unique by its event key.
// The webhook sender (sender.ts) fans it out to the subscribed endpoints later.
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { WebhookEventType } from './entities.ts';
import { WebhookEvent } from './entities.ts';

export interface NewWebhookEvent {
  organizationId: string;
  type: WebhookEventType;
  eventKey: string;
  payload: object;
  at: Date;
}

function rowOf(input: NewWebhookEvent) {
  return {
    organization: input.organizationId,
    type: input.type,
    // Typed, so a notification's key and a job's never meet.
    eventKey: `${input.type}:${input.eventKey}`.slice(0, 300),
    payload: input.payload,
    createdAt: input.at,
    fannedOutAt: null,
  };
}

/** Inserts the event in the caller's transaction unless its key exists. */
export async function queueWebhookEvent(em: EntityManager, input: NewWebhookEvent): Promise<void> {
  await (em as SqlEntityManager)
    .createQueryBuilder(WebhookEvent)
    .insert(rowOf(input) as never)
    .onConflict('eventKey')
    .ignore()
    .execute();
}

/** Adds the event to the caller's next flush (for keys that cannot repeat). */
export function addWebhookEvent(em: EntityManager, input: NewWebhookEvent): void {
  em.create(WebhookEvent, rowOf(input) as never);
}
