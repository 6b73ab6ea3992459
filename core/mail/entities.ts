// Every message the appliance sends. With no SMTP server configured it stays here as the
// outbox the root administrator reads, so a fresh appliance can still confirm and reset.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';
import { Notification } from '../notifications/entities.ts';

export const MAIL_STATUSES = ['outbox', 'sent', 'failed'] as const;
export type MailStatus = (typeof MAIL_STATUSES)[number];

export const MailMessage = defineEntity({
  name: 'MailMessage',
  tableName: 'mail_messages',
  properties: {
    id: p.integer().primary().autoincrement(),
    createdAt: p
      .datetime()
      .onCreate(() => new Date())
      .index(),
    to: p.string().length(320),
    subject: p.string().length(300),
    text: p.text(),
    status: p.enum(MAIL_STATUSES),
    sentAt: p.datetime().nullable(),
    error: p.string().length(1000).nullable(),
    /** The HTML part, for mail that has one (notifications). */
    html: p.text().nullable(),
    /** Notification mail: the organization and the notification; every queued mail: the retry state. */
    organization: () => p.manyToOne(Organization).nullable().deleteRule('cascade'),
    notification: () => p.manyToOne(Notification).nullable().deleteRule('cascade'),
    attempts: p.integer().default(0),
    /** When the sender may try (again); null once sent or failed. Identity mail (invitations, resets) is retried too. */
    nextAttemptAt: p.datetime().nullable().index(),
  },
  uniques: [{ properties: ['notification', 'to'] }],
});
export type IMailMessage = InferEntity<typeof MailMessage>;

/**
 * A file a queued mail carries (the portal's usage report ZIP): stored beside the message so the
 * sender, which may retry for hours, attaches the same bytes each time; deleted with the message.
 */
export const MailFile = defineEntity({
  name: 'MailFile',
  tableName: 'mail_files',
  properties: {
    id: p.integer().primary().autoincrement(),
    mail: () => p.manyToOne(MailMessage).index().deleteRule('cascade'),
    fileName: p.string().length(200),
    contentType: p.string().length(100),
    content: p.blob().lazy(),
  },
});
export type IMailFile = InferEntity<typeof MailFile>;
