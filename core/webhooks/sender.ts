// The webhook sender: a loop beside the notification sender (same pattern) that (1) fans each
// new webhook event out into one delivery per subscribed endpoint, and (2) POSTs due deliveries,
// signed, with retries and the notification mail's exponential backoff for 24 hours. A delivery
// is claimed with a conditional UPDATE before it is sent, so two processes never send it at once
// and one that stops mid-send retries it after the lease: delivery is at least once, and the
// unique (endpoint, event key) makes it one delivery per endpoint and event.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import type { Database } from '../db/database.ts';
import { Organization } from '../identity/entities.ts';
import type { Logger } from '../logging.ts';
import { mailRetryDelayMs } from '../mail/retry.ts';
import { type PassLoop, startPassLoop } from '../pass-loop.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { mailLinkOrigin } from '../system/public-url.ts';
import { endpointSecret } from './endpoints.ts';
import {
  type IWebhookDelivery,
  type IWebhookEndpoint,
  type IWebhookEvent,
  WebhookDelivery,
  WebhookEndpoint,
  WebhookEvent,
} from './entities.ts';
import { SIGNATURE_HEADER, signatureHeader } from './signature.ts';
import { checkWebhookTarget, guardedLookup } from './url-guard.ts';

export interface WebhookSettings {
  publicUrl?: string | undefined;
  mailRetryBaseSeconds: number;
  webhooksAllowPrivate: boolean;
}

export interface WebhookDeps {
  orm: Database;
  cipher: CredentialCipher;
  settings: WebhookSettings;
  log: Logger;
}

/** Retries stop this long after the event: the delivery is then Failed. */
export const RETRY_WINDOW_MS = 24 * 3_600_000;
const SEND_LEASE_MS = 5 * 60_000;
const TIMEOUT_MS = 10_000;
const EXCERPT = 300;
const BATCH = 50;

/** The JSON body of an event (docs/WEBHOOKS.md documents it). */
export function webhookBody(
  id: string,
  type: string,
  createdAt: Date,
  organization: { id: string; name: string },
  payload: Record<string, unknown>,
  origin: string | undefined,
): string {
  const { linkPath, linkLabel: _label, organizationName: _name, ...data } = payload;
  const link = typeof linkPath === 'string' && origin ? `${origin}${linkPath}` : null;
  return JSON.stringify({ id, type, createdAt: createdAt.toISOString(), organization, data: { ...data, link } });
}

async function linkOrigin(em: EntityManager, settings: WebhookSettings): Promise<string | undefined> {
  try {
    return await mailLinkOrigin(em, settings.publicUrl);
  } catch {
    return undefined;
  }
}

/** Endpoints of the organization and of those above it subscribed to `type`. */
async function subscribers(em: EntityManager, organizationId: string, type: string): Promise<IWebhookEndpoint[]> {
  const org = await em.findOne(Organization, { id: organizationId }, { fields: ['path', 'partnerAccessRemovedAt'] });
  if (!org) return [];
  // A customer that removed its partner's access: its own endpoints only.
  const chain = org.partnerAccessRemovedAt ? [org.id] : org.path.split('/').filter(Boolean);
  const all = await em.find(WebhookEndpoint, { organization: { $in: chain } }, { orderBy: { createdAt: 'asc' } });
  return all.filter((e) => (e.events as string[]).includes(type));
}

async function insertDelivery(
  em: EntityManager,
  endpointId: string,
  eventKey: string,
  type: string,
  body: string,
  now: Date,
) {
  await (em as SqlEntityManager)
    .createQueryBuilder(WebhookDelivery)
    .insert({
      endpoint: endpointId,
      eventKey,
      type,
      body,
      createdAt: now,
      status: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      deliveredAt: null,
      lastStatus: null,
      lastResponse: null,
      lastAttemptAt: null,
    } as never)
    .onConflict(['endpoint', 'eventKey'] as never)
    .ignore()
    .execute();
}

/** Turns new events into deliveries, one per subscribed endpoint. */
export async function fanOutWebhookEvents(em: EntityManager, settings: WebhookSettings, now: Date): Promise<void> {
  const fresh = await em
    .fork()
    .find(WebhookEvent, { fannedOutAt: null }, { orderBy: { id: 'asc' }, limit: BATCH, populate: ['organization'] });
  if (fresh.length === 0) return;
  const origin = await linkOrigin(em.fork(), settings);
  for (const event of fresh) await fanOut(em, event, origin, now);
}

async function fanOut(em: EntityManager, event: IWebhookEvent, origin: string | undefined, now: Date) {
  await em.fork().transactional(async (tx) => {
    const mine = await tx.nativeUpdate(WebhookEvent, { id: event.id, fannedOutAt: null }, { fannedOutAt: now });
    if (mine !== 1) return;
    const org = { id: event.organization.id, name: event.organization.name };
    const body = webhookBody(`evt_${event.id}`, event.type, event.createdAt, org, event.payload, origin);
    for (const endpoint of await subscribers(tx, org.id, event.type)) {
      await insertDelivery(tx, endpoint.id, event.eventKey, event.type, body, now);
    }
    // Nothing else needs the event once its deliveries carry the body.
    await tx.nativeDelete(WebhookEvent, { id: event.id });
  });
}

interface Answer {
  status: number | null;
  excerpt: string;
}

/** POSTs the body to the endpoint; the answer's status and the start of its body, or the error. */
function post(url: URL, headers: Record<string, string>, body: string, allowPrivate: boolean): Promise<Answer> {
  return new Promise((resolve) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(
      url,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
        lookup: guardedLookup(allowPrivate),
        timeout: TIMEOUT_MS,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          if (text.length < EXCERPT) text += chunk;
          else res.destroy();
        });
        const done = () => resolve({ status: res.statusCode ?? null, excerpt: text.slice(0, EXCERPT) });
        res.on('end', done);
        res.on('close', done);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${TIMEOUT_MS / 1000} s`)));
    req.on('error', (err) => resolve({ status: null, excerpt: err.message.slice(0, EXCERPT) }));
    req.end(body);
  });
}

/** One attempt at one claimed delivery; records the answer and the next attempt. */
async function attempt(deps: WebhookDeps, delivery: IWebhookDelivery, now: Date): Promise<boolean> {
  const em = deps.orm.em.fork();
  const endpoint = await em.findOne(WebhookEndpoint, { id: delivery.endpoint.id });
  if (!endpoint) return false;
  const claimed = await em.nativeUpdate(
    WebhookDelivery,
    { id: delivery.id, status: 'pending', attempts: delivery.attempts },
    { attempts: delivery.attempts + 1, nextAttemptAt: new Date(now.getTime() + SEND_LEASE_MS) },
  );
  if (claimed !== 1) return false; // another sender has it
  const tries = delivery.attempts + 1;
  let answer: Answer;
  try {
    const url = await checkWebhookTarget(endpoint.url, deps.settings.webhooksAllowPrivate);
    const timestamp = Math.floor(now.getTime() / 1000);
    const headers = {
      'user-agent': 'Holdfast-Webhooks/1',
      'holdfast-event': delivery.type,
      'holdfast-delivery': String(delivery.id),
      [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(
        endpointSecret(deps.cipher, endpoint),
        timestamp,
        delivery.body,
      ),
    };
    answer = await post(url, headers, delivery.body, deps.settings.webhooksAllowPrivate);
  } catch (err) {
    answer = { status: null, excerpt: (err as Error).message.slice(0, EXCERPT) };
  }
  const ok = answer.status !== null && answer.status >= 200 && answer.status < 300;
  const fields = {
    deliveryId: delivery.id,
    endpointId: endpoint.id,
    type: delivery.type,
    attempt: tries,
    status: answer.status,
  };
  const last = { lastStatus: answer.status, lastResponse: answer.excerpt || null, lastAttemptAt: now };
  if (ok) {
    await em.nativeUpdate(
      WebhookDelivery,
      { id: delivery.id },
      { ...last, status: 'delivered', deliveredAt: now, nextAttemptAt: null },
    );
    deps.log.info(fields, 'webhook delivered');
    return true;
  }
  const next = new Date(now.getTime() + mailRetryDelayMs(tries, deps.settings.mailRetryBaseSeconds));
  if (next.getTime() - delivery.createdAt.getTime() > RETRY_WINDOW_MS) {
    await em.nativeUpdate(WebhookDelivery, { id: delivery.id }, { ...last, status: 'failed', nextAttemptAt: null });
    deps.log.warn(fields, 'webhook not accepted for 24 hours; gave up');
  } else {
    await em.nativeUpdate(WebhookDelivery, { id: delivery.id }, { ...last, nextAttemptAt: next });
    deps.log.warn({ ...fields, retryAt: next.toISOString() }, 'webhook not accepted; will retry');
  }
  return false;
}

/** Sends the deliveries that are due. Returns how many were accepted. */
export async function deliverDueWebhooks(deps: WebhookDeps, now: Date): Promise<number> {
  const due = await deps.orm.em
    .fork()
    .find(
      WebhookDelivery,
      { status: 'pending', nextAttemptAt: { $lte: now } },
      { orderBy: { nextAttemptAt: 'asc', id: 'asc' }, limit: BATCH },
    );
  let delivered = 0;
  for (const delivery of due) if (await attempt(deps, delivery, now)) delivered++;
  return delivered;
}

/** One pass: fan out, then send what is due. */
export async function runWebhookSender(deps: WebhookDeps, now: Date): Promise<number> {
  await fanOutWebhookEvents(deps.orm.em, deps.settings, now);
  return deliverDueWebhooks(deps, now);
}

/** "Send test event": queues a `test` delivery to this endpoint only and tries it at once. */
export async function sendTestEvent(
  deps: WebhookDeps,
  endpoint: IWebhookEndpoint,
  now: Date,
): Promise<IWebhookDelivery> {
  const em = deps.orm.em.fork();
  const org = await em.findOneOrFail(Organization, { id: endpoint.organization.id });
  const key = `test:${now.getTime()}`;
  const body = webhookBody(
    key.replace(':', '_'),
    'test',
    now,
    { id: org.id, name: org.name },
    { event: 'test', message: 'A test event from Holdfast.' },
    undefined,
  );
  await insertDelivery(em, endpoint.id, key, 'test', body, now);
  const delivery = await em.findOneOrFail(WebhookDelivery, { endpoint: endpoint.id, eventKey: key });
  await attempt(deps, delivery, now);
  return em.fork().findOneOrFail(WebhookDelivery, { id: delivery.id });
}

export type WebhookLoop = PassLoop;

/** Runs a pass every `intervalMs`, never two at once; a failed pass is logged and the next one runs. */
export function startWebhookSender(deps: WebhookDeps, now: () => Date, intervalMs: number): WebhookLoop {
  return startPassLoop(
    () => runWebhookSender(deps, now()),
    (err) => deps.log.warn({ err }, 'webhook sender pass failed'),
    intervalMs,
  );
}
