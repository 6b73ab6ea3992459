// The summary report end to end, through a real SMTP server on loopback: the scheduler queues it
// at the set hour in the settings' time zone (the test moves the clock), once per period; the
// mail lists per task and item the figures the task page shows, with the CSV attached or behind
// a tokened link only the organization's users can open; a partner's report covers its
// customers in one file or one per customer; "only when a backup failed" keeps a green day quiet.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Notification } from '../../../core/notifications/entities.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import { SummaryReport } from '../../../core/notifications/summary-entities.ts';
import { queueDueSummaryReports } from '../../../core/notifications/summary-report.ts';
import { type ReportSettings, saveReportSettings } from '../../../core/notifications/summary-settings.ts';
import { Scheduler } from '../../../core/scheduler/loop.ts';
import { discoverEntities } from '../../../core/tasks/discovery.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import { backupNow } from '../../../core/tasks/entity-actions.ts';
import testServicePlugin, { type TestServiceInput } from '../../fakes/test-service.ts';
import { parseCsv } from '../../helpers/csv.ts';
import { ACTOR, createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';
import { ADMIN, form } from '../../helpers/kernel.ts';
import { type LoopbackSmtp, type ReceivedMail, startLoopbackSmtp } from '../../helpers/smtp.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

const PUBLIC_URL = 'https://backup.example.test';
const HOUR = 3_600_000;
let h: JobsHarness;
let smtp: LoopbackSmtp;
let root: IOrganization;

beforeAll(async () => {
  smtp = await startLoopbackSmtp();
  h = await createJobsHarness({ HOLDFAST_SMTP_URL: smtp.url, HOLDFAST_PUBLIC_URL: PUBLIC_URL });
  const setup = form({ ...ADMIN, confirmPassword: ADMIN.password });
  await h.app.app.request('/setup', { ...setup, headers: { ...setup.headers, origin: PUBLIC_URL } });
  root = await rootOf(h.em());
}, 60_000);

afterAll(async () => {
  await h?.close();
  await smtp?.close();
});

const send = () =>
  runNotificationSender(h.app.kernel.orm, h.app.kernel.deps.mailer, h.app.kernel.deps.config, h.ctx.log, h.clock.now);
const mailsTo = (address: string) => smtp.received.filter((m) => m.to.includes(address));

/** Moves the clock forward to the next instant at `hh:mm` UTC. */
function advanceToUtc(hh: number, mm = 0) {
  const now = h.clock.now;
  const target = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hh, mm));
  if (target.getTime() <= now.getTime()) target.setUTCDate(target.getUTCDate() + 1);
  h.advance(target.getTime() - now.getTime());
}

async function settings(org: IOrganization, changes: Partial<ReportSettings>) {
  await saveReportSettings(
    h.em(),
    org,
    {
      enabled: true,
      format: 'overview',
      delivery: 'attachment',
      frequency: 'daily',
      hour: 7,
      timeZone: 'UTC',
      onlyWhenFailed: false,
      split: 'consolidated',
      ...changes,
    },
    h.clock.now,
  );
}

/** A task with its entities discovered and backed up once; paused so the scheduler leaves it alone. */
async function backedUpTask(org: IOrganization, name: string, connection: Partial<TestServiceInput>) {
  const created = await h.task(org, connection);
  let em = h.em();
  const task = await em.findOneOrFail(BackupTask, { id: created.id }, { populate: ['organization'] });
  task.name = name;
  await em.flush();
  await discoverEntities(em, task, testServicePlugin as never, h.ctx.credentials, {
    signal: AbortSignal.timeout(10_000),
    log: h.ctx.log,
    now: h.clock.now,
  });
  em = h.em();
  const entities = await em.find(TaskEntity, { task: task.id });
  await backupNow(
    em,
    await em.findOneOrFail(BackupTask, { id: task.id }),
    entities.map((e) => e.id),
    { kind: 'user', ...ACTOR },
    h.clock.now,
    3,
  );
  await h.runner.runUntilIdle();
  await h.em().nativeUpdate(BackupTask, { id: task.id }, { status: 'paused' });
  h.advance(1000);
  return task;
}

async function signInAs(email: string): Promise<string> {
  const login = form({ email, password: TEST_PASSWORD, next: '/' });
  const res = await h.app.app.request('/login', { ...login, headers: { ...login.headers, origin: PUBLIC_URL } });
  expect(res.status).toBe(303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

function csvOf(mail: ReceivedMail | undefined): string[][] {
  const attachment = mail?.attachments.find((a) => a.filename.endsWith('.csv'));
  expect(attachment?.contentType).toContain('text/csv');
  return parseCsv(attachment?.content ?? '').filter((r) => r.length > 1);
}

describe('the daily summary report', () => {
  it('is sent at the set hour of its time zone, once, with a CSV matching the task page figures', async () => {
    const customer = await makeOrganization(h.em(), root, 'customer', 'Daily Customer');
    await createRecipient(
      h.em(),
      customer,
      { email: 'ops@daily.example', displayName: 'Dana Daily', types: ['summary'] },
      h.clock.now,
    );
    await createRecipient(h.em(), customer, { email: 'other@daily.example', types: ['exceptions'] }, h.clock.now);
    const task = await backedUpTask(customer, 'Mailboxes', { entities: 2, items: 3, failEntities: ['user-002'] });
    advanceToUtc(5);
    // The hour in Berlin that is 07:00 UTC on the day ahead (8 in winter, 9 in summer).
    const sevenUtc = new Date(h.clock.now.getTime() + 2 * HOUR);
    const berlinHour = Number(
      new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hourCycle: 'h23' }).format(
        sevenUtc,
      ),
    );
    expect(berlinHour).toBeGreaterThan(7);
    await settings(customer, { hour: berlinHour, timeZone: 'Europe/Berlin' });
    const scheduler = new Scheduler(h.ctx);

    advanceToUtc(6, 59);
    await scheduler.tick();
    await send();
    expect(mailsTo('ops@daily.example')).toEqual([]);

    advanceToUtc(7, 0);
    await scheduler.tick();
    await scheduler.tick(); // a second tick (or node) in the same period queues nothing more
    await send();
    await send();
    const mails = mailsTo('ops@daily.example');
    expect(mails).toHaveLength(1);
    // Subscribed to exceptions only: the failed backup's mail, no summary.
    expect(mailsTo('other@daily.example').filter((m) => m.subject.startsWith('Summary'))).toEqual([]);
    const [mail] = mails;
    expect(mail?.subject).toMatch(/^Summary report, .+: 1 failed \(Daily Customer\)$/);
    expect(mail?.text).toContain('Hello Dana Daily,');
    expect(mail?.text).toContain('Daily Customer › Mailboxes');
    expect(mail?.text).toContain('cannot read user-002');
    expect(mail?.html).toContain('<table');
    expect(mail?.html).toContain(`href="${PUBLIC_URL}/tasks"`);

    // The CSV has the figures of the task page's usage download, item by item.
    const rows = csvOf(mail);
    expect(rows[0]).toEqual([
      'Organization',
      'Task',
      'Service',
      'Type',
      'Name',
      'Status',
      'Last backup (UTC)',
      'Items',
      'Size (bytes)',
      'Failure reason',
      'Restore drill',
    ]);
    await makeUser(h.em(), customer, 'admin@daily.example');
    const cookie = await signInAs('admin@daily.example');
    const usage = await h.app.app.request(`/tasks/${task.id}/usage.csv`, { headers: { cookie } });
    expect(usage.status).toBe(200);
    const [usageHead, ...usageRows] = parseCsv(await usage.text()).filter((r) => r.length > 1);
    const col = (name: string) => (usageHead ?? []).indexOf(name);
    const page = usageRows
      .map((r) => [
        r[col('Name')],
        r[col('Status')],
        r[col('Last backup (UTC)')],
        r[col('Items')],
        r[col('Size (bytes)')],
      ])
      .sort();
    const report = rows
      .slice(1)
      .map((r) => [r[4], r[5], r[6], r[7], r[8]])
      .sort();
    expect(report).toEqual(page);
    expect(report).toHaveLength(2);
    expect(rows.slice(1).find((r) => r[5] === 'Failed')?.[9]).toContain('cannot read user-002');

    // The next day at the same hour: the next report.
    advanceToUtc(7, 0);
    await scheduler.tick();
    await send();
    expect(mailsTo('ops@daily.example')).toHaveLength(2);
  });

  it('sends nothing on a green day when set to "only when a backup failed"', async () => {
    const customer = await makeOrganization(h.em(), root, 'customer', 'Green Customer');
    await createRecipient(h.em(), customer, { email: 'ops@green.example', types: ['summary'] }, h.clock.now);
    await backedUpTask(customer, 'All good', { entities: 2, items: 2 });
    advanceToUtc(5);
    await settings(customer, { onlyWhenFailed: true });
    advanceToUtc(7, 30);
    await queueDueSummaryReports(h.em(), h.clock.now);
    await send();
    expect(mailsTo('ops@green.example')).toEqual([]);
    expect(await h.em().count(Notification, { organization: customer.id, type: 'summary' })).toBe(0);
  });
});

describe('at a partner', () => {
  async function partnerWithTwoCustomers(name: string) {
    const partner = await makeOrganization(h.em(), root, 'partner', `${name} Partner`);
    const a = await makeOrganization(h.em(), partner, 'customer', `${name} Alpha`);
    const b = await makeOrganization(h.em(), partner, 'customer', `${name} Beta`);
    await createRecipient(
      h.em(),
      partner,
      { email: `noc@${name.toLowerCase()}.example`, types: ['summary'] },
      h.clock.now,
    );
    await backedUpTask(a, 'Alpha task', { entities: 1, items: 2 });
    await backedUpTask(b, 'Beta task', { entities: 2, items: 4, failEntities: ['user-001'] });
    return { partner, a, b, noc: `noc@${name.toLowerCase()}.example` };
  }

  it('consolidates its customers into one file', async () => {
    const { partner, noc } = await partnerWithTwoCustomers('Merged');
    advanceToUtc(5);
    await settings(partner, { split: 'consolidated' });
    advanceToUtc(7);
    await queueDueSummaryReports(h.em(), h.clock.now);
    await send();
    const mails = mailsTo(noc);
    expect(mails).toHaveLength(1);
    const rows = csvOf(mails[0]).slice(1);
    expect(new Set(rows.map((r) => r[0]))).toEqual(new Set(['Merged Alpha', 'Merged Beta']));
    expect(rows).toHaveLength(3);
    expect(mails[0]?.subject).toContain('(Merged Partner)');
  });

  it('sends one file per customer when set so, each with only that customer', async () => {
    const { partner, noc } = await partnerWithTwoCustomers('Split');
    advanceToUtc(5);
    await settings(partner, { split: 'per_customer', format: 'failures' });
    advanceToUtc(7);
    await queueDueSummaryReports(h.em(), h.clock.now);
    await send();
    const scope = (m: ReceivedMail) => /\(([^)]+)\)$/.exec(m.subject)?.[1] ?? '';
    const mails = mailsTo(noc).sort((x, y) => scope(x).localeCompare(scope(y)));
    expect(mails.map((m) => m.subject.replace(/^Summary report, [^:]+: /, ''))).toEqual([
      'all succeeded (Split Alpha)',
      '1 failed (Split Beta)',
    ]);
    // "Backup failure details": only the failed item, in Beta's file.
    expect(csvOf(mails[0]).slice(1)).toEqual([]);
    const beta = csvOf(mails[1]).slice(1);
    expect(beta.map((r) => [r[0], r[4], r[5]])).toEqual([['Split Beta', expect.any(String), 'Failed']]);
  });
});

describe('the link variant', () => {
  it('downloads the CSV for the organization’s users; another tenant gets a 404', async () => {
    const customer = await makeOrganization(h.em(), root, 'customer', 'Linked Customer');
    const stranger = await makeOrganization(h.em(), root, 'customer', 'Stranger Customer');
    await makeUser(h.em(), customer, 'admin@linked.example');
    await makeUser(h.em(), stranger, 'admin@stranger.example');
    await createRecipient(h.em(), customer, { email: 'ops@linked.example', types: ['summary'] }, h.clock.now);
    await backedUpTask(customer, 'Linked task', { entities: 1, items: 2 });
    advanceToUtc(5);
    await settings(customer, { delivery: 'link' });
    advanceToUtc(7);
    await queueDueSummaryReports(h.em(), h.clock.now);
    await send();
    const [mail] = mailsTo('ops@linked.example');
    expect(mail?.attachments).toEqual([]);
    const url = /https:\/\/backup\.example\.test(\/reports\/summary\/[^\s"]+)/.exec(mail?.text ?? '')?.[1] ?? '';
    expect(url).toMatch(/^\/reports\/summary\/[0-9a-f-]{36}\.csv\?token=/);

    const own = await h.app.app.request(url, { headers: { cookie: await signInAs('admin@linked.example') } });
    expect(own.status).toBe(200);
    expect(own.headers.get('content-type')).toContain('text/csv');
    const rows = parseCsv(await own.text()).filter((r) => r.length > 1);
    expect(rows[1]?.slice(0, 2)).toEqual(['Linked Customer', 'Linked task']);

    const strangerCookie = await signInAs('admin@stranger.example');
    expect((await h.app.app.request(url, { headers: { cookie: strangerCookie } })).status).toBe(404);
    const wrongToken = url.replace(/token=.*/, 'token=not-the-token');
    const ownCookie = await signInAs('admin@linked.example');
    expect((await h.app.app.request(wrongToken, { headers: { cookie: ownCookie } })).status).toBe(404);

    // Past its expiry (14 days) the link no longer works.
    await h.em().nativeUpdate(SummaryReport, {}, { expiresAt: new Date(Date.now() - HOUR) });
    expect((await h.app.app.request(url, { headers: { cookie: await signInAs('admin@linked.example') } })).status).toBe(
      410,
    );
  });
});
