// The contract of an integration kind: a kind owns its settings (form fields, validation), its
// secret, and how a batch of events reaches its system; the rest (the page, the API, sealing the
// secret, the cursor, retries, Failing and its notification) is shared. Every kind reads the same
// feed (System Activity and Security audit rows): a SIEM sends them all, a PSA turns backup
// failures into tickets (psa-tickets.ts), Backup Radar mails backup results. The list of kinds
// is kinds.ts.
import type { EntityManager } from '@mikro-orm/core';
import type { z } from 'zod';
import type { IntegrationStream } from './entities.ts';
import type { IntegrationEvent } from './event-feed.ts';
import type { PsaClient } from './psa.ts';

export interface IntegrationField {
  name: string;
  label: string;
  type: 'url' | 'text' | 'checkbox' | 'textarea' | 'select';
  options?: { value: string; label: string }[];
  hint?: string;
  placeholder?: string;
  optional?: boolean;
  /** A checkbox ticked on a new integration's form. */
  defaultOn?: boolean;
}

/** Where and how to send: the kind's parsed settings and its unsealed secret. */
export interface SendTarget<S> {
  integrationId: string;
  settings: S;
  secret: string;
  allowPrivate: boolean;
  /** The integration's organization (a PSA maps its accounts, Backup Radar queues mail for it). */
  organizationId: string;
  /** For kinds that remember what they did (a PSA's tickets) or queue mail: written before the cursor moves. */
  em: EntityManager;
  now: Date;
}

/**
 * What a PSA's API tells about the invoices the appliance issued (docs/BILLING.md "PSA"): the
 * MSP records an issued invoice in its PSA with the appliance's invoice number as the reference,
 * and the integration reads back whether the PSA has it paid.
 */
export interface PsaInvoiceReader {
  /** The PSA's invoice of this company whose reference is the appliance invoice's number, or null. */
  findInvoice(companyId: string, reference: string): Promise<string | null>;
  /** Whether the PSA has that invoice paid in full (nothing owed on it, not voided). */
  isPaid(psaInvoiceId: string): Promise<boolean>;
}

/** A batch the collector took: done, or (indexer acknowledgment) taken with an id to confirm later. */
export type SendOutcome = { acknowledged: true } | { acknowledged: false; ackId: number };

export interface IntegrationKind<S = Record<string, unknown>> {
  id: string;
  label: string;
  category: 'SIEM' | 'PSA' | 'Monitoring';
  /** One sentence on the tile when it is not set up. */
  description: string;
  fields: IntegrationField[];
  /** The secret's field, if the kind has one: written, never shown again; blank on edit keeps it. */
  secret?: { name: string; label: string; hint?: string };
  /** The address the kind connects to, checked by the webhooks' SSRF rule, and the field to blame (none: it mails). */
  address?(settings: S): { field: string; url: string };
  /** The streams it always reads, when they are not the user's choice (a PSA: the activity). */
  fixedStreams?: IntegrationStream[];
  /** A PSA: its client (companies for the mapping, tickets). */
  psa?(target: SendTarget<S>): PsaClient;
  /** A PSA whose API reports invoices paid: the integration marks the issued ones paid (psa-invoices.ts). */
  invoices?(target: SendTarget<S>): PsaInvoiceReader;
  /** The integration page's sentence on invoices: how to record them in the PSA, what its API cannot do. */
  invoicesHelp?: string;
  /** "Send test event" for a kind whose events are not sent as such (a PSA checks its credentials). */
  test?(target: SendTarget<S>): Promise<void>;
  /** Validates the settings (field messages keyed by field name). */
  schema: z.ZodType<S, unknown>;
  /** Where it sends, for the tile (no secret). */
  target(settings: S): string;
  /** Sends a batch; throws IntegrationSendError with a reason a person can act on. */
  send(target: SendTarget<S>, events: IntegrationEvent[]): Promise<SendOutcome>;
  /** Asks whether an acknowledged-later batch is indexed (true), not yet (false). */
  checkAck?(target: SendTarget<S>, ackId: number): Promise<boolean>;
}

/** A refusal or an unreachable collector, with the reason shown on the tile and in the mail. */
export class IntegrationSendError extends Error {}
