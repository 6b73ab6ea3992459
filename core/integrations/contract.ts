// The contract of an integration kind: a kind owns its settings (form fields, validation), its
// secret, and how a batch of events reaches its system; the rest (the page, the API, sealing the
// secret, the cursor, retries, Failing and its notification) is shared. An event-feed kind (SIEM)
// sends the System Activity and Security audit rows; a PSA or monitoring kind will add another
// feed beside it. The list of kinds is kinds.ts.
import type { z } from 'zod';
import type { IntegrationEvent } from './event-feed.ts';

export interface IntegrationField {
  name: string;
  label: string;
  type: 'url' | 'text' | 'checkbox' | 'textarea' | 'select';
  options?: { value: string; label: string }[];
  hint?: string;
  placeholder?: string;
  optional?: boolean;
}

/** Where and how to send: the kind's parsed settings and its unsealed secret. */
export interface SendTarget<S> {
  integrationId: string;
  settings: S;
  secret: string;
  allowPrivate: boolean;
}

/** A batch the collector took: done, or (indexer acknowledgment) taken with an id to confirm later. */
export type SendOutcome = { acknowledged: true } | { acknowledged: false; ackId: number };

export interface IntegrationKind<S = Record<string, unknown>> {
  id: string;
  label: string;
  category: 'SIEM';
  /** One sentence on the tile when it is not set up. */
  description: string;
  fields: IntegrationField[];
  /** The secret's field, if the kind has one: written, never shown again; blank on edit keeps it. */
  secret?: { name: string; label: string; hint?: string };
  /** The address the kind connects to, checked by the webhooks' SSRF rule, and the field to blame. */
  address(settings: S): { field: string; url: string };
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
