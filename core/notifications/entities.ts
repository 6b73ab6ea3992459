// Notifications: who receives which type at an organization (recipients), the events to tell
// them about (one row per event, unique by its event key: the dedupe), and the open incidents
// that make an exception mail go out once per incident instead of once per failed run. The mail
// of a notification is a MailMessage per recipient (core/mail/entities.ts), retried there; a
// webhook delivery will be another fan-out of the same notification row.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';
import type { SummaryPayload } from './summary-entities.ts';

export const NOTIFICATION_TYPES = ['summary', 'recovery', 'exceptions', 'discovery', 'smart_alerts', 'trials'] as const;
export type NotificationType = (typeof NOTIFICATION_TYPES)[number];

export const NOTIFICATION_TYPE_LABELS: Record<NotificationType, string> = {
  summary: 'Summary report',
  recovery: 'Recovery notification',
  exceptions: 'Exceptions notification',
  discovery: 'Auto-discovery notification',
  smart_alerts: 'Smart alerts',
  trials: 'Trial accounts report',
};

export function isNotificationType(value: string): value is NotificationType {
  return (NOTIFICATION_TYPES as readonly string[]).includes(value);
}

export const NotificationRecipient = defineEntity({
  name: 'NotificationRecipient',
  tableName: 'notification_recipients',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    email: p.string().length(320),
    /** The email lower-cased: one recipient per address and organization. */
    emailKey: p.string().length(320),
    displayName: p.string().length(200),
    /** The notification types this recipient receives. */
    types: p.json<NotificationType[]>(),
    createdAt: p.datetime(),
  },
  uniques: [{ properties: ['organization', 'emailKey'] }],
});
export type INotificationRecipient = InferEntity<typeof NotificationRecipient>;

/** What a notification is about, kept as a snapshot so it still reads right after renames. */
export interface NotificationPayload {
  /** The event within the type: failed, resolved, disconnected, finished, discovered, alert … */
  event: string;
  organizationName: string;
  taskId?: string | null;
  taskName?: string | null;
  /** The item (entity) the event is about, or the items of a discovery. */
  items?: string[];
  archived?: string[];
  /** A run's job, state, label and reason. */
  jobId?: string | null;
  jobKind?: string | null;
  jobState?: string | null;
  jobLabel?: string | null;
  reason?: string | null;
  /** A path on the appliance the mail links to (joined with the public URL when sent). */
  linkPath?: string | null;
  linkLabel?: string | null;
  /** A smart alert's title and text. */
  title?: string | null;
  message?: string | null;
  /** A summary report's figures (type summary). */
  summary?: SummaryPayload;
}

export const Notification = defineEntity({
  name: 'Notification',
  tableName: 'notifications',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    type: p.enum(NOTIFICATION_TYPES),
    /** Names the event (`job:<id>`, `incident:<subject>:<n>:opened` …): unique, so it is queued once. */
    eventKey: p.string().length(300).unique(),
    payload: p.json<NotificationPayload>(),
    createdAt: p.datetime(),
    /** Set once a mail per recipient is in the outbox (the fan-out is done). */
    fannedOutAt: p.datetime().nullable().index(),
  },
});
export type INotification = InferEntity<typeof Notification>;

/**
 * One row per subject an exception can be about (`backup:<taskId>`, `connection:<taskId>`):
 * open while `openedAt` is set, with the items still failing; `sequence` numbers its incidents.
 */
export const NotificationIncident = defineEntity({
  name: 'NotificationIncident',
  tableName: 'notification_incidents',
  properties: {
    id: p.integer().primary().autoincrement(),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    subject: p.string().length(100).unique(),
    sequence: p.integer().default(0),
    openedAt: p.datetime().nullable(),
    failing: p.json<string[]>(),
  },
});
export type INotificationIncident = InferEntity<typeof NotificationIncident>;
