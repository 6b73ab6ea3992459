// Splunk HEC delivery against a stand-in on loopback (tests/helpers/hec-receiver.ts checks the
// token header and the body format): events of the organizations an integration covers arrive
// in one pass of the sender (the appliance runs one every 10 s at most); a collector that is
// down makes the integration Failing, mailed once through a real SMTP server, and once it is back
// every event arrives exactly once (by event id), also with the appliance restarted in between;
// a wrong token is Failing with Splunk's reason; indexer acknowledgment moves the cursor only
// when the batch is indexed.
import { describe, expect, it } from 'vitest';
import { recordActivity } from '../../../core/activity/activity-service.ts';
import type { Kernel } from '../../../core/appliance.ts';
import { recordAudit } from '../../../core/audit/audit-service.ts';
import { type IOrganization, Organization } from '../../../core/identity/entities.ts';
import { Integration } from '../../../core/integrations/entities.ts';
import { createIntegration, integrationState } from '../../../core/integrations/integrations.ts';
import { type IntegrationDeps, runIntegrationSender } from '../../../core/integrations/sender.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import { type HecReceiver, startHecReceiver } from '../../helpers/hec-receiver.ts';
import { cleanUpAfterEach, mailedAppliance, silentLog } from '../../helpers/integration-world.ts';
import type { LoopbackSmtp } from '../../helpers/smtp.ts';
import { makeOrganization } from '../../helpers/tenants.ts';

const cleanUp = cleanUpAfterEach();
const log = silentLog;
const ACTOR = { label: 'admin@msp.example', id: 'u1', ip: '192.0.2.7' };

interface World {
  hec: HecReceiver;
  smtp: LoopbackSmtp;
  open(): Promise<Kernel>;
  t0: Date;
}

async function world(): Promise<World> {
  const appliance = await mailedAppliance(cleanUp);
  const hec = await startHecReceiver();
  cleanUp(() => hec.close());
  return { hec, ...appliance, t0: new Date(Math.floor(Date.now() / 1000) * 1000) };
}

const deps = (k: Kernel): IntegrationDeps => ({
  orm: k.orm,
  cipher: k.credentials,
  settings: k.deps.config,
  log,
});
const pass = (k: Kernel, at: Date) => runIntegrationSender(deps(k), at);
const mailPass = (k: Kernel, at: Date) => runNotificationSender(k.orm, k.deps.mailer, k.deps.config, log, at);
const later = (t0: Date, seconds: number) => new Date(t0.getTime() + seconds * 1000);

interface Tree {
  distributor: IOrganization;
  partner: IOrganization;
  customer: IOrganization;
  stranger: IOrganization;
}

async function tree(k: Kernel): Promise<Tree> {
  const em = k.orm.em.fork();
  const id = crypto.randomUUID();
  const root = em.create(Organization, { id, kind: 'root', path: `/${id}/`, name: 'Appliance' });
  await em.flush();
  const distributor = await makeOrganization(em, root, 'distributor', 'Dist One');
  const partner = await makeOrganization(em, distributor, 'partner', 'MSP One');
  const customer = await makeOrganization(em, partner, 'customer', 'Northwind');
  const other = await makeOrganization(em, distributor, 'partner', 'MSP Two');
  const stranger = await makeOrganization(em, other, 'customer', 'Stranger Co');
  return { distributor, partner, customer, stranger };
}

async function activity(k: Kernel, org: IOrganization, n: number, at: Date, label = 'Backup') {
  await recordActivity(
    k.orm.em.fork(),
    Array.from({ length: n }, (_, i) => ({
      organization: org,
      activity: 'Backup' as const,
      status: 'succeeded' as const,
      at,
      summary: `${label} ${i + 1} of ${org.name}`,
    })),
  );
}

async function audit(k: Kernel, org: IOrganization, description: string) {
  await recordAudit(k.orm.em.fork(), {
    organization: org,
    activity: 'User added',
    account: org.name,
    description,
    actor: ACTOR,
  });
}

async function splunk(
  k: Kernel,
  org: IOrganization,
  hec: HecReceiver,
  streams: string[],
  extra = {},
  token = hec.token,
) {
  return createIntegration(
    k.orm.em.fork(),
    k.credentials,
    org,
    { kind: 'splunk', streams, settings: { url: hec.url, ...extra }, secret: token },
    { allowPrivate: true },
    ACTOR,
    new Date(),
  );
}

const ids = (hec: HecReceiver) => hec.events.map((e) => e.event.id);
const row = (k: Kernel, id: string) => k.orm.em.fork().findOneOrFail(Integration, { id });

describe('Splunk HTTP Event Collector', () => {
  it('sends the customers’ activity and audit events, not the partner’s own or a stranger’s, in HEC’s format', async () => {
    const w = await world();
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    await activity(k, t.customer, 1, w.t0, 'Before');
    const integration = await splunk(k, t.partner, w.hec, ['activity', 'audit'], {
      source: 'msp-one',
      index: 'backup',
    });
    // Only what happens after the integration was added is sent.
    await activity(k, t.customer, 2, w.t0);
    await audit(k, t.customer, 'User jane@northwind.example added');
    await audit(k, t.partner, 'User tech@msp.example added');
    await activity(k, t.stranger, 1, w.t0);

    expect(await pass(k, later(w.t0, 1))).toBe(3);
    expect(w.hec.requests.map((r) => [r.status, r.headers.authorization])).toEqual([[200, `Splunk ${w.hec.token}`]]);
    expect(w.hec.events).toHaveLength(3);
    for (const e of w.hec.events) {
      expect(e).toMatchObject({ host: 'holdfast', source: 'msp-one', sourcetype: '_json', index: 'backup' });
      expect(e.time).toBe(Date.parse(e.event.time as string) / 1000);
    }
    const [first] = w.hec.events;
    expect(first?.event).toMatchObject({
      id: expect.stringMatching(/^activity-\d+$/),
      log: 'activity',
      organization: {
        id: t.customer.id,
        name: 'Northwind',
        kind: 'customer',
        path: ['Dist One', 'MSP One', 'Northwind'],
      },
      actor: null,
      action: 'Backup',
      status: 'succeeded',
      details: { summary: 'Backup 1 of Northwind' },
    });
    expect(w.hec.events.find((e) => e.event.log === 'audit')?.event).toMatchObject({
      id: expect.stringMatching(/^audit-\d+$/),
      organization: { id: t.customer.id },
      actor: 'admin@msp.example',
      action: 'User added',
      status: 'completed',
      details: { description: 'User jane@northwind.example added', ip: '192.0.2.7' },
    });

    // Nothing new: nothing sent; the partner's own events once "own" is chosen.
    expect(await pass(k, later(w.t0, 2))).toBe(0);
    const own = await splunk(k, t.partner, w.hec, ['own']);
    await audit(k, t.partner, 'User second@msp.example added');
    await pass(k, later(w.t0, 3));
    // Its own "Integration added" entry, then the user added.
    expect(w.hec.events.slice(3).map((e) => [e.event.organization, e.event.action])).toEqual([
      [expect.objectContaining({ id: t.partner.id }), 'Integration added'],
      [expect.objectContaining({ id: t.partner.id }), 'User added'],
    ]);
    expect(await row(k, integration.id)).toMatchObject({ deliveredCount: 3, failingSince: null });
    expect(integrationState(await row(k, own.id))).toBe('active');
  });

  it('keeps events while the collector is down, mails Failing once, and delivers each event once after a restart', async () => {
    const w = await world();
    let k = await w.open();
    const t = await tree(k);
    await createRecipient(
      k.orm.em.fork(),
      t.partner,
      { email: 'noc@msp.example', displayName: 'NOC', types: ['exceptions'] },
      w.t0,
    );
    const integration = await splunk(k, t.partner, w.hec, ['activity', 'audit']);
    await activity(k, t.customer, 3, w.t0);
    w.hec.down();
    expect(await pass(k, later(w.t0, 1))).toBe(0);
    const failing = await row(k, integration.id);
    expect(failing).toMatchObject({ attempts: 1, lastError: 'Splunk answered HTTP 503: Server is busy.' });
    expect(failing.failingSince?.toISOString()).toBe(later(w.t0, 1).toISOString());
    // More events meanwhile; the retry waits for its delay (60 s, then twice as long).
    await activity(k, t.customer, 2, w.t0, 'During');
    expect(await pass(k, later(w.t0, 30))).toBe(0);
    expect(await pass(k, later(w.t0, 62))).toBe(0);
    expect((await row(k, integration.id)).attempts).toBe(2);
    await mailPass(k, later(w.t0, 63));
    await mailPass(k, later(w.t0, 64));
    expect(w.smtp.received.map((m) => m.subject)).toEqual([`Integration failing: Splunk (${w.hec.url}) (MSP One)`]);
    expect(w.smtp.received[0]?.text).toContain('Splunk answered HTTP 503: Server is busy.');
    await k.close();

    // The appliance restarts; Splunk is back.
    w.hec.up();
    k = await w.open();
    cleanUp(() => k.close());
    await activity(k, t.customer, 1, w.t0, 'After');
    expect(await pass(k, later(w.t0, 100))).toBe(0); // not due before 62 + 120 s
    expect(await pass(k, later(w.t0, 183))).toBe(6);
    expect(await pass(k, later(w.t0, 200))).toBe(0);
    expect(new Set(ids(w.hec)).size).toBe(6);
    expect(ids(w.hec)).toHaveLength(6);
    expect(w.hec.events.map((e) => e.event.details)).toEqual(
      ['Backup 1', 'Backup 2', 'Backup 3', 'During 1', 'During 2', 'After 1'].map((s) =>
        expect.objectContaining({ summary: `${s} of Northwind` }),
      ),
    );
    const back = await row(k, integration.id);
    expect(back).toMatchObject({ attempts: 0, failingSince: null, lastError: null, deliveredCount: 6 });
    await mailPass(k, later(w.t0, 201));
    expect(w.smtp.received.map((m) => m.subject)).toEqual([
      `Integration failing: Splunk (${w.hec.url}) (MSP One)`,
      `Resolved: integration Splunk (${w.hec.url}) delivers again (MSP One)`,
    ]);
  });

  it('shows a wrong token as Failing with Splunk’s reason and mails it once', async () => {
    const w = await world();
    const k = await w.open();
    cleanUp(() => k.close());
    const t = await tree(k);
    await createRecipient(
      k.orm.em.fork(),
      t.customer,
      { email: 'it@northwind.example', displayName: 'IT', types: ['exceptions'] },
      w.t0,
    );
    const integration = await splunk(k, t.customer, w.hec, ['activity', 'audit'], {}, 'not-the-token');
    await audit(k, t.customer, 'User anna@northwind.example added');
    for (const s of [1, 62, 183, 424]) {
      await pass(k, later(w.t0, s));
      await mailPass(k, later(w.t0, s));
    }
    const failing = await row(k, integration.id);
    expect(integrationState(failing)).toBe('failing');
    expect(failing.lastError).toBe('Splunk refused the token (HTTP 403: Invalid token). Check the HEC token.');
    expect(failing.attempts).toBe(4);
    expect(w.hec.events).toEqual([]);
    expect(w.smtp.received.map((m) => [m.to, m.subject])).toEqual([
      [['it@northwind.example'], `Integration failing: Splunk (${w.hec.url}) (Northwind)`],
    ]);
  });

  it('with indexer acknowledgment, moves the cursor only once the batch is indexed, across a restart', async () => {
    const w = await world();
    let k = await w.open();
    const t = await tree(k);
    w.hec.ackMode(true);
    const integration = await splunk(k, t.customer, w.hec, ['activity'], { ack: true });
    await activity(k, t.customer, 2, w.t0);
    await pass(k, later(w.t0, 1));
    expect(w.hec.requests.map((r) => r.headers['x-splunk-request-channel'])).toEqual([integration.id]);
    expect(w.hec.events).toHaveLength(2);
    const waiting = await row(k, integration.id);
    expect(waiting.pendingAck).toMatchObject({ ackId: 0 });
    expect(waiting.deliveredCount).toBe(0);
    // Not indexed yet: asked again, nothing resent.
    await pass(k, later(w.t0, 7));
    expect(w.hec.events).toHaveLength(2);
    await k.close();

    w.hec.indexPending();
    k = await w.open();
    cleanUp(() => k.close());
    await pass(k, later(w.t0, 13));
    await pass(k, later(w.t0, 20));
    expect(w.hec.events).toHaveLength(2);
    expect(await row(k, integration.id)).toMatchObject({ pendingAck: null, failingSince: null });
    await activity(k, t.customer, 1, w.t0, 'Next');
    await pass(k, later(w.t0, 30));
    expect(ids(w.hec)).toHaveLength(3);
    expect(new Set(ids(w.hec)).size).toBe(3);
  });
});
