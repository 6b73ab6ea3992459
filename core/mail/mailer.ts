// Outgoing mail. Every message is stored first; with an SMTP server configured it is then sent
// through nodemailer, otherwise it stays in the outbox for the root administrator to read.
// The log records that a message exists (recipient, subject), never its body: bodies carry
// single-use links.
import type { EntityManager } from '@mikro-orm/core';
import nodemailer, { type Transporter } from 'nodemailer';
import type { Logger } from '../logging.ts';
import { MailMessage } from './entities.ts';

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
}

export function createMailer(settings: MailSettings, log: Logger): Mailer {
  const transport: Transporter | undefined = settings.smtpUrl
    ? nodemailer.createTransport(
        { url: settings.smtpUrl, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 20_000 } as never,
        { from: settings.mailFrom },
      )
    : undefined;
  return {
    configured: transport !== undefined,
    async deliver(mail) {
      if (!transport) throw new Error('no mail server is configured');
      try {
        await transport.sendMail({
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
      const message = fork.create(MailMessage, {
        to: mail.to,
        subject: mail.subject.slice(0, 300),
        text: mail.text,
        status: 'outbox',
        sentAt: null,
        error: null,
      });
      await fork.flush();
      if (!transport) {
        log.info({ mailId: message.id, to: mail.to, subject: message.subject }, 'mail kept in the outbox');
        return;
      }
      try {
        await transport.sendMail({ to: mail.to, subject: mail.subject, text: mail.text });
        message.status = 'sent';
        message.sentAt = new Date();
        log.info({ mailId: message.id, to: mail.to, subject: message.subject }, 'mail sent');
      } catch (err) {
        message.status = 'failed';
        message.error = mailErrorReason(err);
        log.warn(
          { mailId: message.id, to: mail.to, reason: message.error },
          'mail could not be sent; kept in the outbox',
        );
      }
      await fork.flush();
    },
    close() {
      transport?.close();
    },
  };
}
