// Settings › Notifications and /api/v1/organizations/{id}/notification-recipients: gated by
// "Manage notifications" (now offered in the user form), recipients added, edited and removed,
// bad input answered on its field with nothing saved, another organization's recipient a 404;
// and without a mail server, notification mail waits in the outbox.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { NotificationRecipient } from '../../../core/notifications/entities.ts';
import { createRecipient } from '../../../core/notifications/recipients.ts';
import { runNotificationSender } from '../../../core/notifications/sender.ts';
import { raiseSmartAlert } from '../../../core/notifications/smart-alerts.ts';
import { completeSetupVia, createTestApp, signIn, type TestApp } from '../../helpers/kernel.ts';
import { sessionRequests } from '../../helpers/session-requests.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

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
  em().find(NotificationRecipient, { organization: org.id }, { orderBy: { id: 'asc' } });

describe('Settings › Notifications', () => {
  it('states the inheritance rule and adds, edits and removes a recipient', async () => {
    const page = await (await get('/settings/notifications')).text();
    expect(page).toContain('href="/settings/notifications" aria-current="page">Notifications</a>');
    expect(page).toContain(
      'Recipients here receive a type for every account under this organization, unless an account has its own recipients for that type.',
    );
    const added = await post('/settings/notifications', [
      ['email', 'noc@acme.example'],
      ['displayName', 'Acme NOC'],
      ['types', 'exceptions'],
      ['types', 'summary'],
    ]);
    expect(added.status).toBe(303);
    const [row] = await rowsOf(root);
    expect(row).toMatchObject({ email: 'noc@acme.example', displayName: 'Acme NOC', types: ['summary', 'exceptions'] });
    const listed = await (await get('/settings/notifications')).text();
    expect(listed).toContain('noc@acme.example');
    expect(listed).toContain('Exceptions notification');

    const edited = await post(`/settings/notifications/${row?.id}`, [
      ['email', 'noc@acme.example'],
      ['displayName', 'Acme Operations'],
      ['types', 'recovery'],
    ]);
    expect(edited.status).toBe(303);
    expect((await rowsOf(root))[0]).toMatchObject({ displayName: 'Acme Operations', types: ['recovery'] });

    expect((await post(`/settings/notifications/${row?.id}/delete`, [])).status).toBe(303);
    expect(await rowsOf(root)).toEqual([]);
  });

  it('answers bad input on its field and saves nothing', async () => {
    await createRecipient(em(), root, { email: 'Desk@Acme.example', types: ['recovery'] }, new Date());
    const before = JSON.stringify(await rowsOf(root));
    const cases: [[string, string][], string][] = [
      [
        [
          ['email', 'not-an-address'],
          ['types', 'exceptions'],
        ],
        'Enter a valid email address, like it@example.com.',
      ],
      [
        [
          ['email', 'desk@acme.example'],
          ['types', 'exceptions'],
        ],
        'This address is already a recipient here; edit it instead.',
      ],
      [[['email', 'new@acme.example']], 'Choose at least one notification type.'],
    ];
    for (const [fields, message] of cases) {
      const res = await post('/settings/notifications', fields);
      expect(res.status).toBe(422);
      expect(await res.text()).toContain(
        `<p class="field-error" id="${message.startsWith('Choose') ? 'types' : 'email'}-error">${message}</p>`,
      );
    }
    expect(JSON.stringify(await rowsOf(root))).toBe(before);
  });

  it('treats another organization’s recipient as missing', async () => {
    await createRecipient(em(), other, { email: 'theirs@other.example', types: ['exceptions'] }, new Date());
    const [theirs] = await rowsOf(other);
    expect((await get(`/settings/notifications/${theirs?.id}/edit`)).status).toBe(404);
    expect((await post(`/settings/notifications/${theirs?.id}/delete`, [])).status).toBe(404);
    expect(
      (await api('PATCH', `/organizations/${root.id}/notification-recipients/${theirs?.id}`, { displayName: 'x' }))
        .status,
    ).toBe(404);
    expect((await api('DELETE', `/organizations/${root.id}/notification-recipients/${theirs?.id}`)).status).toBe(404);
    expect(await rowsOf(other)).toMatchObject([{ email: 'theirs@other.example', displayName: 'theirs@other.example' }]);
  });

  it('is offered in the user form and needs "Manage notifications"', async () => {
    expect(await (await get('/settings/users/new')).text()).toContain('value="manage_notifications"');
    await makeUser(em(), root, 'operator@acme.example', { role: 'custom', permissions: ['view_dashboard'] });
    await makeUser(em(), root, 'notifier@acme.example', { role: 'custom', permissions: ['manage_notifications'] });
    const operator = await signIn(t.app, 'operator@acme.example', TEST_PASSWORD);
    const notifier = await signIn(t.app, 'notifier@acme.example', TEST_PASSWORD);
    expect((await get('/settings/notifications', operator)).status).toBe(403);
    expect(await (await get('/settings/account', operator)).text()).not.toContain('/settings/notifications');
    expect((await get('/settings/notifications', notifier)).status).toBe(200);
  });
});

describe('the recipients API', () => {
  it('lists, adds, changes and removes recipients, with field errors for bad input', async () => {
    const base = `/organizations/${other.id}/notification-recipients`;
    const created = await api('POST', base, { email: 'api@other.example', displayName: 'API', types: ['discovery'] });
    expect(created.status).toBe(201);
    const body = (await created.json()) as { id: number };
    expect(body).toMatchObject({ email: 'api@other.example', displayName: 'API', types: ['discovery'] });

    const duplicate = await api('POST', base, { email: 'API@other.example', types: ['exceptions'] });
    expect(duplicate.status).toBe(422);
    expect(await duplicate.json()).toMatchObject({
      error: { fields: { email: 'This address is already a recipient here; edit it instead.' } },
    });
    const invalid = await api('POST', base, { email: 'nope', types: ['exceptions'] });
    expect(invalid.status).toBe(422);
    expect(((await invalid.json()) as { error: { fields: Record<string, string> } }).error.fields).toHaveProperty(
      'email',
    );

    const changed = await api('PATCH', `${base}/${body.id}`, { types: ['discovery', 'smart_alerts'] });
    expect(changed.status).toBe(200);
    expect(await changed.json()).toMatchObject({ email: 'api@other.example', types: ['discovery', 'smart_alerts'] });
    const list = (await (await api('GET', base)).json()) as { email: string }[];
    expect(list.map((r) => r.email).sort()).toEqual(['api@other.example', 'theirs@other.example']);
    expect((await api('DELETE', `${base}/${body.id}`)).status).toBe(204);
    expect((await api('GET', base)).status).toBe(200);
    expect((await rowsOf(other)).map((r) => r.email)).toEqual(['theirs@other.example']);
  });
});

describe('without a mail server', () => {
  it('keeps notification mail waiting in the outbox', async () => {
    const customer = await makeOrganization(em(), other, 'customer', 'Quiet Customer');
    await raiseSmartAlert(em(), {
      organizationId: customer.id,
      key: `outbox:${customer.id}`,
      title: 'Unusual deletions',
      message: 'Many records were deleted.',
      at: new Date(),
    });
    const k = t.kernel;
    expect(await runNotificationSender(k.orm, k.deps.mailer, k.deps.config, k.deps.log, new Date())).toEqual({
      sent: 0,
      retrying: 0,
      failed: 0,
    });
    // theirs@other.example (the partner's, subscribed to exceptions only) does not get smart alerts.
    const outbox = await (await get('/settings/outbox')).text();
    expect(outbox).not.toContain('Unusual deletions (Quiet Customer)');
    await createRecipient(em(), other, { email: 'alerts@other.example', types: ['smart_alerts'] }, new Date());
    await raiseSmartAlert(em(), {
      organizationId: customer.id,
      key: `outbox-2:${customer.id}`,
      title: 'Unusual deletions',
      message: 'Many records were deleted.',
      at: new Date(),
    });
    await runNotificationSender(k.orm, k.deps.mailer, k.deps.config, k.deps.log, new Date());
    const waiting = await (await get('/settings/outbox')).text();
    expect(waiting).toContain('Unusual deletions (Quiet Customer)');
    expect(waiting).toContain('<span class="badge">In outbox</span>');
  });
});
