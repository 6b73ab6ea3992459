// The integration sender: a loop beside the notification and webhook senders (same pattern and
// the mail's retry rhythm, core/mail/retry.ts) that sends each due integration the events after
// its cursor, in batches, and moves the cursor when the collector took them. The logs themselves
// are the queue: nothing is copied, so an outage only delays events, and the cursor is moved in
// the database after each accepted batch, so a restart resends nothing that was accepted. An
// integration is claimed with a conditional UPDATE of its version (with a lease), so two
// processes never send it at once. A failure makes it Failing with the reason and opens an
// exceptions incident (one mail per failure period); the next delivery resolves it.
import type { EntityManager } from '@mikro-orm/core';
import type { Database } from '../db/database.ts';
import { type IOrganization, Organization } from '../identity/entities.ts';
import type { Logger } from '../logging.ts';
import { mailRetryDelayMs, SEND_LEASE_MS } from '../mail/retry.ts';
import type { NotificationPayload } from '../notifications/entities.ts';
import { incidentCleared, incidentFailed } from '../notifications/incidents.ts';
import { type PassLoop, type RoundGuard, startPassLoop, unguarded } from '../pass-loop.ts';
import type { CredentialCipher } from '../secrets/credential-cipher.ts';
import { type IntegrationKind, IntegrationSendError, type SendTarget } from './contract.ts';
import { type IIntegration, Integration, type IntegrationCursor } from './entities.ts';
import { eventLogHorizon, type IntegrationEvent, nextEvents } from './event-feed.ts';
import { incidentSubject, integrationSecret } from './integrations.ts';
import { integrationKind } from './kinds.ts';
import { invoiceCheckDue, syncPaidInvoices } from './psa-invoices.ts';

export interface IntegrationSettings {
  mailRetryBaseSeconds: number;
  webhooksAllowPrivate: boolean;
}

export interface IntegrationDeps {
  orm: Database;
  cipher: CredentialCipher;
  settings: IntegrationSettings;
  log: Logger;
}

/** Events per request, and requests per integration and pass (the rest follows next pass). */
export const BATCH_SIZE = 100;
const BATCHES_PER_PASS = 20;
/** A batch Splunk took but has not acknowledged for this long is sent again. */
const ACK_TIMEOUT_MS = 10 * 60_000;
/** How soon to ask again about a batch not acknowledged yet. */
const ACK_POLL_MS = 5_000;

function targetOf(deps: IntegrationDeps, i: IIntegration, now: Date): SendTarget<Record<string, unknown>> {
  return {
    integrationId: i.id,
    organizationId: i.organization.id,
    settings: i.settings,
    secret: integrationSecret(deps.cipher, i),
    allowPrivate: deps.settings.webhooksAllowPrivate,
    em: deps.orm.em.fork(),
    now,
  };
}

function incidentPayload(kind: IntegrationKind, i: IIntegration, event: string, reason?: string): NotificationPayload {
  return {
    event,
    organizationName: '',
    items: [`${kind.label} (${kind.target(i.settings as never)})`],
    ...(reason ? { reason: reason.slice(0, 1000) } : {}),
    linkPath: '/settings/integrations',
    linkLabel: 'Open Settings › Integrations',
  };
}

interface Claim {
  version: number;
  em: EntityManager;
}

async function claim(deps: IntegrationDeps, i: IIntegration, now: Date): Promise<Claim | null> {
  const em = deps.orm.em.fork();
  const claimed = await em.nativeUpdate(
    Integration,
    { id: i.id, version: i.version },
    { version: i.version + 1, leaseUntil: new Date(now.getTime() + SEND_LEASE_MS) },
  );
  return claimed === 1 ? { version: i.version + 1, em } : null;
}

/** Moves the cursor after an accepted batch; false when another sender claimed the integration since. */
async function advance(c: Claim, i: IIntegration, through: IntegrationCursor, count: number, now: Date) {
  i.deliveredCount += count;
  const moved = await c.em.nativeUpdate(
    Integration,
    { id: i.id, version: c.version },
    { cursor: through, pendingAck: null, deliveredCount: i.deliveredCount, lastDeliveredAt: now },
  );
  i.cursor = through;
  return moved === 1;
}

async function succeeded(deps: IntegrationDeps, c: Claim, i: IIntegration, kind: IntegrationKind, now: Date) {
  await c.em.fork().transactional(async (tx) => {
    const done = await tx.nativeUpdate(
      Integration,
      { id: i.id, version: c.version },
      { attempts: 0, failingSince: null, lastError: null, leaseUntil: null, nextAttemptAt: null },
    );
    if (done !== 1 || !i.failingSince) return;
    deps.log.info({ integrationId: i.id, kind: i.kind }, 'integration delivers again');
    await incidentCleared(tx, {
      organizationId: i.organization.id,
      subject: incidentSubject(i.id),
      member: i.id,
      at: now,
      payload: incidentPayload(kind, i, 'integration_recovered'),
    });
  });
}

async function failed(
  deps: IntegrationDeps,
  c: Claim,
  i: IIntegration,
  kind: IntegrationKind,
  reason: string,
  now: Date,
) {
  const attempts = i.attempts + 1;
  const next = new Date(now.getTime() + mailRetryDelayMs(attempts, deps.settings.mailRetryBaseSeconds));
  deps.log.warn(
    { integrationId: i.id, kind: i.kind, attempt: attempts, reason, retryAt: next.toISOString() },
    'integration not delivered; will retry',
  );
  await c.em.fork().transactional(async (tx) => {
    const done = await tx.nativeUpdate(
      Integration,
      { id: i.id, version: c.version },
      {
        attempts,
        nextAttemptAt: next,
        leaseUntil: null,
        failingSince: i.failingSince ?? now,
        lastError: reason.slice(0, 1000),
      },
    );
    if (done !== 1) return;
    await incidentFailed(tx, {
      organizationId: i.organization.id,
      subject: incidentSubject(i.id),
      member: i.id,
      at: now,
      payload: incidentPayload(kind, i, 'integration_failed', reason),
    });
  });
}

/** Waits for an acknowledged-later batch: moved on when indexed; false while still waiting. */
async function settleAck(
  kind: IntegrationKind,
  target: SendTarget<Record<string, unknown>>,
  c: Claim,
  i: IIntegration,
  now: Date,
) {
  const pending = i.pendingAck;
  if (!pending || !kind.checkAck) return true;
  if (await kind.checkAck(target, pending.ackId)) {
    return advance(c, i, pending.through, 0, now);
  }
  if (now.getTime() - Date.parse(pending.sentAt) > ACK_TIMEOUT_MS) {
    // Never acknowledged: indexed or not, it is sent again (the receiver deduplicates on the event id).
    i.pendingAck = null;
    await c.em.nativeUpdate(Integration, { id: i.id, version: c.version }, { pendingAck: null });
    return true;
  }
  await c.em.nativeUpdate(
    Integration,
    { id: i.id, version: c.version },
    { leaseUntil: null, nextAttemptAt: new Date(now.getTime() + ACK_POLL_MS) },
  );
  return false;
}

/** Sends one integration what is due. Returns the events the collector took. */
export async function deliverIntegration(
  deps: IntegrationDeps,
  i: IIntegration,
  now: Date,
  upTo?: IntegrationCursor,
): Promise<number> {
  const kind = integrationKind(i.kind);
  if (!kind) return 0;
  // A PSA's hourly look at the invoices it may have paid (psa-invoices.ts) goes through the claim.
  const checkInvoices = invoiceCheckDue(kind, i, now);
  // Nothing new and nothing owed: a read, not a claim (a write) every pass for every integration.
  if (!i.pendingAck && !i.failingSince && !checkInvoices) {
    const peek = await nextEvents(deps.orm.em.fork(), i.organization as IOrganization, i.streams, i.cursor, 1, upTo);
    if (peek.events.length === 0) return 0;
  }
  const c = await claim(deps, i, now);
  if (!c) return 0; // another sender has it
  const target = targetOf(deps, i, now);
  let sent = 0;
  try {
    if (!(await settleAck(kind, target, c, i, now))) return 0;
    for (let n = 0; n < BATCHES_PER_PASS; n++) {
      const batch = await nextEvents(
        c.em.fork(),
        i.organization as IOrganization,
        i.streams,
        i.cursor,
        BATCH_SIZE,
        upTo,
      );
      if (batch.events.length === 0) break;
      const outcome = await kind.send(target, batch.events);
      if (!outcome.acknowledged) {
        // Taken, not yet indexed: the cursor moves when Splunk acknowledges it (settleAck).
        await c.em.nativeUpdate(
          Integration,
          { id: i.id, version: c.version },
          {
            pendingAck: { ackId: outcome.ackId, through: batch.through, sentAt: now.toISOString() },
            leaseUntil: null,
            nextAttemptAt: new Date(now.getTime() + ACK_POLL_MS),
          },
        );
        return sent;
      }
      if (!(await advance(c, i, batch.through, batch.events.length, now))) return sent;
      sent += batch.events.length;
    }
    if (checkInvoices) await syncPaidInvoices(kind, target, now);
    await succeeded(deps, c, i, kind, now);
  } catch (err) {
    if (!(err instanceof IntegrationSendError)) deps.log.warn({ err, integrationId: i.id }, 'integration pass failed');
    await failed(deps, c, i, kind, (err as Error).message, now);
  }
  return sent;
}

/** One pass: every switched-on integration that is due and not claimed. */
export async function runIntegrationSender(deps: IntegrationDeps, now: Date): Promise<number> {
  // What may be read without skipping a row that commits later (PostgreSQL; event-feed.ts).
  const upTo = await eventLogHorizon(deps.orm.em);
  if (upTo === null) {
    deps.log.info('event logs busy with inserts; integrations are sent at the next pass');
    return 0;
  }
  const due = await deps.orm.em.fork().find(
    Integration,
    {
      enabled: true,
      $and: [
        { $or: [{ nextAttemptAt: null }, { nextAttemptAt: { $lte: now } }] },
        { $or: [{ leaseUntil: null }, { leaseUntil: { $lt: now } }] },
      ],
    },
    { orderBy: { nextAttemptAt: 'asc', id: 'asc' }, populate: ['organization'] },
  );
  let sent = 0;
  for (const integration of due) sent += await deliverIntegration(deps, integration, now, upTo);
  return sent;
}

/**
 * "Send test event": one `test` event to this integration now (a PSA instead lists a company,
 * which proves the credentials without opening a ticket); the cursor does not move.
 */
export async function sendIntegrationTest(
  deps: IntegrationDeps,
  i: IIntegration,
  actor: string,
  now: Date,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  const kind = integrationKind(i.kind);
  if (!kind) return { ok: false, reason: 'This kind of integration is not available.' };
  const org = await deps.orm.em.fork().findOneOrFail(Organization, { id: i.organization.id });
  const event: IntegrationEvent = {
    id: `test-${now.getTime()}`,
    time: now.toISOString(),
    log: 'test',
    organization: { id: org.id, name: org.name, kind: org.kind, path: [org.name] },
    actor,
    action: 'Test event',
    status: 'succeeded',
    details: { message: 'A test event from Holdfast.' },
  };
  try {
    const target = targetOf(deps, i, now);
    if (kind.test) await kind.test(target);
    else await kind.send(target, [event]);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}

export type IntegrationLoop = PassLoop;

/** Runs a pass every `intervalMs`, never two at once; a failed pass is logged and the next one runs. */
export function startIntegrationSender(
  deps: IntegrationDeps,
  now: () => Date,
  intervalMs: number,
  /** One node of a cluster sends at a time: a second would only find every integration claimed. */
  guard: RoundGuard = unguarded,
): IntegrationLoop {
  return startPassLoop(
    () =>
      guard(async () => {
        await runIntegrationSender(deps, now());
        return undefined;
      }),
    (err) => deps.log.warn({ err }, 'integration sender pass failed'),
    intervalMs,
  );
}
