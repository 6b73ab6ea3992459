// Every message the appliance sends. With no SMTP server configured it stays here as the
// outbox the root administrator reads, so a fresh appliance can still confirm and reset.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';

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
  },
});
export type IMailMessage = InferEntity<typeof MailMessage>;
