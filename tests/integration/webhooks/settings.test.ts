// Settings › Webhooks and /api/v1/organizations/{id}/webhooks on an appliance that keeps the
// default SSRF rule (no private addresses, https only): gated by "Manage integrations", bad
// input answered on its field with nothing saved, the signing secret shown once and stored
// sealed, another organization's endpoint a 404.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { createEndpoint } from '../../../core/webhooks/endpoints.ts';
import { WebhookEndpoint } from '../../../core/webhooks/entities.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';
import { sessionRequests } from '../../helpers/session-requests.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

// A public address written as an IP: saved without a DNS lookup.
const PUBLIC_HOOK = 'https://93.184.215.14/hook';
let t: TestApp;
let root: IOrganization;
let other: IOrganization;
let cookie: string;
const em = () => t.kernel.orm.em.fork();

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  root = await rootOf(em());
  other = await makeOrganization(em(), root, 'partner', 'Other Partner');
}, 60_000);

afterAll(async () => {
  await t.close();
});

const { get, post, api } = sessionRequests(
  () => t.app,
  () => cookie,
);

const rowsOf = (org: IOrganization) =>
  em().find(WebhookEndpoint, { organization: org.id }, { orderBy: { createdAt: 'asc' } });

describe('Settings › Webhooks', () => {
  it('is offered to "Manage integrations" only', async () => {
    await makeUser(em(), root, 'notifier@hooks.example', { role: 'custom', permissions: ['manage_notifications'] });
    await makeUser(em(), root, 'integrator@hooks.example', { role: 'custom', permissions: ['manage_integrations'] });
    const notifier = await signIn(t.app, 'notifier@hooks.example', TEST_PASSWORD);
    const integrator = await signIn(t.app, 'integrator@hooks.example', TEST_PASSWORD);
    expect((await get('/settings/webhooks', notifier)).status).toBe(403);
    const page = await get('/settings/webhooks', integrator);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('href="/settings/webhooks" aria-current="page">Webhooks</a>');
  });

  it.each([
    [
      [
        ['url', 'http://hooks.example.com/x'],
        ['events', 'exceptions'],
      ],
      'url',
      'Use an https:// URL.',
    ],
    [
      [
        ['url', 'https://10.0.0.5/x'],
        ['events', 'exceptions'],
      ],
      'url',
      'private, loopback or link-local',
    ],
    [
      [
        ['url', 'https://[::1]:8443/x'],
        ['events', 'exceptions'],
      ],
      'url',
      'private, loopback or link-local',
    ],
    [[['url', PUBLIC_HOOK]], 'events', 'Choose at least one event type.'],
  ] as [[string, string][], string, string][])(
    'answers bad input on its field, saving nothing (%j)',
    async (fields, field, message) => {
      const before = (await rowsOf(root)).length;
      const res = await post('/settings/webhooks', fields);
      expect(res.status).toBe(422);
      const html = await res.text();
      expect(html).toContain(`<p class="field-error" id="${field}-error">`);
      expect(html).toContain(message);
      expect(await rowsOf(root)).toHaveLength(before);
    },
  );

  it('shows the secret once, keeps it sealed, edits, sends a test event and removes', async () => {
    const created = await post('/settings/webhooks', [
      ['url', PUBLIC_HOOK],
      ['description', 'Ticketing'],
      ['events', 'exceptions'],
      ['events', 'job.failed'],
    ]);
    expect(created.status).toBe(200);
    const secret = /whsec_[A-Za-z0-9_-]{43}/.exec(await created.text())?.[0];
    expect(secret).toBeDefined();
    const [row] = (await rowsOf(root)).filter((r) => r.description === 'Ticketing');
    expect(row).toMatchObject({ url: PUBLIC_HOOK, events: ['exceptions', 'job.failed'] });
    expect(row?.secretSealed).not.toContain(String(secret));
    expect(t.kernel.credentials.decrypt(String(row?.secretSealed), `webhook-endpoint:${row?.id}`)).toBe(secret);
    const list = await (await get('/settings/webhooks')).text();
    expect(list).toContain(PUBLIC_HOOK);
    expect(list).not.toContain(String(secret));
    expect(await (await get(`/settings/webhooks/${row?.id}`)).text()).not.toContain(String(secret));

    const edited = await post(`/settings/webhooks/${row?.id}`, [
      ['url', PUBLIC_HOOK],
      ['description', 'Ticketing desk'],
      ['events', 'recovery'],
    ]);
    expect(edited.status).toBe(303);
    expect(await em().findOneOrFail(WebhookEndpoint, { id: String(row?.id) })).toMatchObject({
      description: 'Ticketing desk',
      events: ['recovery'],
    });

    // Loopback would need the operator's setting: the test event is refused before connecting.
    const loopback = await createEndpoint(
      em(),
      t.kernel.credentials,
      root,
      { url: 'http://127.0.0.1:9/x', events: ['recovery'] },
      { allowPrivate: true },
      new Date(),
    );
    const tested = await post(`/settings/webhooks/${loopback.endpoint.id}/test`, []);
    expect(tested.status).toBe(303);
    const flash = (tested.headers.get('set-cookie') ?? '').split(';')[0];
    const detail = await (await get(`/settings/webhooks/${loopback.endpoint.id}`, `${cookie}; ${flash}`)).text();
    expect(detail).toContain('Test event not accepted (no answer)');
    expect(detail).toContain('Use an https:// URL.');

    expect((await post(`/settings/webhooks/${row?.id}/delete`, [])).status).toBe(303);
    expect(await em().count(WebhookEndpoint, { id: String(row?.id) })).toBe(0);
  });

  it('answers 404 for another organization’s endpoint', async () => {
    const { endpoint } = await createEndpoint(
      em(),
      t.kernel.credentials,
      other,
      { url: PUBLIC_HOOK, events: ['exceptions'] },
      { allowPrivate: false },
      new Date(),
    );
    expect((await get(`/settings/webhooks/${endpoint.id}`)).status).toBe(404);
    expect(
      (
        await post(`/settings/webhooks/${endpoint.id}`, [
          ['url', PUBLIC_HOOK],
          ['events', 'recovery'],
        ])
      ).status,
    ).toBe(404);
    expect((await post(`/settings/webhooks/${endpoint.id}/test`, [])).status).toBe(404);
    expect((await post(`/settings/webhooks/${endpoint.id}/delete`, [])).status).toBe(404);
    expect(await em().findOneOrFail(WebhookEndpoint, { id: endpoint.id })).toMatchObject({ events: ['exceptions'] });
  });
});

describe('/api/v1/organizations/{id}/webhooks', () => {
  it('creates with the secret in that response only, lists, changes, logs and deletes', async () => {
    const created = await api('POST', `/organizations/${root.id}/webhooks`, { url: PUBLIC_HOOK, events: ['summary'] });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { id: string; secret: string };
    expect(body).toMatchObject({ url: PUBLIC_HOOK, events: ['summary'], secret: expect.stringMatching(/^whsec_/) });
    const listed = (await (await api('GET', `/organizations/${root.id}/webhooks`)).json()) as { id: string }[];
    expect(JSON.stringify(listed)).not.toContain(body.secret);
    expect(listed.map((w) => w.id)).toContain(body.id);

    const changed = await api('PATCH', `/organizations/${root.id}/webhooks/${body.id}`, { events: ['job.succeeded'] });
    expect(await changed.json()).toMatchObject({ url: PUBLIC_HOOK, events: ['job.succeeded'] });
    expect(await (await api('GET', `/organizations/${root.id}/webhooks/${body.id}/deliveries`)).json()).toEqual([]);
    expect((await api('DELETE', `/organizations/${root.id}/webhooks/${body.id}`)).status).toBe(204);
  });

  it('refuses a private address on the url field, saving nothing', async () => {
    const before = (await rowsOf(root)).length;
    const res = await api('POST', `/organizations/${root.id}/webhooks`, {
      url: 'https://169.254.169.254/x',
      events: ['summary'],
    });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({
      error: { code: 'validation_failed', fields: { url: expect.stringContaining('private, loopback or link-local') } },
    });
    expect(await rowsOf(root)).toHaveLength(before);
  });
});
