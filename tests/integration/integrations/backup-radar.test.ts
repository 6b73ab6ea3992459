// Backup Radar by e-mail, in its documented generic format: each batch of backup runs becomes one
// mail through the appliance's mail server (a real SMTP server on loopback here) whose subject
// starts with "Backup Report CSV" and whose one attachment is a CSV with the columns Backup
// Radar reads (Device, Status, Backup Date required; Job, Client, Data Size optional), each run
// reported once; other activity is not sent.
import { afterEach, describe, expect, it } from 'vitest';
import { ActivityEvent } from '../../../core/activity/entities.ts';
import { type Kernel, openKernel } from '../../../core/appliance.ts';
import { ValidationError } from '../../../core/errors.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { createIntegration } from '../../../core/integrations/integrations.ts';
import { type IntegrationDeps, runIntegrationSender, sendIntegrationTest } from '../../../core/integrations/sender.ts';
import { createLogger } from '../../../core/logging.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { type LoopbackSmtp, startLoopbackSmtp } from '../../helpers/smtp.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const log = createLogger('silent');
const ACTOR = { label: 'tech@msp.example', id: 'u1', ip: '192.0.2.7' };
const INBOX = 'msp-one@inbound.backupradar.example';

async function setup(): Promise<{ k: Kernel; smtp: LoopbackSmtp; partner: IOrganization; northwind: IOrganization }> {
  const smtp = await startLoopbackSmtp();
  const dir = tempDir();
  cleanups.push(dir.remove, () => smtp.close());
  const k = await openKernel(testConfig(dir.path, { HOLDFAST_SMTP_URL: smtp.url }), log);
  cleanups.push(() => k.close());
  const em = k.orm.em.fork();
  const id = crypto.randomUUID();
  const root = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Appliance' });
  await em.flush();
  const partner = await makeOrganization(em, root, 'partner', 'MSP One');
  const northwind = await makeOrganization(em, partner, 'customer', 'Northwind');
  return { k, smtp, partner, northwind };
}

const deps = (k: Kernel): IntegrationDeps => ({ orm: k.orm, cipher: k.credentials, settings: k.deps.config, log });

async function run(k: Kernel, org: IOrganization, activity: string, item: string, status: string, at: Date) {
  await k.orm.em.fork().insert(ActivityEvent, {
    at,
    organization: org.id,
    activity,
    service: 'dropbox',
    serviceLabel: 'Dropbox',
    subService: 'Users',
    status,
    taskId: 'a0000000-0000-4000-8000-000000000001',
    taskName: 'Mailboxes',
    item,
    jobId: crypto.randomUUID(),
    startedAt: new Date(at.getTime() - 60_000),
    durationMs: 60_000,
    bytes: 123456,
    items: 3,
    summary: `${activity} of ${item}: ${status}`,
  } as never);
}

/** RFC 4180 lines without quoted commas (the rows here have none). */
const csvRows = (text: string) =>
  text
    .replace(/^\uFEFF/, '')
    .split('\r\n')
    .filter(Boolean)
    .map((l) => l.split(','));

describe('Backup Radar', () => {
  it('mails each batch of backup runs once as a "Backup Report CSV" with one CSV attachment', async () => {
    const { k, smtp, partner, northwind } = await setup();
    await createIntegration(
      k.orm.em.fork(),
      k.credentials,
      partner,
      { kind: 'backup-radar', streams: [], settings: { address: INBOX } },
      { allowPrivate: false },
      ACTOR,
      new Date(),
    );
    const t0 = new Date('2026-12-07T06:21:56.000Z');
    await run(k, northwind, 'Backup', 'anna@northwind.example', 'succeeded', t0);
    await run(k, northwind, 'Backup', 'ben@northwind.example', 'failed', t0);
    await run(k, northwind, 'Backup', 'carl@northwind.example', 'partially_succeeded', t0);
    await run(k, northwind, 'Restore', 'anna@northwind.example', 'succeeded', t0);

    expect(await runIntegrationSender(deps(k), new Date())).toBe(4);
    expect(await runIntegrationSender(deps(k), new Date())).toBe(0);
    await runNotificationSender(k.orm, k.deps.mailer, k.deps.config, log, new Date());

    expect(smtp.received).toHaveLength(1);
    const [mail] = smtp.received;
    expect(mail?.to).toEqual([INBOX]);
    expect(mail?.subject.startsWith('Backup Report CSV')).toBe(true);
    expect(mail?.attachments).toHaveLength(1);
    expect(mail?.attachments[0]?.filename).toMatch(/^holdfast-backups-\d{8}T\d{6}\.csv$/);
    expect(mail?.attachments[0]?.contentType.split(';')[0]).toBe('text/csv');
    expect(csvRows(mail?.attachments[0]?.content ?? '')).toEqual([
      ['Client', 'Device', 'Job', 'Status', 'Backup Date', 'Data Size'],
      [
        'MSP One / Northwind',
        'anna@northwind.example',
        'Holdfast: Mailboxes',
        'Success',
        '2026-12-07 06:20:56',
        '123456',
      ],
      [
        'MSP One / Northwind',
        'ben@northwind.example',
        'Holdfast: Mailboxes',
        'Failure',
        '2026-12-07 06:20:56',
        '123456',
      ],
      [
        'MSP One / Northwind',
        'carl@northwind.example',
        'Holdfast: Mailboxes',
        'Warning',
        '2026-12-07 06:20:56',
        '123456',
      ],
    ]);
  });

  it('refuses an address that is not an e-mail address, and its test event is a one-row report', async () => {
    const { k, smtp, northwind } = await setup();
    const add = (address: string) =>
      createIntegration(
        k.orm.em.fork(),
        k.credentials,
        northwind,
        { kind: 'backup-radar', streams: [], settings: { address } },
        { allowPrivate: false },
        ACTOR,
        new Date(),
      );
    const err = await add('not an address').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).fields).toEqual({
      address: 'Enter an e-mail address, such as msp-one@inbound.backupradar.com.',
    });
    const i = await add(INBOX);
    expect(i.streams).toEqual(['activity']);
    expect(await sendIntegrationTest(deps(k), i, 'tech@msp.example', new Date('2026-12-07T08:00:00Z'))).toEqual({
      ok: true,
    });
    await runNotificationSender(k.orm, k.deps.mailer, k.deps.config, log, new Date());
    expect(csvRows(smtp.received[0]?.attachments[0]?.content ?? '').slice(1)).toEqual([
      ['Northwind', 'Holdfast test', 'Holdfast test', 'Success', '2026-12-07 08:00:00', ''],
    ]);
  });
});
