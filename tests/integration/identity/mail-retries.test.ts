// Identity mail (password resets, invitations) through a real SMTP server on loopback that
// refuses for a while: the first attempt is made at once, the refused mail waits in the outbox
// and the notification sender retries it with backoff until it is delivered — once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MailMessage } from '../../../core/mail/entities.ts';
import { deliverDueMail } from '../../../core/notifications/sender.ts';
import { ADMIN, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../../helpers/smtp.ts';

let t: TestApp;
let smtp: LoopbackSmtp;

beforeAll(async () => {
  smtp = await startLoopbackSmtp();
  t = await createTestApp({ HOLDFAST_SMTP_URL: smtp.url, HOLDFAST_MAIL_RETRY_BASE_SECONDS: '60' });
  await t.app.request('/setup', form({ ...ADMIN, confirmPassword: ADMIN.password }));
}, 60_000);

afterAll(async () => {
  await t?.close();
  await smtp?.close();
});

const rowTo = (to: string) => t.kernel.orm.em.fork().findOneOrFail(MailMessage, { to }, { orderBy: { id: 'desc' } });
const mailsTo = (to: string) => smtp.received.filter((m) => m.to.includes(to));
/** One delivery pass of the sender at `now`. */
const pass = (now: Date) =>
  deliverDueMail(t.kernel.orm.em, t.kernel.deps.mailer, t.kernel.deps.config, t.kernel.deps.log, now);

describe('identity mail retries', () => {
  it('a password reset refused three times is delivered once, on the fourth attempt', async () => {
    smtp.refuseNext(3);
    const refusedBefore = smtp.refusals();
    const answer = await t.app.request('/forgot-password', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://localhost' },
      body: new URLSearchParams({ email: ADMIN.email }).toString(),
    });
    expect(answer.status).toBe(200);
    expect(smtp.refusals() - refusedBefore).toBe(1);
    let row = await rowTo(ADMIN.email);
    expect(row).toMatchObject({ status: 'outbox', attempts: 1, sentAt: null });
    expect(row.error).toContain('Mailbox busy');
    // Backoff: 60 s, then 120 s, then 240 s after each refusal.
    expect((row.nextAttemptAt as Date).getTime() - row.createdAt.getTime()).toBe(60_000);
    expect((await pass(new Date(row.createdAt.getTime() + 59_000))).retrying).toBe(0);
    for (let attempt = 2; attempt <= 4; attempt++) {
      const due = row.nextAttemptAt as Date;
      const report = await pass(due);
      row = await rowTo(ADMIN.email);
      expect(row.attempts).toBe(attempt);
      if (attempt < 4) {
        expect(report).toEqual({ sent: 0, retrying: 1, failed: 0 });
        expect((row.nextAttemptAt as Date).getTime() - due.getTime()).toBe(60_000 * 2 ** (attempt - 1));
      } else {
        expect(report).toEqual({ sent: 1, retrying: 0, failed: 0 });
      }
    }
    expect(row).toMatchObject({ status: 'sent', error: null, nextAttemptAt: null });
    expect(smtp.refusals() - refusedBefore).toBe(3);
    const delivered = mailsTo(ADMIN.email);
    expect(delivered).toHaveLength(1);
    expect(delivered[0]?.text).toMatch(/http:\/\/localhost\/reset-password\/[\w-]+/);
    // Later passes send nothing again.
    expect(await pass(new Date(Date.now() + 86_400_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(mailsTo(ADMIN.email)).toHaveLength(1);
  });

  it('an invitation the server refuses once waits in the outbox, then arrives once', async () => {
    const cookie = await signIn(t.app);
    smtp.refuseNext(1);
    const invited = await t.app.request('/settings/users/new', {
      ...form({ email: 'invitee@retry.example', displayName: 'Invitee', role: 'custom', permissions: 'restore' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(invited.status).toBe(303);
    const waiting = await rowTo('invitee@retry.example');
    expect(waiting).toMatchObject({ status: 'outbox', attempts: 1 });
    expect(mailsTo('invitee@retry.example')).toHaveLength(0);
    const outbox = await (await t.app.request('/settings/outbox', { headers: { cookie } })).text();
    expect(outbox).toContain('<span class="badge badge-warning">Waiting</span>');
    expect(await pass(waiting.nextAttemptAt as Date)).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await rowTo('invitee@retry.example')).toMatchObject({ status: 'sent', attempts: 2 });
    expect(mailsTo('invitee@retry.example')).toHaveLength(1);
    expect(mailsTo('invitee@retry.example')[0]?.subject).toMatch(/invit/i);
  });
});
