// Settings › Integrations and /api/v1/organizations/{id}/integrations: gated by "Manage
// integrations"; a partner adds Splunk inside a customer account on its behalf; bad input answered
// on its field with nothing saved; the token stored sealed and never in a page, an API answer, the
// audit or the logs; edit with the token left empty keeps it; the test event reaches a HEC
// stand-in; the tile shows Failing with the reason; each change audited; another organization's
// integration a 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { Integration } from '../../../core/integrations/entities.ts';
import { createIntegration, integrationSecret } from '../../../core/integrations/integrations.ts';
import { runIntegrationSender } from '../../../core/integrations/sender.ts';
import { type HecReceiver, startHecReceiver } from '../../helpers/hec-receiver.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

const TOKEN = 'a1b2c3d4-secret-hec-token';
let t: TestApp;
let hec: HecReceiver;
let root: IOrganization;
let partner: IOrganization;
let customer: IOrganization;
let other: IOrganization;
let cookie: string;
const em = () => t.kernel.orm.em.fork();

beforeAll(async () => {
  hec = await startHecReceiver(TOKEN);
  t = await createTestApp({ HOLDFAST_WEBHOOKS_ALLOW_PRIVATE: 'true' });
  await completeSetupVia(t.app);
  root = await rootOf(em());
  partner = await makeOrganization(em(), root, 'partner', 'MSP Partner');
  customer = await makeOrganization(em(), partner, 'customer', 'Contoso');
  other = await makeOrganization(em(), root, 'partner', 'Other Partner');
  await makeUser(em(), partner, 'tech@msp.example');
  cookie = await signIn(t.app, 'tech@msp.example', TEST_PASSWORD);
}, 60_000);

afterAll(async () => {
  await t?.close();
  await hec?.close();
});

const get = (path: string, as = cookie) => t.app.request(path, { headers: { cookie: as, origin: ORIGIN } });

function post(path: string, fields: [string, string][], as = cookie) {
  return t.app.request(path, {
    method: 'POST',
    headers: { cookie: as, origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
  });
}

function api(method: string, path: string, body?: unknown) {
  return t.app.request(`/api/v1${path}`, {
    method,
    headers: { cookie, origin: ORIGIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Works inside the customer account, as the partner's user does from the portal. */
async function inCustomer(): Promise<string> {
  // A session of its own: opening an account rotates the session it is done in.
  const own = await signIn(t.app, 'tech@msp.example', TEST_PASSWORD);
  const res = await post(`/portal/accounts/${customer.id}/open`, [], own);
  expect(res.status).toBe(303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

const rowsOf = (org: IOrganization) => em().find(Integration, { organization: org.id });
const flashOf = (res: Response) => (res.headers.get('set-cookie') ?? '').split(';')[0];

describe('Settings › Integrations', () => {
  it('is offered to "Manage integrations" only', async () => {
    await makeUser(em(), partner, 'notifier@msp.example', { role: 'custom', permissions: ['manage_notifications'] });
    await makeUser(em(), partner, 'integrator@msp.example', { role: 'custom', permissions: ['manage_integrations'] });
    const notifier = await signIn(t.app, 'notifier@msp.example', TEST_PASSWORD);
    const integrator = await signIn(t.app, 'integrator@msp.example', TEST_PASSWORD);
    expect((await get('/settings/integrations', notifier)).status).toBe(403);
    const page = await get('/settings/integrations', integrator);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('href="/settings/integrations" aria-current="page">Integrations</a>');
    expect(html).toContain('href="/settings/integrations/new/splunk"');
    expect(await (await get('/settings/integrations/new/splunk', integrator)).text()).toContain(
      'This portal’s own events',
    );
  });

  it('answers bad input on its field and saves nothing', async () => {
    const res = await post('/settings/integrations/new/splunk', [
      ['url', 'ftp://splunk.example/x'],
      ['token', ''],
    ]);
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toMatch(/id="url-error">Use an https:\/\/ URL\./);
    expect(html).toContain('id="token-error">Enter the HEC token.');
    expect(html).toContain('id="streams-error">Choose at least one kind of event to send.');
    expect(await rowsOf(partner)).toEqual([]);
  });

  it('adds Splunk in a customer account on its behalf, tests, edits keeping the token, shows Failing, deletes — audited, the token never shown', async () => {
    const asCustomer = await inCustomer();
    const form = await (await get('/settings/integrations/new/splunk', asCustomer)).text();
    expect(form).toContain('Activity events (backups, restores, exports …)');
    expect(form).not.toContain('This portal’s own events');

    const added = await post(
      '/settings/integrations/new/splunk',
      [
        ['url', hec.url],
        ['token', TOKEN],
        ['source', 'contoso'],
        ['streams', 'activity'],
        ['streams', 'audit'],
        ['enabled', 'on'],
      ],
      asCustomer,
    );
    expect(added.status).toBe(303);
    const [row] = await rowsOf(customer);
    expect(row).toMatchObject({ kind: 'splunk', enabled: true, streams: ['activity', 'audit'] });
    expect(row?.settings).toEqual({ url: hec.url, source: 'contoso', ack: false });
    expect(row?.secretSealed).not.toContain(TOKEN);
    expect(integrationSecret(t.kernel.credentials, row as never)).toBe(TOKEN);

    const list = await (await get('/settings/integrations', asCustomer)).text();
    expect(list).toContain('<span class="badge badge-success">Active</span>');
    expect(list).toContain(hec.url);
    const edit = await (await get(`/settings/integrations/${row?.id}`, asCustomer)).text();
    expect(edit).toContain('value="contoso"');

    const tested = await post(`/settings/integrations/${row?.id}/test`, [], asCustomer);
    expect(tested.status).toBe(303);
    expect(await (await get('/settings/integrations', `${asCustomer}; ${flashOf(tested)}`)).text()).toContain(
      'Test event delivered.',
    );
    expect(hec.events.at(-1)?.event).toMatchObject({
      log: 'test',
      action: 'Test event',
      organization: { id: customer.id, name: 'Contoso' },
    });

    // Edited with the token left empty: kept; switched off.
    const edited = await post(
      `/settings/integrations/${row?.id}`,
      [
        ['url', hec.url],
        ['token', ''],
        ['index', 'backups'],
        ['streams', 'audit'],
      ],
      asCustomer,
    );
    expect(edited.status).toBe(303);
    const changed = await em().findOneOrFail(Integration, { id: row?.id as string });
    expect(changed).toMatchObject({ enabled: false, streams: ['audit'], settings: { url: hec.url, index: 'backups' } });
    expect(integrationSecret(t.kernel.credentials, changed)).toBe(TOKEN);
    expect(await (await get('/settings/integrations', asCustomer)).text()).toContain('<span class="badge">Off</span>');

    // A wrong token, switched on: the tile says Failing, since when, and Splunk's reason.
    await post(
      `/settings/integrations/${row?.id}`,
      [
        ['url', hec.url],
        ['token', 'wrong-token'],
        ['streams', 'audit'],
        ['enabled', 'on'],
      ],
      asCustomer,
    );
    await runIntegrationSender(
      { orm: t.kernel.orm, cipher: t.kernel.credentials, settings: t.kernel.deps.config, log: t.kernel.deps.log },
      new Date(),
    );
    const failing = await (await get('/settings/integrations', asCustomer)).text();
    expect(failing).toContain('<span class="badge badge-danger">Failing</span> since');
    expect(failing).toContain('Splunk refused the token (HTTP 403: Invalid token). Check the HEC token.');

    const deleted = await post(`/settings/integrations/${row?.id}/delete`, [], asCustomer);
    expect(deleted.status).toBe(303);
    expect(await rowsOf(customer)).toEqual([]);

    const audit = await em().find(AuditEvent, { organization: customer.id }, { orderBy: { id: 'asc' } });
    expect(audit.filter((a) => a.activity.startsWith('Integration')).map((a) => [a.activity, a.performedBy])).toEqual([
      ['Integration added', 'tech@msp.example'],
      ['Integration changed', 'tech@msp.example'],
      ['Integration changed', 'tech@msp.example'],
      ['Integration removed', 'tech@msp.example'],
    ]);
    expect(audit.find((a) => a.activity === 'Integration added')?.description).toBe(
      `Splunk integration to ${hec.url} added (sends: activity, audit)`,
    );
    expect(audit.map((a) => a.activity).includes('Integration changed')).toBe(true);
    expect(audit.filter((a) => a.activity === 'Integration changed').map((a) => a.description)).toEqual([
      `Splunk integration to ${hec.url} changed (switched off)`,
      `Splunk integration to ${hec.url} changed (HEC token replaced, switched on)`,
    ]);
    for (const text of [JSON.stringify(audit), t.logs.join('')]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain('wrong-token');
    }
  });

  it('offers syslog over TLS without a secret field, its fields checked', async () => {
    const form = await (await get('/settings/integrations/new/syslog')).text();
    expect(form).toContain('<label for="host">Collector host</label>');
    expect(form).toContain('<option value="cef">CEF (Common Event Format)</option>');
    expect(form).not.toContain('type="password"');
    const bad = await post('/settings/integrations/new/syslog', [
      ['host', 'tls://siem.example.com'],
      ['port', '99999'],
      ['format', 'json'],
      ['ca', 'not a certificate'],
      ['streams', 'activity'],
    ]);
    expect(bad.status).toBe(422);
    const html = await bad.text();
    expect(html).toContain('id="host-error">Enter a host name or an IP address, without a scheme or port.');
    expect(html).toContain('id="port-error">Enter a port from 1 to 65535.');
    expect(html).toContain('id="ca-error">Paste PEM certificates (-----BEGIN CERTIFICATE----- …).');
    const added = await post('/settings/integrations/new/syslog', [
      ['host', '127.0.0.1'],
      ['port', '6514'],
      ['format', 'cef'],
      ['ca', ''],
      ['streams', 'audit'],
      ['enabled', 'on'],
    ]);
    expect(added.status).toBe(303);
    const [row] = (await rowsOf(partner)).filter((i) => i.kind === 'syslog');
    expect(row).toMatchObject({ settings: { host: '127.0.0.1', port: 6514, format: 'cef' }, secretSealed: null });
    expect(await (await get('/settings/integrations')).text()).toContain('127.0.0.1:6514 (CEF)');
    await post(`/settings/integrations/${row?.id}/delete`, []);
  });

  it('answers 404 for another organization’s integration', async () => {
    const foreign = await createIntegration(
      em(),
      t.kernel.credentials,
      other,
      { kind: 'splunk', streams: ['activity'], settings: { url: hec.url }, secret: TOKEN },
      { allowPrivate: true },
      { label: 'other' },
      new Date(),
    );
    expect((await get(`/settings/integrations/${foreign.id}`)).status).toBe(404);
    expect((await post(`/settings/integrations/${foreign.id}/test`, [])).status).toBe(404);
    expect((await post(`/settings/integrations/${foreign.id}/delete`, [])).status).toBe(404);
    expect((await api('GET', `/organizations/${other.id}/integrations/${foreign.id}`)).status).toBe(404);
    expect(await rowsOf(other)).toHaveLength(1);
  });
});

describe('/api/v1/organizations/{id}/integrations', () => {
  it('creates, lists, changes, tests and deletes, never answering the secret', async () => {
    const created = await api('POST', `/organizations/${partner.id}/integrations`, {
      kind: 'splunk',
      streams: ['activity', 'own'],
      settings: { url: hec.url, sourcetype: 'holdfast:event' },
      secret: TOKEN,
    });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { id: string };
    expect(body).toMatchObject({
      kind: 'splunk',
      enabled: true,
      state: 'active',
      streams: ['activity', 'own'],
      settings: { url: hec.url, sourcetype: 'holdfast:event', ack: false },
      failingSince: null,
      deliveredCount: 0,
    });
    const listed = await (await api('GET', `/organizations/${partner.id}/integrations`)).text();
    expect(listed).toContain(body.id);
    expect(listed).not.toContain(TOKEN);
    expect(JSON.stringify(body)).not.toContain(TOKEN);

    const changed = await api('PATCH', `/organizations/${partner.id}/integrations/${body.id}`, {
      settings: { index: 'msp' },
      enabled: false,
    });
    expect(await changed.json()).toMatchObject({
      enabled: false,
      state: 'off',
      settings: { url: hec.url, sourcetype: 'holdfast:event', index: 'msp' },
    });
    const tested = await api('POST', `/organizations/${partner.id}/integrations/${body.id}/test`);
    expect(await tested.json()).toEqual({ delivered: true, reason: null });

    const bad = await api('POST', `/organizations/${partner.id}/integrations`, {
      kind: 'splunk',
      streams: [],
      settings: { url: '' },
      secret: '',
    });
    expect(bad.status).toBe(422);
    const broken = await api('POST', `/organizations/${partner.id}/integrations`, {
      kind: 'splunk',
      streams: ['activity'],
      settings: { url: hec.url },
      secret: 'abc\r\nX-Injected: 1',
    });
    expect(broken.status).toBe(422);
    expect(await broken.json()).toMatchObject({
      error: { fields: { token: 'The HEC token cannot contain line breaks or control characters.' } },
    });
    expect(await bad.json()).toMatchObject({
      error: {
        code: 'validation_failed',
        fields: {
          url: 'Enter the HTTP Event Collector URL.',
          streams: 'Choose at least one kind of event to send.',
          token: 'Enter the HEC token.',
        },
      },
    });
    expect((await api('DELETE', `/organizations/${partner.id}/integrations/${body.id}`)).status).toBe(204);
    expect((await api('GET', `/organizations/${partner.id}/integrations/${body.id}`)).status).toBe(404);
  });
});
