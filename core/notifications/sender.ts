// The notification sender: a loop, beside the job runner, that (1) fans each new notification
// out into one outbox mail per recipient (recipientsFor: the inheritance rule), and (2) hands
// due outbox mail to the mail server, with retries and exponential backoff — notification mail,
// and identity mail (invitations, resets, sign-in alerts) whose first attempt failed (mailer.ts). A mail is claimed
// with a conditional UPDATE before it is sent (its next attempt moved a lease ahead), so two
// processes never send it twice and a process that stops mid-send retries it after the lease.
// A mail server that is down only delays mail: it stays in the outbox, Waiting, and nothing else
// (backups, the job runner) waits for it. Without a mail server, mail waits until one is set.
import type { EntityManager } from '@mikro-orm/core';
import type { SqlEntityManager } from '@mikro-orm/sql';
import { recordActivity } from '../activity/activity-service.ts';
import type { Database } from '../db/database.ts';
import type { Logger } from '../logging.ts';
import { MailMessage } from '../mail/entities.ts';
import type { Mailer } from '../mail/mailer.ts';
import { mailRetryDelayMs, SEND_LEASE_MS } from '../mail/retry.ts';
import { type PassLoop, startPassLoop } from '../pass-loop.ts';
import { mailLinkOrigin } from '../system/public-url.ts';
import { type INotification, NOTIFICATION_TYPE_LABELS, Notification } from './entities.ts';
import { recipientsFor } from './recipients.ts';
import { renderNotification } from './render.ts';
import { reportAttachments, storedAttachments } from './summary-attachment.ts';

export interface SenderSettings {
  publicUrl?: string | undefined;
  mailRetryBaseSeconds: number;
  mailMaxAttempts: number;
}

const BATCH = 50;

async function linkOrigin(em: EntityManager, settings: SenderSettings): Promise<string | undefined> {
  try {
    return await mailLinkOrigin(em, settings.publicUrl);
  } catch {
    return undefined; // no public address known: the mail goes out without its link
  }
}

/** Turns new notifications into outbox mail, one per recipient. Returns the mails queued. */
export async function fanOutNotifications(em: EntityManager, settings: SenderSettings, now: Date): Promise<number> {
  const fresh = await em
    .fork()
    .find(Notification, { fannedOutAt: null }, { orderBy: { id: 'asc' }, limit: BATCH, populate: ['organization'] });
  if (fresh.length === 0) return 0;
  const origin = await linkOrigin(em.fork(), settings);
  let queued = 0;
  for (const notification of fresh) queued += await fanOut(em, notification, origin, now);
  return queued;
}

async function fanOut(em: EntityManager, n: INotification, origin: string | undefined, now: Date): Promise<number> {
  return em.fork().transactional(async (tx) => {
    // Claimed by setting fannedOutAt: of two senders, one fans out; the unique (notification, to) backs it.
    const mine = await tx.nativeUpdate(Notification, { id: n.id, fannedOutAt: null }, { fannedOutAt: now });
    if (mine !== 1) return 0;
    const to = await recipientsFor(tx, n.organization.id, n.type);
    // Events queued from an unloaded organization reference carry no name: the row's is current.
    const payload = { ...n.payload, organizationName: n.payload.organizationName || n.organization.name };
    for (const addressee of to) {
      const mail = renderNotification(n.type, payload, addressee, origin);
      await (tx as SqlEntityManager)
        .createQueryBuilder(MailMessage)
        .insert({
          createdAt: now,
          to: addressee.email,
          subject: mail.subject,
          text: mail.text,
          html: mail.html,
          status: 'outbox',
          sentAt: null,
          error: null,
          organization: n.organization.id,
          notification: n.id,
          attempts: 0,
          nextAttemptAt: now,
        } as never)
        .onConflict(['notification', 'to'] as never)
        .ignore()
        .execute();
    }
    return to.length;
  });
}

export interface DeliveryReport {
  sent: number;
  retrying: number;
  failed: number;
}

/** Sends the outbox mail that is due. Without a mail server it leaves everything waiting. */
export async function deliverDueMail(
  em: EntityManager,
  mailer: Mailer,
  settings: SenderSettings,
  log: Logger,
  now: Date,
): Promise<DeliveryReport> {
  const report: DeliveryReport = { sent: 0, retrying: 0, failed: 0 };
  if (!mailer.configured) return report;
  const due = await em
    .fork()
    .find(
      MailMessage,
      { status: 'outbox', nextAttemptAt: { $lte: now } },
      { orderBy: { nextAttemptAt: 'asc', id: 'asc' }, limit: BATCH, populate: ['notification'] },
    );
  for (const mail of due) {
    const claimed = await em
      .fork()
      .nativeUpdate(
        MailMessage,
        { id: mail.id, status: 'outbox', attempts: mail.attempts },
        { attempts: mail.attempts + 1, nextAttemptAt: new Date(now.getTime() + SEND_LEASE_MS) },
      );
    if (claimed !== 1) continue; // another sender has it
    const attempt = mail.attempts + 1;
    const fields = { mailId: mail.id, to: mail.to, subject: mail.subject, attempt };
    let reason: string | null = null;
    try {
      const files = [
        ...((await reportAttachments(em.fork(), mail.notification)) ?? []),
        ...(await storedAttachments(em.fork(), mail.id)),
      ];
      const attachments = files.length ? files : undefined;
      await mailer.deliver({ to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, attachments });
    } catch (err) {
      reason = (err as Error).message;
    }
    const fork = em.fork();
    const typeLabel = mail.notification ? NOTIFICATION_TYPE_LABELS[mail.notification.type] : 'Mail';
    const activity = (status: 'succeeded' | 'failed', summary: string) =>
      mail.organization && mail.notification
        ? recordActivity(fork, [
            {
              organization: mail.organization,
              activity: status === 'succeeded' ? 'Notification sent' : 'Notification failed',
              status,
              at: now,
              task: null,
              summary,
            },
          ])
        : Promise.resolve();
    if (reason === null) {
      await fork.nativeUpdate(
        MailMessage,
        { id: mail.id },
        { status: 'sent', sentAt: now, nextAttemptAt: null, error: null },
      );
      await activity('succeeded', `${typeLabel} sent to ${mail.to}: ${mail.subject}`);
      log.info(fields, 'mail sent');
      report.sent++;
    } else if (attempt >= settings.mailMaxAttempts) {
      await fork.nativeUpdate(MailMessage, { id: mail.id }, { status: 'failed', nextAttemptAt: null, error: reason });
      await activity('failed', `${typeLabel} to ${mail.to} could not be sent after ${attempt} attempts: ${reason}`);
      log.warn({ ...fields, reason }, 'mail could not be sent; gave up');
      report.failed++;
    } else {
      const next = new Date(now.getTime() + mailRetryDelayMs(attempt, settings.mailRetryBaseSeconds));
      await fork.nativeUpdate(MailMessage, { id: mail.id }, { nextAttemptAt: next, error: reason });
      log.warn({ ...fields, reason, retryAt: next.toISOString() }, 'mail could not be sent; will retry');
      report.retrying++;
    }
    // A refusal usually means the server is down or busy: the rest waits for the next pass
    // instead of each using up an attempt (and a connection timeout) now.
    if (reason !== null) break;
  }
  return report;
}

/** One pass: fan out, then send what is due. */
export async function runNotificationSender(
  orm: Database,
  mailer: Mailer,
  settings: SenderSettings,
  log: Logger,
  now: Date,
): Promise<DeliveryReport> {
  await fanOutNotifications(orm.em, settings, now);
  return deliverDueMail(orm.em, mailer, settings, log, now);
}

export type SenderLoop = PassLoop;

/** Runs a pass every `intervalMs`, never two at once; a failed pass is logged and the next one runs. */
export function startNotificationSender(
  orm: Database,
  mailer: Mailer,
  settings: SenderSettings,
  log: Logger,
  now: () => Date,
  intervalMs: number,
): SenderLoop {
  return startPassLoop(
    () => runNotificationSender(orm, mailer, settings, log, now()),
    (err) => log.warn({ err }, 'notification sender pass failed'),
    intervalMs,
  );
}
