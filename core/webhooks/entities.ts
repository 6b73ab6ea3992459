// Webhooks: HTTPS endpoints of an organization subscribed to event types, the events to deliver
// (queued in the transaction of the change that caused them, like a notification), and one
// delivery per (event, endpoint) with its retry state and the receiver's last answer.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';
import { NOTIFICATION_TYPE_LABELS, NOTIFICATION_TYPES } from '../notifications/entities.ts';

/** What an endpoint can subscribe to: the notification types and the end of any job. */
export const WEBHOOK_EVENT_TYPES = [...NOTIFICATION_TYPES, 'job.succeeded', 'job.failed'] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export const WEBHOOK_EVENT_LABELS: Record<WebhookEventType, string> = {
  ...NOTIFICATION_TYPE_LABELS,
  'job.succeeded': 'Job succeeded',
  'job.failed': 'Job failed',
};

export const WebhookEndpoint = defineEntity({
  name: 'WebhookEndpoint',
  tableName: 'webhook_endpoints',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    url: p.string().length(2000),
    description: p.string().length(200),
    events: p.json<WebhookEventType[]>(),
    /** The signing secret, sealed with the credential cipher (context: the endpoint's id). */
    secretSealed: p.text(),
    createdAt: p.datetime(),
  },
});
export type IWebhookEndpoint = InferEntity<typeof WebhookEndpoint>;

/** An event waiting to be fanned out to the subscribed endpoints. */
export const WebhookEvent = defineEntity({
  name: 'WebhookEvent',
  tableName: 'webhook_events',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    type: p.string().length(40),
    /** Unique: an event queued twice (a retried run) is delivered once per endpoint. */
    eventKey: p.string().length(300).unique(),
    payload: p.json<Record<string, unknown>>(),
    createdAt: p.datetime(),
    fannedOutAt: p.datetime().nullable().index(),
  },
});
export type IWebhookEvent = InferEntity<typeof WebhookEvent>;

export const WEBHOOK_DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type WebhookDeliveryStatus = (typeof WEBHOOK_DELIVERY_STATUSES)[number];

export const WebhookDelivery = defineEntity({
  name: 'WebhookDelivery',
  tableName: 'webhook_deliveries',
  properties: {
    id: p.integer().primary().autoincrement(),
    endpoint: () => p.manyToOne(WebhookEndpoint).deleteRule('cascade'),
    eventKey: p.string().length(300),
    type: p.string().length(40),
    /** The JSON body, fixed at fan-out so every attempt sends the same bytes. */
    body: p.text(),
    createdAt: p.datetime(),
    status: p.enum(WEBHOOK_DELIVERY_STATUSES),
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime().nullable().index(),
    deliveredAt: p.datetime().nullable(),
    /** The receiver's last HTTP status (null: no answer) and the start of its body or the error. */
    lastStatus: p.integer().nullable(),
    lastResponse: p.string().length(500).nullable(),
    lastAttemptAt: p.datetime().nullable(),
  },
  uniques: [{ properties: ['endpoint', 'eventKey'] }],
});
export type IWebhookDelivery = InferEntity<typeof WebhookDelivery>;
