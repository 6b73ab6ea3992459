// Webhook endpoints of an organization: add / edit / remove, validated (a public https URL, at
// least one event type), with a signing secret made at creation, returned once and stored
// sealed with the credential cipher.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/core';
import { z } from 'zod';
import { fieldErrorsFrom, NotFoundError, ValidationError } from '../errors.ts';
import type { IOrganization } from '../identity/entities.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import {
  type IWebhookDelivery,
  type IWebhookEndpoint,
  WEBHOOK_EVENT_TYPES,
  WebhookDelivery,
  WebhookEndpoint,
} from './entities.ts';
import { newWebhookSecret } from './signature.ts';
import { checkWebhookTarget, WebhookTargetError } from './url-guard.ts';

export const endpointInputSchema = z.object({
  url: z
    .string({ error: 'Enter the URL to send events to.' })
    .trim()
    .min(1, { error: 'Enter the URL to send events to.' })
    .max(2000, { error: 'Use at most 2000 characters.' }),
  description: z.string().trim().max(200, { error: 'Use at most 200 characters.' }).default(''),
  events: z
    .array(z.enum(WEBHOOK_EVENT_TYPES, { error: 'Unknown event type.' }))
    .min(1, { error: 'Choose at least one event type.' }),
});
export type EndpointInput = z.input<typeof endpointInputSchema>;

export interface EndpointOptions {
  allowPrivate: boolean;
}

const secretContext = (id: string) => `webhook-endpoint:${id}`;

async function parse(input: EndpointInput, options: EndpointOptions) {
  const parsed = endpointInputSchema.safeParse(input);
  const fields = parsed.success ? {} : fieldErrorsFrom(parsed.error.issues);
  const url = parsed.success ? parsed.data.url : String(input.url ?? '').trim();
  if (!fields.url && url) {
    try {
      await checkWebhookTarget(url, options.allowPrivate);
    } catch (err) {
      if (!(err instanceof WebhookTargetError)) throw err;
      fields.url = err.message;
    }
  }
  if (!parsed.success || Object.keys(fields).length > 0) throw new ValidationError(fields);
  const data = parsed.data;
  return {
    url: data.url,
    description: data.description,
    events: WEBHOOK_EVENT_TYPES.filter((t) => data.events.includes(t)),
  };
}

export async function listEndpoints(em: EntityManager, org: IOrganization): Promise<IWebhookEndpoint[]> {
  return em.find(WebhookEndpoint, { organization: org.id }, { orderBy: { createdAt: 'asc', id: 'asc' } });
}

/** One endpoint of `org`; another organization's reads as missing. */
export async function findEndpoint(em: EntityManager, org: IOrganization, id: string): Promise<IWebhookEndpoint> {
  const found = id ? await em.findOne(WebhookEndpoint, { id, organization: org.id }) : null;
  if (!found) throw new NotFoundError('No such webhook endpoint.');
  return found;
}

export async function createEndpoint(
  em: EntityManager,
  cipher: CredentialCipher,
  org: IOrganization,
  input: EndpointInput,
  options: EndpointOptions,
  now: Date,
): Promise<{ endpoint: IWebhookEndpoint; secret: string }> {
  const data = await parse(input, options);
  const secret = newWebhookSecret();
  const id = randomUUID();
  const secretSealed = cipher.encrypt(secret, secretContext(id));
  const endpoint = em.create(WebhookEndpoint, { id, organization: org, ...data, secretSealed, createdAt: now });
  await em.flush();
  return { endpoint, secret };
}

export async function updateEndpoint(
  em: EntityManager,
  org: IOrganization,
  id: string,
  input: EndpointInput,
  options: EndpointOptions,
): Promise<IWebhookEndpoint> {
  const endpoint = await findEndpoint(em, org, id);
  Object.assign(endpoint, await parse(input, options));
  await em.flush();
  return endpoint;
}

export async function deleteEndpoint(em: EntityManager, org: IOrganization, id: string): Promise<void> {
  em.remove(await findEndpoint(em, org, id));
  await em.flush();
}

export function endpointSecret(cipher: CredentialCipher, endpoint: IWebhookEndpoint): string {
  return cipher.decrypt(endpoint.secretSealed, secretContext(endpoint.id));
}

/** The endpoint's delivery log, newest first. */
export async function listDeliveries(
  em: EntityManager,
  endpoint: IWebhookEndpoint,
  limit = 50,
): Promise<IWebhookDelivery[]> {
  return em.find(WebhookDelivery, { endpoint: endpoint.id }, { orderBy: { id: 'desc' }, limit });
}
