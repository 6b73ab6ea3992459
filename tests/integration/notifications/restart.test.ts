// The notification queue survives a restart: the appliance's kernel is closed between two send
// attempts and opened again on the same data folder (the queue is in its database), and the
// mail is delivered once — also when the process stopped in the middle of a send, after the
// claim and before it could record the outcome. Identity mail (a reset refused at once) too.
import { afterEach, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { type Kernel, openKernel } from '../../../core/appliance.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { createLogger } from '../../../core/logging.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { fanOutNotifications, runNotificationSender } from '../../../core/notifications/sender.ts';
import { raiseSmartAlert } from '../../../core/notifications/smart-alerts.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../../helpers/smtp.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const log = createLogger('silent');

async function start(
  env: Record<string, string> = {},
): Promise<{ smtp: LoopbackSmtp; open: () => Promise<Kernel>; t0: Date }> {
  const smtp = await startLoopbackSmtp();
  const dir = tempDir();
  cleanups.push(dir.remove, () => smtp.close());
  const config = testConfig(dir.path, {
    HOLDFAST_SMTP_URL: smtp.url,
    HOLDFAST_PUBLIC_URL: 'https://backup.example.test',
    HOLDFAST_MAIL_RETRY_BASE_SECONDS: '60',
    ...env,
  });
  return { smtp, open: () => openKernel(config, log), t0: new Date(Math.floor(Date.now() / 1000) * 1000) };
}

async function alertFor(kernel: Kernel, at: Date): Promise<IOrganization> {
  const em = kernel.orm.em.fork();
  const id = crypto.randomUUID();
  const org = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Restart Co' });
  await em.flush();
  await createRecipient(em, org, { email: 'ops@restart.example', displayName: 'Ops', types: ['smart_alerts'] }, at);
  await raiseSmartAlert(kernel.orm.em.fork(), {
    organizationId: id,
    key: `restart:${id}`,
    title: 'Storage almost full',
    message: 'The storage location is 95% full.',
    at,
  });
  return org;
}

const pass = (k: Kernel, at: Date) => runNotificationSender(k.orm, k.deps.mailer, k.deps.config, log, at);
const later = (t0: Date, seconds: number) => new Date(t0.getTime() + seconds * 1000);

describe('a restart between send attempts', () => {
  it('delivers the mail once, after the restart', async () => {
    const { smtp, open, t0 } = await start();
    let kernel = await open();
    await alertFor(kernel, t0);
    smtp.refuseNext(1);
    expect(await pass(kernel, t0)).toEqual({ sent: 0, retrying: 1, failed: 0 });
    await kernel.close();

    kernel = await open();
    cleanups.push(() => kernel.close());
    expect(await pass(kernel, later(t0, 30))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(await pass(kernel, later(t0, 61))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await pass(kernel, later(t0, 3600))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(smtp.received.map((m) => [m.to, m.subject])).toEqual([
      [['ops@restart.example'], 'Storage almost full (Restart Co)'],
    ]);
    expect(await kernel.orm.em.fork().findOneOrFail(MailMessage, { to: 'ops@restart.example' })).toMatchObject({
      status: 'sent',
      attempts: 2,
    });
  });

  it('sends a mail claimed by a process that stopped mid-send once, when its claim lapses', async () => {
    const { smtp, open, t0 } = await start();
    let kernel = await open();
    await alertFor(kernel, t0);
    await fanOutNotifications(kernel.orm.em, kernel.deps.config, t0);
    // What a sender does before it talks to the mail server; then the process is gone.
    const em = kernel.orm.em.fork();
    const mail = await em.findOneOrFail(MailMessage, { to: 'ops@restart.example' });
    await em.nativeUpdate(MailMessage, { id: mail.id }, { attempts: 1, nextAttemptAt: later(t0, 300) });
    await kernel.close();

    kernel = await open();
    cleanups.push(() => kernel.close());
    expect(await pass(kernel, later(t0, 60))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(await pass(kernel, later(t0, 301))).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await pass(kernel, later(t0, 7200))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(smtp.received).toHaveLength(1);
  });

  it('delivers a refused identity mail (a password reset) once, after a restart', async () => {
    const { smtp, open } = await start();
    let kernel = await open();
    smtp.refuseNext(1);
    // The identity mail's own first attempt, at once (core/mail/mailer.ts), refused.
    await kernel.deps.mailer.send(kernel.orm.em.fork(), {
      to: 'user@restart.example',
      subject: 'Reset your Holdfast password',
      text: 'Open https://backup.example.test/reset-password/one-time-token',
    });
    const waiting = await kernel.orm.em.fork().findOneOrFail(MailMessage, { to: 'user@restart.example' });
    expect(waiting).toMatchObject({ status: 'outbox', attempts: 1 });
    await kernel.close();

    kernel = await open();
    cleanups.push(() => kernel.close());
    const due = waiting.nextAttemptAt as Date;
    expect(await pass(kernel, new Date(due.getTime() - 1000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(await pass(kernel, due)).toEqual({ sent: 1, retrying: 0, failed: 0 });
    expect(await pass(kernel, new Date(due.getTime() + 7_200_000))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    expect(smtp.received.map((m) => [m.to, m.subject])).toEqual([
      [['user@restart.example'], 'Reset your Holdfast password'],
    ]);
    // Identity mail is not a notification: no "Notification sent" row (its link is a secret).
    expect(await kernel.orm.em.fork().count(ActivityEvent, { activity: 'Notification sent' })).toBe(0);
  });

  it('stops a pass at the first refusal, so a server that is down costs the other mail no attempt', async () => {
    const { smtp, open, t0 } = await start();
    const kernel = await open();
    cleanups.push(() => kernel.close());
    const org = await alertFor(kernel, t0);
    await createRecipient(kernel.orm.em.fork(), org, { email: 'second@restart.example', types: ['smart_alerts'] }, t0);
    await raiseSmartAlert(kernel.orm.em.fork(), {
      organizationId: org.id,
      key: `second:${org.id}`,
      title: 'Another alert',
      message: 'Another one.',
      at: t0,
    });
    smtp.refuseNext(10);
    expect(await pass(kernel, t0)).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect(smtp.refusals()).toBe(1);
    const rows = await kernel.orm.em.fork().find(MailMessage, {}, { orderBy: { id: 'asc' } });
    expect(rows.map((m) => m.attempts)).toEqual([1, 0, 0, 0]);
  });

  it('marks a mail Failed after its last attempt, with a System Activity row', async () => {
    const { smtp, open, t0 } = await start({ HOLDFAST_MAIL_MAX_ATTEMPTS: '2' });
    const kernel = await open();
    cleanups.push(() => kernel.close());
    const org = await alertFor(kernel, t0);
    smtp.refuseNext(10);
    expect(await pass(kernel, t0)).toEqual({ sent: 0, retrying: 1, failed: 0 });
    expect(await pass(kernel, later(t0, 61))).toEqual({ sent: 0, retrying: 0, failed: 1 });
    expect(await pass(kernel, later(t0, 7200))).toEqual({ sent: 0, retrying: 0, failed: 0 });
    const em = kernel.orm.em.fork();
    expect(await em.findOneOrFail(MailMessage, { to: 'ops@restart.example' })).toMatchObject({
      status: 'failed',
      attempts: 2,
      nextAttemptAt: null,
    });
    const rows = await em.find(ActivityEvent, { organization: org.id, activity: 'Notification failed' });
    expect(rows.map((r) => [r.status, r.summary])).toEqual([
      [
        'failed',
        'Smart alerts to ops@restart.example could not be sent after 2 attempts: Mail command failed: 451 Mailbox busy, try again later',
      ],
    ]);
  });
});
