// Outgoing mail. Every message is stored first; with an SMTP server configured it is then sent
// through nodemailer, otherwise it stays in the outbox for the root administrator to read.
// Identity mail (`send`: invitations, password resets, sign-in alerts) is stored claimed for its
// first attempt, made at once; when the server refuses it, it stays in the outbox with its next
// attempt after a backoff, and the notification sender (core/notifications/sender.ts) retries it
// like notification mail, up to HOLDFAST_MAIL_MAX_ATTEMPTS: a mail server that is down delays it.
// The log records that a message exists (recipient, subject), never its body: bodies carry
// single-use links. nodemailer (~4 MiB of heap) loads with the first mail sent, not with the server.
import type { EntityManager } from '@mikro-orm/core';
import type { Transporter } from 'nodemailer';
import type { Logger } from '../logging.ts';
import { MailMessage } from './entities.ts';
import { mailRetryDelayMs, SEND_LEASE_MS } from './retry.ts';

export interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
}

/** A file sent with a message (a summary report's CSV, a usage report's ZIP). */
export interface MailAttachment {
  filename: string;
  content: string | Buffer;
  contentType: string;
}

export interface Mailer {
  send(em: EntityManager, mail: OutgoingMail): Promise<void>;
  /** Whether a mail server is configured (HOLDFAST_SMTP_URL). */
  readonly configured: boolean;
  /** Hands one message to the mail server; throws its reason (credentials removed) when refused. */
  deliver(mail: OutgoingMail & { html?: string | null; attachments?: MailAttachment[] }): Promise<void>;
  close(): void;
}

/** An SMTP error's first line, without credentials (errors can echo the server URL). */
export function mailErrorReason(err: unknown): string {
  return (
    String((err as Error)?.message ?? err)
      .split('\n')[0]
      ?.replace(/\/\/[^@/\s]*@/g, '//')
      .slice(0, 1000) || 'unknown error'
  );
}

export interface MailSettings {
  smtpUrl?: string | undefined;
  mailFrom: string;
  /** The first retry's delay (doubling after); default 60 s. */
  mailRetryBaseSeconds?: number;
  /** Attempts before a mail is marked failed; default 30. */
  mailMaxAttempts?: number;
}

export function createMailer(settings: MailSettings, log: Logger): Mailer {
  const smtpUrl = settings.smtpUrl;
  let made: Promise<Transporter> | undefined;
  let transport: Transporter | undefined;
  const transportFor = (url: string): Promise<Transporter> => {
    made ??= import('nodemailer').then(({ default: nodemailer }) => {
      transport = nodemailer.createTransport(
        { url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never,
        { from: settings.mailFrom },
      );
      return transport;
    });
    return made;
  };
  return {
    configured: !!smtpUrl,
    async deliver(mail) {
      if (!smtpUrl) throw new Error('no mail server is configured');
      try {
        await (await transportFor(smtpUrl)).sendMail({
          to: mail.to,
          subject: mail.subject,
          text: mail.text,
          html: mail.html ?? undefined,
          attachments: mail.attachments,
        });
      } catch (err) {
        throw new Error(mailErrorReason(err));
      }
    },
    async send(em, mail) {
      const fork = em.fork();
      const now = new Date();
      const message = fork.create(MailMessage, {
        createdAt: now,
        to: mail.to,
        subject: mail.subject.slice(0, 300),
        text: mail.text,
        status: 'outbox',
        sentAt: null,
        error: null,
        // Claimed for the attempt made now, as the sender claims a due mail, so it never sends it
        // too; should this process stop mid-send, the sender takes it once the lease lapses.
        // Without a server it is due at once: the sender sends it when one is configured.
        attempts: smtpUrl ? 1 : 0,
        nextAttemptAt: smtpUrl ? new Date(now.getTime() + SEND_LEASE_MS) : now,
      });
      await fork.flush();
      if (!smtpUrl) {
        log.info({ mailId: message.id, to: mail.to, subject: message.subject }, 'mail kept in the outbox');
        return;
      }
      try {
        await (await transportFor(smtpUrl)).sendMail({ to: mail.to, subject: mail.subject, text: mail.text });
        message.status = 'sent';
        message.sentAt = new Date();
        message.nextAttemptAt = null;
        log.info({ mailId: message.id, to: mail.to, subject: message.subject }, 'mail sent');
      } catch (err) {
        message.error = mailErrorReason(err);
        if ((settings.mailMaxAttempts ?? 30) <= 1) {
          message.status = 'failed';
          message.nextAttemptAt = null;
          log.warn({ mailId: message.id, to: mail.to, reason: message.error }, 'mail could not be sent; gave up');
        } else {
          message.nextAttemptAt = new Date(now.getTime() + mailRetryDelayMs(1, settings.mailRetryBaseSeconds ?? 60));
          log.warn(
            { mailId: message.id, to: mail.to, reason: message.error, retryAt: message.nextAttemptAt.toISOString() },
            'mail could not be sent; will retry',
          );
        }
      }
      await fork.flush();
    },
    close() {
      transport?.close();
    },
  };
}
