// Mail through a real SMTP server on loopback (smtp-server), and the outbox when none is set.
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../core/logging.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import { createMailer } from '../../../core/mail/mailer.ts';
import { createTestApp, type TestApp } from '../../helpers/kernel.ts';

interface Received {
  from: string;
  to: string[];
  body: string;
}

let server: SMTPServer;
let port: number;
const received: Received[] = [];
let t: TestApp;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: false,
    disabledCommands: ['STARTTLS'],
    onAuth(auth, _session, callback) {
      if (auth.username === 'mailer' && auth.password === 's3cret-pass') return callback(null, { user: 'mailer' });
      return callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          body: Buffer.concat(chunks).toString('utf8'),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.server.address() as AddressInfo).port;
  t = await createTestApp();
});

afterAll(async () => {
  await t.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('mail', () => {
  it('sends through the configured SMTP server and records it as sent', async () => {
    const mailer = createMailer(
      { smtpUrl: `smtp://mailer:s3cret-pass@127.0.0.1:${port}`, mailFrom: 'Holdfast <noreply@holdfast.test>' },
      t.kernel.deps.log,
    );
    try {
      await mailer.send(t.kernel.orm.em.fork(), {
        to: 'jane@example.test',
        subject: 'Hello',
        text: 'Link: http://x/1',
      });
    } finally {
      mailer.close();
    }
    expect(received).toHaveLength(1);
    expect(received[0]?.from).toBe('noreply@holdfast.test');
    expect(received[0]?.to).toEqual(['jane@example.test']);
    expect(received[0]?.body).toContain('Link: http://x/1');
    const row = await t.kernel.orm.em.fork().findOneOrFail(MailMessage, { to: 'jane@example.test' });
    expect(row.status).toBe('sent');
  });

  it('keeps a refused message waiting for a retry, without the SMTP password anywhere', async () => {
    const lines: string[] = [];
    const log = createLogger(
      'debug',
      new Writable({
        write(chunk, _e, done) {
          lines.push(String(chunk));
          done();
        },
      }),
    );
    const mailer = createMailer(
      { smtpUrl: `smtp://mailer:wrong-pass@127.0.0.1:${port}`, mailFrom: 'h@holdfast.test' },
      log,
    );
    try {
      await mailer.send(t.kernel.orm.em.fork(), { to: 'bob@example.test', subject: 'Hi', text: 'body' });
    } finally {
      mailer.close();
    }
    const row = await t.kernel.orm.em.fork().findOneOrFail(MailMessage, { to: 'bob@example.test' });
    // Waiting in the outbox for the sender's next attempt (mail-retries.test.ts follows one through).
    expect([row.status, row.attempts]).toEqual(['outbox', 1]);
    expect(row.nextAttemptAt?.getTime()).toBe(row.createdAt.getTime() + 60_000);
    expect(row.error).toMatch(/Invalid|auth/i);
    expect(row.error).not.toContain('wrong-pass');
    expect(lines.join('\n')).not.toContain('wrong-pass');
    expect(lines.join('\n')).not.toContain('body');
  });

  it('keeps mail in the outbox when no server is configured, logging only recipient and subject', async () => {
    await t.kernel.deps.mailer.send(t.kernel.orm.em.fork(), {
      to: 'carol@example.test',
      subject: 'Reset',
      text: 'secret-link-token',
    });
    const row = await t.kernel.orm.em.fork().findOneOrFail(MailMessage, { to: 'carol@example.test' });
    expect(row.status).toBe('outbox');
    expect(t.logs.join('\n')).toContain('mail kept in the outbox');
    expect(t.logs.join('\n')).not.toContain('secret-link-token');
  });
});
