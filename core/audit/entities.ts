// The security audit trail: who did what to which account, from where, and whether it worked.
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';

export const AUDIT_STATUSES = ['completed', 'failed'] as const;
export type AuditStatus = (typeof AUDIT_STATUSES)[number];

export const AuditEvent = defineEntity({
  name: 'AuditEvent',
  tableName: 'audit_events',
  properties: {
    id: p.integer().primary().autoincrement(),
    at: p.datetime().onCreate(() => new Date()),
    /** The organization whose audit log shows the entry; null: appliance-level (unknown account). */
    organization: () => p.manyToOne(Organization).nullable().deleteRule('cascade'),
    activity: p.string().length(100),
    service: p.string().length(100).nullable(),
    status: p.enum(AUDIT_STATUSES),
    /** What the entry is about, as shown in the Account column (an email, an account name). */
    account: p.string().length(320).nullable(),
    performedBy: p.string().length(320).nullable(),
    performerId: p.string().length(64).nullable(),
    ip: p.string().length(64).nullable(),
    userAgent: p.string().length(400).nullable(),
    description: p.string().length(2000),
  },
  indexes: [
    { properties: ['organization', 'at'] },
    { properties: ['at'] },
    // The filters' choices (the activities and statuses entries hold) are read a value at a time
    // from these (core/event-log.ts), not by reading every entry; a page filtered by one reads its
    // newest entries in order.
    { properties: ['activity', 'at'] },
    { properties: ['status', 'at'] },
  ],
});
export type IAuditEvent = InferEntity<typeof AuditEvent>;
