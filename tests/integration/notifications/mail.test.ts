// Notification mail end to end, through a real SMTP server on loopback: backup runs of the test
// service open and resolve incidents (one exceptions mail per incident), a finished export mails
// its download link, discovery mails new items, partner recipients stand in for a customer
// without its own, and a mail server that refuses for a while only delays the mail.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import type { NotificationType } from '../../../core/notifications/entities.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import { ExportResult } from '../../../core/recovery/entities.ts';
import { startExport } from '../../../core/recovery/start.ts';
import { StorageLocation } from '../../../core/storage-locations/entities.ts';
import { BUILTIN_LOCATION_ID } from '../../../core/storage-locations/locations.ts';
import { sealConnection } from '../../../core/tasks/connection.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin, { type TestServiceInput, VALID_TOKEN } from '../../fakes/test-service.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { ADMIN, form } from '../../helpers/kernel.ts';
import { backedUpTask, startContext } from '../../helpers/recovery.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../../helpers/smtp.ts';
import { makeOrganization, rootOf } from '../../helpers/tenants.ts';

const PUBLIC_URL = 'https://backup.example.test';
let h: JobsHarness;
let smtp: LoopbackSmtp;
let root: IOrganization;

beforeAll(async () => {
  smtp = await startLoopbackSmtp();
  h = await createJobsHarness({
    HOLDFAST_SMTP_URL: smtp.url,
    HOLDFAST_PUBLIC_URL: PUBLIC_URL,
    HOLDFAST_MAIL_RETRY_BASE_SECONDS: '60',
  });
  // Forms are accepted from the public address only (HOLDFAST_PUBLIC_URL sets it).
  const setup = form({ ...ADMIN, confirmPassword: ADMIN.password });
  await h.app.app.request('/setup', { ...setup, headers: { ...setup.headers, origin: PUBLIC_URL } });
  root = await rootOf(h.em());
}, 60_000);

afterAll(async () => {
  await h?.close();
  await smtp?.close();
});

/** One pass of the sender, as its loop runs it, at the test's clock. */
const send = () =>
  runNotificationSender(h.app.kernel.orm, h.app.kernel.deps.mailer, h.app.kernel.deps.config, h.ctx.log, h.clock.now);

async function adminCookie(): Promise<string> {
  const login = form({ email: ADMIN.email, password: ADMIN.password, next: '/' });
  const signedIn = await h.app.app.request('/login', { ...login, headers: { ...login.headers, origin: PUBLIC_URL } });
  return (signedIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

const mailsTo = (address: string) => smtp.received.filter((m) => m.to.includes(address));

async function partnerWithCustomer(name: string) {
  const partner = await makeOrganization(h.em(), root, 'partner', `${name} Partner`);
  const customer = await makeOrganization(h.em(), partner, 'customer', `${name} Customer`);
  return { partner, customer };
}

async function recipient(org: IOrganization, email: string, displayName: string, types: NotificationType[]) {
  await createRecipient(h.em(), org, { email, displayName, types }, h.clock.now);
}

async function namedTask(org: IOrganization, name: string, connection: Partial<TestServiceInput>) {
  const created = await h.task(org, connection);
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: created.id });
  task.name = name;
  await em.flush();
  return task;
}

async function discover(taskId: string) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId }, { populate: ['organization'] });
  await discoverEntities(em, task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  return h.em().find(TaskEntity, { task: taskId }, { orderBy: { externalId: 'asc' } });
}

async function reconnect(taskId: string, connection: Partial<TestServiceInput>) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  // The account h.task() connected, so the entities keep their names.
  const account = `acct-${task.organization.id.slice(0, 8)}`;
  const settings = testServicePlugin.settings.parse({ account, token: VALID_TOKEN, ...connection });
  task.connection = sealConnection(h.ctx.credentials, taskId, settings);
  await em.flush();
}

async function backupAll(taskId: string) {
  const em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: taskId });
  const entities = await em.find(TaskEntity, { task: taskId, status: { $ne: 'archived' } });
  await backupNow(
    em,
    task,
    entities.map((e) => e.id),
    { kind: 'user', ...ACTOR },
    h.clock.now,
    3,
  );
  await h.runner.runUntilIdle();
  h.advance(1000);
}

describe('exceptions', () => {
  it('mails each subscribed recipient once per incident, and again when it is resolved', async () => {
    const { customer } = await partnerWithCustomer('Incident');
    await recipient(customer, 'ops@incident.example', 'Olga Ops', ['exceptions']);
    await recipient(customer, 'boss@incident.example', 'Bo Boss', ['exceptions', 'recovery']);
    await recipient(customer, 'quiet@incident.example', 'Quinn Quiet', ['recovery', 'discovery']);
    const task = await namedTask(customer, 'Mailboxes', { entities: 1, items: 3, failEntities: ['user-001'] });
    await discover(task.id);

    await backupAll(task.id);
    await send();
    for (const [address, name] of [
      ['ops@incident.example', 'Olga Ops'],
      ['boss@incident.example', 'Bo Boss'],
    ] as const) {
      const mails = mailsTo(address);
      expect(mails).toHaveLength(1);
      const [mail] = mails;
      expect(mail?.subject).toBe('Backup failed: Mailboxes (Incident Customer)');
      expect(mail?.text).toContain(`Hello ${name},`);
      expect(mail?.text).toContain('The test service cannot read user-001');
      expect(mail?.text).toContain(`${PUBLIC_URL}/tasks/${task.id}`);
      expect(mail?.html).toContain(`Hello ${name},`);
      expect(mail?.html).toContain(`href="${PUBLIC_URL}/tasks/${task.id}"`);
    }
    expect(mailsTo('quiet@incident.example')).toEqual([]);

    // The same task fails again: the incident is open, nobody is mailed again.
    await backupAll(task.id);
    await send();
    expect(mailsTo('ops@incident.example')).toHaveLength(1);
    expect(mailsTo('boss@incident.example')).toHaveLength(1);

    // The next run succeeds: one "resolved" mail each.
    await reconnect(task.id, { entities: 1, items: 3 });
    await backupAll(task.id);
    await send();
    const ops = mailsTo('ops@incident.example');
    expect(ops.map((m) => m.subject)).toEqual([
      'Backup failed: Mailboxes (Incident Customer)',
      'Resolved: backups of Mailboxes succeed again (Incident Customer)',
    ]);
    expect(mailsTo('boss@incident.example')).toHaveLength(2);
    expect(mailsTo('quiet@incident.example')).toEqual([]);

    const activity = await h.em().find(ActivityEvent, { organization: customer.id, activity: 'Notification sent' });
    expect(activity.map((a) => a.summary).sort()).toEqual(
      [
        'Exceptions notification sent to boss@incident.example: Backup failed: Mailboxes (Incident Customer)',
        'Exceptions notification sent to boss@incident.example: Resolved: backups of Mailboxes succeed again (Incident Customer)',
        'Exceptions notification sent to ops@incident.example: Backup failed: Mailboxes (Incident Customer)',
        'Exceptions notification sent to ops@incident.example: Resolved: backups of Mailboxes succeed again (Incident Customer)',
      ].sort(),
    );
  });

  it('goes to the partner’s recipients unless the customer has its own for the type', async () => {
    const { partner, customer: inherits } = await partnerWithCustomer('Inherit');
    const own = await makeOrganization(h.em(), partner, 'customer', 'Own Recipients Customer');
    await recipient(partner, 'noc@partner.example', 'Partner NOC', ['exceptions']);
    await recipient(own, 'it@own.example', 'Own IT', ['exceptions']);
    // The customer's recovery-only recipient does not stop the partner's exceptions mail.
    await recipient(inherits, 'exports@inherits.example', 'Exports Desk', ['recovery']);
    const a = await namedTask(inherits, 'Inherited task', { entities: 1, failEntities: ['user-001'] });
    const b = await namedTask(own, 'Own task', { entities: 1, failEntities: ['user-001'] });
    await discover(a.id);
    await discover(b.id);
    await backupAll(a.id);
    await backupAll(b.id);
    await send();
    expect(mailsTo('noc@partner.example').map((m) => m.subject)).toEqual([
      'Backup failed: Inherited task (Inherit Customer)',
    ]);
    expect(mailsTo('it@own.example').map((m) => m.subject)).toEqual([
      'Backup failed: Own task (Own Recipients Customer)',
    ]);
    expect(mailsTo('exports@inherits.example')).toEqual([]);
  });
});

describe('a storage location that stops answering', () => {
  it('mails its owner once per outage, however many backups fail, and again when it is back', async () => {
    await recipient(root, 'storage@operator.example', 'Storage Desk', ['exceptions']);
    const { customer } = await partnerWithCustomer('Outage');
    const task = await namedTask(customer, 'Files', { entities: 1, items: 2 });
    await discover(task.id);
    // The built-in location's folder of this account is gone and a file is in its place: the
    // local disk answers nothing but "not a folder" (as an unmounted or replaced disk would).
    const folder = join(h.app.kernel.deps.config.storageDir, 'organizations', customer.id);
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(dirname(folder), { recursive: true });
    writeFileSync(folder, 'not a folder');
    const storageMails = () => mailsTo('storage@operator.example').filter((m) => /storage location/i.test(m.subject));

    await backupAll(task.id);
    // Another account's repository at the same location still answers: the outage stays open.
    const { customer: healthy } = await partnerWithCustomer('Healthy');
    const fine = await namedTask(healthy, 'Fine files', { entities: 1, items: 1 });
    await discover(fine.id);
    await backupAll(fine.id);
    await backupAll(task.id);
    await send();
    const location = await h.em().findOneOrFail(StorageLocation, { id: BUILTIN_LOCATION_ID });
    expect(storageMails().map((m) => m.subject)).toEqual([
      `Storage location not answering: ${location.name} (${root.name})`,
    ]);
    const [down] = storageMails();
    expect(down?.text).toContain('Hello Storage Desk,');
    expect(down?.text).toContain(`The storage location "${location.name}" of ${root.name} did not answer`);
    expect(down?.text).toContain(`${PUBLIC_URL}/settings/storage`);
    expect(down?.html).toContain(`href="${PUBLIC_URL}/settings/storage"`);

    // Back: the next backup opens it, and one "answers again" mail follows.
    rmSync(folder, { force: true });
    await backupAll(task.id);
    await send();
    expect(storageMails().map((m) => m.subject)).toEqual([
      `Storage location not answering: ${location.name} (${root.name})`,
      `Resolved: storage location ${location.name} answers again (${root.name})`,
    ]);
    // A later backup mails nothing more about it.
    await backupAll(task.id);
    await send();
    expect(storageMails()).toHaveLength(2);
  });
});

describe('a task that becomes Disconnected', () => {
  it('mails once when the service refuses the credentials, and again when they work', async () => {
    const { customer } = await partnerWithCustomer('Revoked');
    await recipient(customer, 'ops@revoked.example', 'Revoked Ops', ['exceptions']);
    const task = await namedTask(customer, 'CRM', { entities: 1 });
    await discover(task.id);
    await reconnect(task.id, { entities: 1, token: 'expired' });
    await expect(discover(task.id)).rejects.toThrow('refused the token');
    await expect(discover(task.id)).rejects.toThrow('refused the token');
    // Its backups fail meanwhile: the disconnection is the incident, not each failed run.
    await backupAll(task.id);
    await send();
    const [mail, ...more] = mailsTo('ops@revoked.example');
    expect(more).toEqual([]);
    expect(mail?.subject).toBe('Task disconnected: CRM (Revoked Customer)');
    expect(mail?.text).toContain('The test service refused the token (401).');

    await reconnect(task.id, { entities: 1 });
    h.advance(1000);
    await discover(task.id);
    await send();
    expect(mailsTo('ops@revoked.example').map((m) => m.subject)).toEqual([
      'Task disconnected: CRM (Revoked Customer)',
      'Resolved: CRM is connected again (Revoked Customer)',
    ]);
  });
});

describe('recovery', () => {
  it('mails a finished export with a download link that works', async () => {
    await recipient(root, 'restores@root.example', 'Restore Desk', ['recovery']);
    const source = await backedUpTask(h, root, {}, 1, 'Root mailboxes');
    const first = source.entities[0] as { id: string };
    const started = await startExport(startContext(h, root), {
      taskId: source.task.id,
      entityId: first.id,
      snapshotId: source.snapshotId,
      label: 'Quarter close',
    });
    await h.runner.runUntilIdle();
    await send();
    const [mail, ...more] = mailsTo('restores@root.example');
    expect(more).toEqual([]);
    expect(mail?.subject).toBe(`Export succeeded: Quarter close (${root.name})`);
    expect(mail?.text).toContain('Hello Restore Desk,');
    const link = new RegExp(`${PUBLIC_URL}(/jobs/[^\\s]+/download)`).exec(mail?.text ?? '')?.[1];
    expect(link).toBe(`/jobs/${started.id}/download`);
    expect(mail?.html).toContain(`href="${PUBLIC_URL}${link}"`);

    const cookie = await adminCookie();
    const download = await h.app.app.request(link as string, { headers: { cookie } });
    expect(download.status).toBe(200);
    const result = await h.em().findOneOrFail(ExportResult, { job: started.id });
    expect((await download.arrayBuffer()).byteLength).toBe(result.size);
  });
});

describe('auto-discovery', () => {
  it('mails the items a later discovery finds', async () => {
    const { customer } = await partnerWithCustomer('Discovery');
    await recipient(customer, 'watch@discovery.example', 'Watcher', ['discovery']);
    const task = await namedTask(customer, 'Team', { entities: 2 });
    await discover(task.id);
    await send();
    // The first discovery finds everything: that is the task's set-up, not news.
    expect(mailsTo('watch@discovery.example')).toEqual([]);

    await reconnect(task.id, { entities: 3, removed: ['user-001'] });
    h.advance(1000);
    await discover(task.id);
    await send();
    const [mail, ...more] = mailsTo('watch@discovery.example');
    expect(more).toEqual([]);
    expect(mail?.subject).toBe('Team: 1 new item, 1 archived (Discovery Customer)');
    const account = `acct-${customer.id.slice(0, 8)}`;
    expect(mail?.text).toContain(
      `Discovery found new items in task "Team" of Discovery Customer: user-003@${account}.example.`,
    );
    expect(mail?.text).toContain(`archived (their backups are kept): user-001@${account}.example.`);
  });
});

describe('a mail server that is down', () => {
  it('delays the mail: refused three times, delivered once on the fourth attempt', async () => {
    const { customer } = await partnerWithCustomer('Outage');
    await recipient(customer, 'ops@outage.example', 'Outage Ops', ['exceptions']);
    const task = await namedTask(customer, 'Drive', { entities: 1, failEntities: ['user-001'] });
    await discover(task.id);
    smtp.refuseNext(3);
    const refusedBefore = smtp.refusals();
    // The backup ends (Failed) whatever the mail server does: sending is not part of the job.
    await backupAll(task.id);
    const row = () => h.em().findOneOrFail(MailMessage, { to: 'ops@outage.example' });

    for (let attempt = 1; attempt <= 3; attempt++) {
      await send();
      expect(smtp.refusals() - refusedBefore).toBe(attempt);
      const waiting = await row();
      expect(waiting).toMatchObject({ status: 'outbox', attempts: attempt });
      expect(waiting.error).toContain('Mailbox busy');
      if (attempt === 1) {
        const outbox = await (
          await h.app.app.request('/settings/outbox', { headers: { cookie: await adminCookie() } })
        ).text();
        expect(outbox).toContain('<span class="badge badge-warning">Waiting</span>');
        expect(outbox).toContain('Attempt 1 failed: ');
      }
      // Not due before its backoff (60 s, 120 s, 240 s): a pass now sends nothing.
      await send();
      expect(smtp.refusals() - refusedBefore).toBe(attempt);
      h.advance(60_000 * 2 ** (attempt - 1));
    }
    await send();
    await send();
    expect(mailsTo('ops@outage.example')).toHaveLength(1);
    expect(await row()).toMatchObject({ status: 'sent', attempts: 4, error: null });
  });
});

describe('smart alerts', () => {
  it('are raised by one call and mailed to their subscribers', async () => {
    const { raiseSmartAlert } = await import('../../../core/notifications/smart-alerts.ts');
    const { customer } = await partnerWithCustomer('Alerts');
    await recipient(customer, 'alerts@alerts.example', 'Alert Desk', ['smart_alerts']);
    const alert = {
      organizationId: customer.id,
      key: `deletions:${customer.id}:2026-12-07`,
      title: 'Unusual deletions',
      message: '412 records were deleted since the last backup.',
      at: h.clock.now,
    };
    await raiseSmartAlert(h.em(), alert);
    await raiseSmartAlert(h.em(), alert);
    await send();
    const mails = mailsTo('alerts@alerts.example');
    expect(mails.map((m) => m.subject)).toEqual(['Unusual deletions (Alerts Customer)']);
    expect(mails[0]?.text).toContain('412 records were deleted since the last backup.');
  });
});
