// Integrations: an organization's connections that send its events to other systems (a SIEM
// today; PSA tickets and monitoring services are further kinds). One row per integration: its
// kind's settings (plain) and secret (sealed with the credential cipher), which events it sends,
// the durable cursor of the event logs it has delivered up to, and its delivery state.
import { randomUUID } from 'node:crypto';
import { defineEntity, type InferEntity, p } from '@mikro-orm/core';
import { Organization } from '../identity/entities.ts';

/** What an event-feed integration sends (docs/INTEGRATIONS.md). */
export const INTEGRATION_STREAMS = ['activity', 'audit', 'own'] as const;
export type IntegrationStream = (typeof INTEGRATION_STREAMS)[number];

/**
 * How far an integration has delivered: the id of the last System Activity and Security audit
 * row sent. Both logs' ids only grow in commit order (SQLite serializes writers), so "after this
 * id" is exactly what has not been sent yet.
 */
export interface IntegrationCursor {
  activity: number;
  audit: number;
}

/** A batch the collector took but has not acknowledged as indexed yet (HEC indexer acknowledgment). */
export interface PendingAck {
  ackId: number;
  /** The cursor to move to once the batch is acknowledged. */
  through: IntegrationCursor;
  sentAt: string;
}

export const Integration = defineEntity({
  name: 'Integration',
  tableName: 'integrations',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    organization: () => p.manyToOne(Organization).deleteRule('cascade'),
    /** The kind's id (`splunk`, `syslog` …): which module sends. */
    kind: p.string().length(40),
    /** Off: nothing is sent and the cursor waits; switched on again, it continues from there. */
    enabled: p.boolean().default(true),
    /** The kind's settings without its secret. */
    settings: p.json<Record<string, unknown>>(),
    /** The kind's secret (a token, a key), sealed with the credential cipher (context: `integration:<id>`). */
    secretSealed: p.text().nullable(),
    streams: p.json<IntegrationStream[]>(),
    cursor: p.json<IntegrationCursor>(),
    pendingAck: p.json<PendingAck>().nullable(),
    /** Bumped by every claim: a sender writes its outcome only if nobody claimed after it. */
    version: p.integer().default(0),
    leaseUntil: p.datetime().nullable(),
    /** Consecutive failed attempts (the retry delay grows with them) and when to try again. */
    attempts: p.integer().default(0),
    nextAttemptAt: p.datetime().nullable(),
    /** Set at the first failure of a failure period, cleared by the next delivery. */
    failingSince: p.datetime().nullable(),
    lastError: p.string().length(1000).nullable(),
    lastDeliveredAt: p.datetime().nullable(),
    deliveredCount: p.integer().default(0),
    /**
     * A PSA's last look at the issued invoices it may have paid (psa-invoices.ts): kept here, not in
     * a node's memory, so the hourly check is hourly across the nodes that take turns sending.
     */
    invoicesCheckedAt: p.datetime().nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});
export type IIntegration = InferEntity<typeof Integration>;

/**
 * A PSA integration's company for one customer account: where that account's tickets are
 * opened. Picked from the PSA's own list (its id and the name it had then).
 */
export const IntegrationCompany = defineEntity({
  name: 'IntegrationCompany',
  tableName: 'integration_companies',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    integration: () => p.manyToOne(Integration).deleteRule('cascade'),
    account: () => p.manyToOne(Organization).deleteRule('cascade'),
    companyId: p.string().length(100),
    companyName: p.string().length(300),
    updatedAt: p.datetime(),
  },
  uniques: [{ properties: ['integration', 'account'] }],
});
export type IIntegrationCompany = InferEntity<typeof IntegrationCompany>;

/**
 * A PSA integration's ticket for one task of one account: opened by its first failure, noted by
 * the next ones, closed when every item that failed has succeeded again. One row per task, kept
 * after closing (a later failure opens a new ticket in it), so `lastEventId` — the last System
 * Activity row acted on — makes a batch sent again after a failure or a restart act only once.
 */
export const IntegrationTicket = defineEntity({
  name: 'IntegrationTicket',
  tableName: 'integration_tickets',
  properties: {
    id: p
      .string()
      .primary()
      .length(36)
      .onCreate(() => randomUUID()),
    integration: () => p.manyToOne(Integration).deleteRule('cascade'),
    account: () => p.manyToOne(Organization).deleteRule('cascade'),
    taskId: p.string().length(36),
    /** The PSA's ticket id, null while no ticket is open. */
    ticketId: p.string().length(100).nullable(),
    companyId: p.string().length(100).nullable(),
    /** The items (entities) failing since the ticket was opened; "" for the task's connection. */
    failing: p.json<string[]>(),
    lastEventId: p.integer(),
    /**
     * Set just before asking the PSA to open a ticket, cleared with its answer: still set, the
     * answer was lost (a broken connection, a restart), so the PSA is searched for that ticket
     * before another is opened.
     */
    openingSince: p.datetime().nullable(),
    /**
     * The marker of a note being posted (it is in the note's text), cleared with the PSA's answer:
     * still set, the answer was lost, so the ticket's notes are searched for it before posting again.
     */
    noting: p.string().length(100).nullable(),
    openedAt: p.datetime().nullable(),
    closedAt: p.datetime().nullable(),
    updatedAt: p.datetime(),
  },
  uniques: [{ properties: ['integration', 'account', 'taskId'] }],
});
export type IIntegrationTicket = InferEntity<typeof IntegrationTicket>;
