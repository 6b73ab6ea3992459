// Syslog over TLS against a collector on loopback (tests/helpers/syslog-receiver.ts: a
// certificate made by openssl, RFC 5425 frames, the RFC 5424 grammar and CEF parsed): the same
// events as Splunk's, as JSON or CEF messages; a collector that is off, then on again, gets
// every event once; a certificate the integration was not told to trust is Failing with why.
import { afterEach, describe, expect, it } from 'vitest';
import { recordActivity } from '../../../core/activity/activity-service.ts';
import { type Kernel, openKernel } from '../../../core/appliance.ts';
import { recordAudit } from '../../../core/audit/audit-service.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Integration } from '../../../core/integrations/entities.ts';
import { createIntegration } from '../../../core/integrations/integrations.ts';
import { runIntegrationSender } from '../../../core/integrations/sender.ts';
import { createLogger } from '../../../core/logging.ts';
import { VERSION } from '../../../core/version.ts';
import { tempDir, testConfig } from '../../helpers/config.ts';
import { parseCef, parseRfc5424, type SyslogReceiver, startSyslogReceiver } from '../../helpers/syslog-receiver.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});
const log = createLogger('silent');

async function world() {
  const collector = await startSyslogReceiver();
  const dir = tempDir();
  cleanups.push(dir.remove, () => collector.close());
  const config = testConfig(dir.path, {
    HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true',
    HOLDFAST_MAIL_RETRY_BASE_SECONDS: '60',
  });
  const k = await openKernel(config, log);
  cleanups.push(() => k.close());
  const em = k.orm.em.fork();
  const id = crypto.randomUUID();
  const root = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Appliance' });
  await em.flush();
  const partner = await makeOrganization(em, root, 'partner', 'MSP One');
  const customer = await makeOrganization(em, partner, 'customer', 'Northwind');
  return { collector, k, partner, customer, t0: new Date(Math.floor(Date.now() / 1000) * 1000) };
}

const pass = (k: Kernel, at: Date) =>
  runIntegrationSender({ orm: k.orm, cipher: k.credentials, settings: k.deps.config, log }, at);
const later = (t0: Date, s: number) => new Date(t0.getTime() + s * 1000);

function syslog(
  k: Kernel,
  org: IOrganization,
  c: SyslogReceiver,
  format: 'json' | 'cef',
  ca: string | undefined = c.ca,
) {
  return createIntegration(
    k.orm.em.fork(),
    k.credentials,
    org,
    { kind: 'syslog', streams: ['activity', 'audit'], settings: { host: c.host, port: String(c.port), format, ca } },
    { allowPrivate: true },
    { label: 'admin@msp.example' },
    new Date(),
  );
}

async function events(k: Kernel, org: IOrganization, at: Date) {
  await recordActivity(k.orm.em.fork(), [
    {
      organization: org,
      activity: 'Backup',
      status: 'failed',
      at,
      summary: 'Backup of anna failed: quota = full | retry',
    },
    { organization: org, activity: 'Backup', status: 'succeeded', at, summary: 'Backup of ben succeeded' },
  ]);
  await recordAudit(k.orm.em.fork(), {
    organization: org,
    activity: 'User added',
    account: org.name,
    description: 'User "jane" added\nwith role [Admin]',
    actor: { label: 'admin@msp.example', ip: '192.0.2.9' },
  });
}

describe('Syslog over TLS', () => {
  it('sends RFC 5424 messages whose message is the event’s JSON', async () => {
    const w = await world();
    await syslog(w.k, w.partner, w.collector, 'json');
    await events(w.k, w.customer, w.t0);
    expect(await pass(w.k, later(w.t0, 1))).toBe(3);
    await expect.poll(() => w.collector.messages.length).toBe(3);
    const parsed = w.collector.messages.map(parseRfc5424);
    for (const m of parsed) {
      expect(m).toMatchObject({
        version: 1,
        hostname: 'holdfast',
        appName: 'holdfast',
        procId: '-',
        sdId: 'holdfast@32473',
      });
      const event = JSON.parse(m.msg);
      expect(m.params.id).toBe(event.id);
      expect(m.msgId).toBe(event.log);
      expect(m.timestamp).toBe(event.time);
    }
    // PRI: local0 (16) for activity, log audit (13) for the audit; error (3) for a failure, info (6) otherwise.
    expect(parsed.map((m) => [m.msgId, m.pri])).toEqual([
      ['activity', 16 * 8 + 3],
      ['activity', 16 * 8 + 6],
      ['audit', 13 * 8 + 6],
    ]);
    expect(JSON.parse(parsed[2]?.msg as string)).toMatchObject({
      log: 'audit',
      actor: 'admin@msp.example',
      organization: { name: 'Northwind', path: ['MSP One', 'Northwind'] },
      details: { description: 'User "jane" added\nwith role [Admin]' },
    });
  });

  it('sends the same events in CEF, escaped so they parse back to the same values', async () => {
    const w = await world();
    await syslog(w.k, w.partner, w.collector, 'cef');
    await events(w.k, w.customer, w.t0);
    await pass(w.k, later(w.t0, 1));
    await expect.poll(() => w.collector.messages.length).toBe(3);
    const cef = w.collector.messages.map((m) => parseCef(parseRfc5424(m).msg));
    expect(cef[0]).toMatchObject({
      version: 0,
      vendor: 'Holdfast',
      product: 'Holdfast',
      deviceVersion: VERSION,
      signatureId: 'Backup',
      name: 'Backup',
      severity: 8,
      extension: {
        externalId: expect.stringMatching(/^activity-\d+$/),
        outcome: 'failed',
        cs1Label: 'organization',
        cs1: 'MSP One / Northwind',
        cs3: 'activity',
        msg: 'Backup of anna failed: quota = full | retry',
      },
    });
    expect(cef[1]?.severity).toBe(3);
    expect(cef[2]).toMatchObject({
      signatureId: 'User added',
      extension: { suser: 'admin@msp.example', src: '192.0.2.9', msg: 'User "jane" added\nwith role [Admin]' },
    });
    expect(Number(cef[2]?.extension.rt)).toBeGreaterThanOrEqual(w.t0.getTime());
  });

  it('keeps events while the collector is off and sends each once when it is back', async () => {
    const w = await world();
    const integration = await syslog(w.k, w.partner, w.collector, 'json');
    await w.collector.down();
    await events(w.k, w.customer, w.t0);
    expect(await pass(w.k, later(w.t0, 1))).toBe(0);
    const failing = await w.k.orm.em.fork().findOneOrFail(Integration, { id: integration.id });
    expect(failing.lastError).toMatch(
      /^The syslog collector at 127\.0\.0\.1:\d+ could not be reached over TLS: connect ECONNREFUSED/,
    );
    await w.collector.up();
    expect(await pass(w.k, later(w.t0, 62))).toBe(3);
    await pass(w.k, later(w.t0, 70));
    await expect.poll(() => w.collector.messages.length).toBe(3);
    const ids = w.collector.messages.map((m) => parseRfc5424(m).params.id);
    expect(new Set(ids).size).toBe(3);
    expect(await w.k.orm.em.fork().findOneOrFail(Integration, { id: integration.id })).toMatchObject({
      failingSince: null,
      deliveredCount: 3,
    });
  });

  it('is Failing, with the reason, when the collector’s certificate is not trusted', async () => {
    const w = await world();
    const integration = await syslog(w.k, w.partner, w.collector, 'json', '');
    await events(w.k, w.customer, w.t0);
    await pass(w.k, later(w.t0, 1));
    const failing = await w.k.orm.em.fork().findOneOrFail(Integration, { id: integration.id });
    expect(failing.failingSince).not.toBeNull();
    expect(failing.lastError).toMatch(/could not be reached over TLS: self[- ]signed certificate/);
    expect(w.collector.messages).toEqual([]);
  });
});
