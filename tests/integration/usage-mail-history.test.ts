// The portal's usage report mailed as a ZIP (issue 20): queued in the outbox with the ZIP stored
// beside each message, its CSV the same as the download's, delivered by the notification sender
// to a real SMTP server on loopback with the file attached; recipients checked. And the monthly
// usage history: the hourly maintenance writes one sample per organization and day (the day's
// last pass wins), and each month's maximum and average of protected entities and stored bytes
// over an account and everything under it are shown on the account and in the API.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, type IUser, Organization } from '../../core/identity/entities.ts';
import { MailFile, MailMessage } from '../../core/mail/entities.ts';
import { runMaintenance } from '../../core/maintenance.ts';
import { runNotificationSender } from '../../core/notifications/sender.ts';
import { BackupTask, TaskEntity } from '../../core/tasks/entities.ts';
import { UsageSample } from '../../core/tenancy/usage-entities.ts';
import { json } from '../helpers/api.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../helpers/kernel.ts';
import { readZip } from '../helpers/recovery.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../helpers/smtp.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../helpers/tenants.ts';

let t: TestApp;
let smtp: LoopbackSmtp;
let partner: IOrganization;
let alpha: IOrganization;
let beta: IOrganization;
let admin: IUser;
let cookie: string;
let alphaEntities: string[];
const folder = mkdtempSync(join(tmpdir(), 'holdfast-usage-mail-'));
const em = () => t.kernel.orm.em.fork();

async function post(path: string, fields: [string, string][]): Promise<Response> {
  return t.app.request(path, {
    method: 'POST',
    headers: { cookie, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

async function bannerAfter(res: Response): Promise<string> {
  const flash = (res.headers.get('set-cookie') ?? '').split(';')[0];
  const html = await (await t.app.request('/portal', { headers: { cookie: `${cookie}; ${flash}` } })).text();
  return /class="alert alert-(?:success|error)" role="(?:status|alert)">([^<]*)</.exec(html)?.[1] ?? '';
}

/** A task with entities of these (protected?, logical bytes, stored bytes). */
async function taskWith(org: IOrganization, entities: [boolean, number, number][]): Promise<string[]> {
  const e = em();
  const task = e.create(BackupTask, {
    organization: org.id,
    service: 'test-service',
    name: `${org.name} mail`,
    connection: 'not-a-sealed-connection',
  });
  const made = entities.map(([active, logical, stored], i) =>
    e.create(TaskEntity, {
      task,
      externalId: `${org.name}-${i}`,
      name: `${org.name} user ${i}`,
      kind: 'user',
      pluginState: null,
      status: active ? 'success' : 'not_active',
      lastBytes: logical,
      storedBytes: stored,
      lastRunAt: new Date('2026-11-01T00:00:00Z'),
    }),
  );
  await e.flush();
  return made.map((x) => x.id);
}

async function setStored(ids: string[], stored: number): Promise<void> {
  const e = em();
  for (const entity of await e.find(TaskEntity, { id: { $in: ids } })) entity.storedBytes = stored;
  await e.flush();
}

async function unzipped(content: Buffer): Promise<Map<string, Buffer>> {
  const file = join(folder, `${crypto.randomUUID()}.zip`);
  writeFileSync(file, content);
  return readZip(file);
}

beforeAll(async () => {
  smtp = await startLoopbackSmtp();
  t = await createTestApp({ HOLDFAST_SMTP_URL: smtp.url });
  await completeSetupVia(t.app);
  const root = await rootOf(em());
  partner = await makeOrganization(em(), root, 'partner', 'Harbour IT');
  alpha = await makeOrganization(em(), partner, 'customer', 'Alpha Dental');
  beta = await makeOrganization(em(), partner, 'customer', 'Beta Books');
  admin = await makeUser(em(), partner, 'admin@harbour.example');
  cookie = await signIn(t.app, admin.email, TEST_PASSWORD);
  alphaEntities = await taskWith(alpha, [
    [true, 1000, 400],
    [true, 2000, 600],
    [false, 500, 0],
  ]);
  await taskWith(beta, [[true, 7000, 3000]]);
}, 60_000);

afterAll(async () => {
  await t.close();
  await smtp.close();
});

describe('the usage report mailed as a ZIP', () => {
  it('queues one mail to the requester with the ZIP of exactly the downloaded CSV, and the sender delivers it attached', async () => {
    const res = await post('/portal/usage/mail', [
      ['account', alpha.id],
      ['recipients', ''],
    ]);
    expect(res.status).toBe(303);
    expect(await bannerAfter(res)).toMatch(
      /^The usage report \(usage-report-\d{4}-\d{2}-\d{2}\.zip, 3 rows\) is on its way to admin@harbour\.example\.$/,
    );
    const mails = await em().find(MailMessage, { to: admin.email, status: 'outbox' });
    expect(mails).toHaveLength(1);
    const mail = mails[0] as (typeof mails)[number];
    expect(mail.subject).toMatch(/^Usage report of Harbour IT \(\d{4}-\d{2}-\d{2}\)$/);
    const file = await em().findOneOrFail(MailFile, { mail: mail.id }, { populate: ['content'] });
    expect(file.contentType).toBe('application/zip');
    const entries = await unzipped(Buffer.from(file.content));
    const csvName = file.fileName.replace(/\.zip$/, '.csv');
    expect([...entries.keys()]).toEqual([csvName]);
    const download = await (
      await t.app.request(`/portal/usage.csv?account=${alpha.id}`, { headers: { cookie } })
    ).text();
    // Response.text() drops the byte-order mark both files start with (for spreadsheets).
    const zipped = entries.get(csvName)?.toString('utf8') ?? '';
    expect(zipped.startsWith('\uFEFF')).toBe(true);
    expect(zipped.slice(1)).toBe(download);

    const report = await runNotificationSender(
      t.kernel.orm,
      t.kernel.deps.mailer,
      { mailRetryBaseSeconds: 1, mailMaxAttempts: 3 },
      t.kernel.deps.log,
      new Date(Date.now() + 1000),
    );
    expect(report).toEqual({ sent: 1, retrying: 0, failed: 0 });
    const received = smtp.received.find((m) => m.subject === mail.subject);
    expect(received?.to).toEqual([admin.email]);
    expect(received?.attachments.map((a) => [a.filename, a.contentType])).toEqual([
      [file.fileName, `application/zip; name=${file.fileName}`],
    ]);
    expect((await em().findOneOrFail(MailMessage, { id: mail.id })).status).toBe('sent');
  });

  it('mails the chosen recipients, and refuses a wrong address without queuing anything', async () => {
    const before = await em().count(MailMessage, {});
    const wrong = await post('/portal/usage/mail', [['recipients', 'billing@harbour.example, not-an-address']]);
    expect(await bannerAfter(wrong)).toBe('Not an email address: not-an-address.');
    expect(await em().count(MailMessage, {})).toBe(before);
    const res = await post('/portal/usage/mail', [['recipients', 'billing@harbour.example; CFO@harbour.example']]);
    expect(await bannerAfter(res)).toMatch(
      /, 4 rows\) is on its way to billing@harbour\.example, cfo@harbour\.example\.$/,
    );
    const queued = await em().find(MailMessage, { id: { $gt: before } }, { orderBy: { id: 'asc' } });
    expect(queued.map((m) => m.to)).toEqual(['billing@harbour.example', 'cfo@harbour.example']);
    expect(await em().count(MailFile, { mail: { $in: queued.map((m) => m.id) } })).toBe(2);
  });

  it('is the same through the API, and a foreign account is a 404 with nothing queued', async () => {
    const other = await makeOrganization(em(), await rootOf(em()), 'partner', 'Other MSP');
    const before = await em().count(MailMessage, {});
    const call = (body: unknown) =>
      t.app.request('/api/v1/usage/mail', {
        method: 'POST',
        headers: { cookie, origin: ORIGIN, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    expect((await call({ account: [other.id] })).status).toBe(404);
    expect(await em().count(MailMessage, {})).toBe(before);
    const ok = await call({ account: [beta.id], recipients: ['books@harbour.example'] });
    expect(ok.status).toBe(202);
    expect(await json(ok)).toMatchObject({ recipients: ['books@harbour.example'], rows: 1 });
    const tooMany = await call({ recipients: Array.from({ length: 11 }, (_, i) => `r${i}@x.example`) });
    expect(tooMany.status).toBe(422);
  });
});

describe('the monthly usage history', () => {
  it('samples each organization once a day, the last pass of the day winning', async () => {
    await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date('2026-11-03T01:00:00Z'));
    await setStored(alphaEntities, 1000);
    await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date('2026-11-03T23:00:00Z'));
    const samples = await em().find(UsageSample, { organization: alpha.id });
    expect(samples.map((s) => [s.day, s.protected, s.logicalBytes, s.storedBytes])).toEqual([
      ['2026-11-03', 2, 3500, 3000],
    ]);
  });

  it('sums each month of an account and its subtree into maximum and average, on the account and in the API', async () => {
    await setStored(alphaEntities, 500);
    await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date('2026-11-04T12:00:00Z'));
    await runMaintenance(t.kernel.orm, t.kernel.deps.log, new Date('2026-12-01T12:00:00Z'));
    // Alpha: 3000 stored bytes on Nov 3, 1500 on Nov 4 and Dec 1; Beta: 3000 on each day.
    const history = await json(
      await t.app.request(`/api/v1/organizations/${partner.id}/usage-history`, { headers: { cookie } }),
    );
    expect(history).toEqual({
      organizationId: partner.id,
      months: [
        {
          month: '2026-12',
          days: 1,
          maxProtected: 3,
          averageProtected: 3,
          maxStoredBytes: 4500,
          averageStoredBytes: 4500,
          maxLogicalBytes: 10500,
          averageLogicalBytes: 10500,
        },
        {
          month: '2026-11',
          days: 2,
          maxProtected: 3,
          averageProtected: 3,
          maxStoredBytes: 6000,
          averageStoredBytes: 5250,
          maxLogicalBytes: 10500,
          averageLogicalBytes: 10500,
        },
      ],
    });
    const alphaHistory = await json(
      await t.app.request(`/api/v1/organizations/${alpha.id}/usage-history`, { headers: { cookie } }),
    );
    expect(
      alphaHistory.months.map((m: { month: string; maxStoredBytes: number; averageStoredBytes: number }) => [
        m.month,
        m.maxStoredBytes,
        m.averageStoredBytes,
      ]),
    ).toEqual([
      ['2026-12', 1500, 1500],
      ['2026-11', 3000, 2250],
    ]);
    const page = await (await t.app.request(`/portal/accounts/${alpha.id}`, { headers: { cookie } })).text();
    expect(page).toContain('<h2 id="usage-heading" class="panel-title">Monthly usage</h2>');
    expect(page).toMatch(
      /<td data-label="Month" class="nowrap">2026-11<\/td>\s*<td data-label="Days sampled" class="num">2<\/td>\s*<td data-label="Protected \(max\)" class="num">2<\/td>\s*<td data-label="Protected \(average\)" class="num">2<\/td>\s*<td data-label="Stored \(max\)" class="num nowrap" title="3000 bytes">/,
    );
  });

  it("is a 404 for another tenant's account", async () => {
    const e = em();
    const foreign = await e.findOneOrFail(Organization, { name: 'Other MSP' });
    const res = await t.app.request(`/api/v1/organizations/${foreign.id}/usage-history`, { headers: { cookie } });
    expect(res.status).toBe(404);
  });
});
