// An organization's integrations: add / edit / remove (validated by the kind's schema, the
// collector's address by the webhooks' SSRF rule), the secret sealed with the credential cipher
// and never returned, each change in the Security audit. A new integration starts its cursor at
// the newest log rows: it sends what happens from then on.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { type AuditActor, recordAudit } from '../audit/audit-service.ts';
import { fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import { NotificationIncident } from '../notifications/entities.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { checkWebhookTarget, WebhookTargetError } from '../webhooks/url-guard.ts';
import type { IntegrationKind } from './contract.ts';
import { type IIntegration, INTEGRATION_STREAMS, Integration, type IntegrationStream } from './entities.ts';
import { currentCursor } from './event-feed.ts';
import { integrationKind } from './kinds.ts';

export interface IntegrationInput {
  kind: string;
  enabled?: boolean;
  streams: readonly string[];
  settings: Record<string, unknown>;
  /** Required when adding; left out or blank when editing keeps the stored one. */
  secret?: string | undefined;
}

export type IntegrationState = 'active' | 'failing' | 'off';

export function integrationState(i: IIntegration): IntegrationState {
  if (!i.enabled) return 'off';
  return i.failingSince ? 'failing' : 'active';
}

const secretContext = (id: string) => `integration:${id}`;

/** The incident subject of an integration's failures (core/notifications/incidents.ts). */
export const incidentSubject = (id: string) => `integration:${id}`;

/** The streams an organization of this kind can send ("own" events only at a portal). */
export function streamsFor(org: IOrganization): IntegrationStream[] {
  return org.kind === 'customer' ? ['activity', 'audit'] : [...INTEGRATION_STREAMS];
}

interface Parsed {
  kind: IntegrationKind;
  settings: Record<string, unknown>;
  streams: IntegrationStream[];
  secret: string | undefined;
}

async function parse(
  org: IOrganization,
  input: IntegrationInput,
  adding: boolean,
  allowPrivate: boolean,
): Promise<Parsed> {
  const kind = integrationKind(input.kind);
  if (!kind) throw new ValidationError({ kind: 'Choose an integration.' });
  const parsed = kind.schema.safeParse(input.settings);
  const fields = parsed.success ? {} : fieldErrorsFrom(parsed.error.issues);
  if (parsed.success && kind.address) {
    const { field, url } = kind.address(parsed.data as never);
    try {
      await checkWebhookTarget(url, allowPrivate);
    } catch (err) {
      if (!(err instanceof WebhookTargetError)) throw err;
      // The webhooks' sentences, with this kind's example and wording.
      const example = kind.fields.find((f) => f.name === field)?.placeholder ?? 'https://collector.example.com';
      fields[field] = err.message
        .replace('webhooks go to public addresses only', 'integrations send to public addresses only')
        .replace('https://hooks.example.com/holdfast', example);
    }
  }
  const offered = streamsFor(org);
  const streams = kind.fixedStreams ?? offered.filter((s) => input.streams.includes(s));
  if (streams.length === 0) fields.streams = 'Choose at least one kind of event to send.';
  const secret = (input.secret ?? '').trim();
  if (kind.secret && adding && !secret) fields[kind.secret.name] = `Enter the ${kind.secret.label}.`;
  if (kind.secret && secret.length > 1000) fields[kind.secret.name] = 'Use at most 1000 characters.';
  // A line break or control character would break the request header it is sent in.
  if (kind.secret && [...secret].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f)) {
    fields[kind.secret.name] = `The ${kind.secret.label} cannot contain line breaks or control characters.`;
  }
  if (Object.keys(fields).length > 0 || !parsed.success) throw new ValidationError(fields);
  return {
    kind,
    settings: parsed.data as Record<string, unknown>,
    streams,
    secret: kind.secret && secret ? secret : undefined,
  };
}

export async function listIntegrations(em: EntityManager, org: IOrganization): Promise<IIntegration[]> {
  return em.find(Integration, { organization: org.id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

/** One integration of `org`; another organization's reads as missing. */
export async function findIntegration(em: EntityManager, org: IOrganization, id: string): Promise<IIntegration> {
  const found = id ? await em.findOne(Integration, { id, organization: org.id }) : null;
  if (!found) throw new NotFoundError('No such integration.');
  return found;
}

export interface IntegrationOptions {
  allowPrivate: boolean;
}

function described(kind: IntegrationKind, settings: Record<string, unknown>) {
  return `${kind.label} integration to ${kind.target(settings as never)}`;
}

export async function createIntegration(
  em: EntityManager,
  cipher: CredentialCipher,
  org: IOrganization,
  input: IntegrationInput,
  options: IntegrationOptions,
  actor: AuditActor,
  now: Date,
): Promise<IIntegration> {
  const data = await parse(org, input, true, options.allowPrivate);
  const id = randomUUID();
  const integration = em.create(Integration, {
    id,
    organization: org,
    kind: data.kind.id,
    enabled: input.enabled ?? true,
    settings: data.settings,
    secretSealed: data.secret ? cipher.encrypt(data.secret, secretContext(id)) : null,
    streams: data.streams,
    cursor: await currentCursor(em),
    pendingAck: null,
    version: 0,
    leaseUntil: null,
    attempts: 0,
    nextAttemptAt: null,
    failingSince: null,
    lastError: null,
    lastDeliveredAt: null,
    deliveredCount: 0,
    createdAt: now,
    updatedAt: now,
  });
  await em.flush();
  await recordAudit(em, {
    organization: org,
    activity: 'Integration added',
    account: org.name,
    description: `${described(data.kind, data.settings)} added (sends: ${data.streams.join(', ')})`,
    actor,
  });
  return integration;
}

export async function updateIntegration(
  em: EntityManager,
  cipher: CredentialCipher,
  org: IOrganization,
  id: string,
  input: Omit<IntegrationInput, 'kind'>,
  options: IntegrationOptions,
  actor: AuditActor,
  now: Date,
): Promise<IIntegration> {
  const integration = await findIntegration(em, org, id);
  const data = await parse(org, { ...input, kind: integration.kind }, false, options.allowPrivate);
  const wasEnabled = integration.enabled;
  integration.settings = data.settings;
  integration.streams = data.streams;
  integration.enabled = input.enabled ?? integration.enabled;
  if (data.secret && data.kind.secret)
    integration.secretSealed = cipher.encrypt(data.secret, secretContext(integration.id));
  // New settings deserve an attempt now rather than after the backoff of the old ones.
  integration.nextAttemptAt = null;
  integration.updatedAt = now;
  await em.flush();
  const changes = [
    data.secret && data.kind.secret ? `${data.kind.secret.label} replaced` : '',
    wasEnabled !== integration.enabled ? (integration.enabled ? 'switched on' : 'switched off') : '',
  ].filter(Boolean);
  await recordAudit(em, {
    organization: org,
    activity: 'Integration changed',
    account: org.name,
    description: `${described(data.kind, data.settings)} changed${changes.length ? ` (${changes.join(', ')})` : ''}`,
    actor,
  });
  return integration;
}

export async function deleteIntegration(
  em: EntityManager,
  org: IOrganization,
  id: string,
  actor: AuditActor,
): Promise<void> {
  const integration = await findIntegration(em, org, id);
  const kind = integrationKind(integration.kind);
  em.remove(integration);
  await em.flush();
  await em.nativeDelete(NotificationIncident, { subject: incidentSubject(id) });
  await recordAudit(em, {
    organization: org,
    activity: 'Integration removed',
    account: org.name,
    description: `${kind ? described(kind, integration.settings) : `${integration.kind} integration`} removed`,
    actor,
  });
}

export function integrationSecret(cipher: CredentialCipher, integration: IIntegration): string {
  return integration.secretSealed ? cipher.decrypt(integration.secretSealed, secretContext(integration.id)) : '';
}
