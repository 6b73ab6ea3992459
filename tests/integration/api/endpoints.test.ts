// What the /api/v1 tenancy endpoints do for a caller who may: organizations, IP rules, the
// security audit, API keys and users, and how they appear in the OpenAPI document.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/access/entities.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { MailMessage } from '../../../core/mail/entities.ts';
import { addUser, getTokens, json, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { ADMIN, completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let root: IOrganization;
let token: string;
let cookie: string;

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  root = await rootOrganization(t);
  token = (await getTokens(t.app, await makeKey(t, root))).access_token;
});
afterAll(async () => {
  await t.close();
});

const call = (path: string, method = 'GET', body?: unknown) =>
  t.app.request(`/api/v1${path}`, withBearer(token, method, body));

async function auditOf(activity: string) {
  return t.kernel.orm.em.fork().find(AuditEvent, { activity }, { orderBy: { id: 'desc' } });
}

describe('organizations', () => {
  it('creates accounts below an organization and lists them with search, kind filter and paging', async () => {
    const partner = await json(
      await call(`/organizations/${root.id}/children`, 'POST', { kind: 'partner', name: 'Northwind Partners' }),
    );
    expect(partner).toMatchObject({ kind: 'partner', name: 'Northwind Partners', parentId: root.id, status: 'active' });
    for (const name of ['Alpha Dental', 'Beta Bakery', 'Gamma Garage']) {
      const res = await call(`/organizations/${partner.id}/children`, 'POST', {
        kind: 'customer',
        name,
        contactEmail: `it@${name.split(' ')[0]?.toLowerCase()}.example`,
      });
      expect(res.status).toBe(201);
    }
    expect((await auditOf('Account added')).map((a) => a.account)).toContain('Gamma Garage');

    const children = await json(await call(`/organizations/${root.id}/children`));
    expect(children.items.map((o: { name: string }) => o.name)).toEqual(['Northwind Partners']);
    const all = await json(await call(`/organizations/${root.id}/children?scope=descendants&kind=customer&pageSize=2`));
    expect(all).toMatchObject({ total: 3, page: 1, pageSize: 2 });
    expect(all.items.map((o: { name: string }) => o.name)).toEqual(['Alpha Dental', 'Beta Bakery']);
    const second = await json(
      await call(`/organizations/${root.id}/children?scope=descendants&kind=customer&pageSize=2&page=2`),
    );
    expect(second.items.map((o: { name: string }) => o.name)).toEqual(['Gamma Garage']);
    const search = await json(await call(`/organizations/${partner.id}/children?search=bakery`));
    expect(search.items.map((o: { name: string }) => o.name)).toEqual(['Beta Bakery']);
    const byEmail = await json(await call(`/organizations/${partner.id}/children?search=gamma.example`));
    expect(byEmail.total).toBe(1);
    // Typed `_` and `%` are literal characters, not LIKE wildcards.
    await call(`/organizations/${partner.id}/children`, 'POST', { kind: 'customer', name: 'Delta_100% Ltd' });
    const literal = await json(await call(`/organizations/${partner.id}/children?search=a_100%25`));
    expect(literal.items.map((o: { name: string }) => o.name)).toEqual(['Delta_100% Ltd']);
    const underscore = await json(await call(`/organizations/${partner.id}/children?search=a_d`));
    expect(underscore.total).toBe(0);
  });

  it('refuses what the tree does not allow, and invalid details, with per-field messages', async () => {
    const customer = await json(
      await call(`/organizations/${root.id}/children`, 'POST', { kind: 'customer', name: 'Leaf Ltd' }),
    );
    const under = await call(`/organizations/${customer.id}/children`, 'POST', { kind: 'customer', name: 'Nested' });
    expect(under.status).toBe(422);
    expect((await json(under)).error.fields.kind).toContain('cannot hold');
    const bad = await call(`/organizations/${customer.id}`, 'PATCH', { contactEmail: 'not-an-email' });
    expect(bad.status).toBe(422);
    expect((await json(bad)).error.fields.contactEmail).toContain('valid email');
    const wrongType = await call(`/organizations/${customer.id}`, 'PATCH', { name: 42 });
    expect(wrongType.status).toBe(422);
  });

  it('changes only the details sent, and audits what changed', async () => {
    const org = await json(
      await call(`/organizations/${root.id}/children`, 'POST', {
        kind: 'customer',
        name: 'Before Inc',
        phone: '+1 555 0100',
      }),
    );
    const res = await call(`/organizations/${org.id}`, 'PATCH', { name: 'After Inc', contactName: 'Ada' });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ name: 'After Inc', contactName: 'Ada', phone: '+1 555 0100' });
    const cleared = await json(await call(`/organizations/${org.id}`, 'PATCH', { phone: null }));
    expect(cleared.phone).toBeNull();
    const [latest] = await auditOf('Settings changed');
    expect(latest?.description).toBe('Details of After Inc changed: phone');
  });
});

describe('account details and removal need an administrator', () => {
  it('refuses a Custom user who may add accounts (403), and changes nothing', async () => {
    await addUser(t, root, 'creator@acme.example', 'Creator-password-42', 'custom', ['add_accounts', 'view_dashboard']);
    const creator = await signIn(t.app, 'creator@acme.example', 'Creator-password-42');
    const asCreator = (path: string, method: string, body?: unknown) =>
      t.app.request(`/api/v1${path}`, {
        method,
        headers: { cookie: creator, origin: ORIGIN, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const made = await asCreator(`/organizations/${root.id}/children`, 'POST', {
      kind: 'customer',
      name: 'Made by creator',
    });
    expect(made.status).toBe(201);
    const org = await json(made);
    expect((await asCreator(`/organizations/${org.id}`, 'PATCH', { name: 'Renamed' })).status).toBe(403);
    const removal = await asCreator(`/organizations/${org.id}/removal`, 'PUT', {
      confirmation: 'I approve the removal of my data',
    });
    expect(removal.status).toBe(403);
    expect(await json(await call(`/organizations/${org.id}`))).toMatchObject({
      name: 'Made by creator',
      status: 'active',
    });
  });
});

describe('account removal', () => {
  it('needs the exact confirmation, starts the grace period, and can be undone; the root stays', async () => {
    const org = await json(
      await call(`/organizations/${root.id}/children`, 'POST', { kind: 'customer', name: 'Leaving Ltd' }),
    );
    const vague = await call(`/organizations/${org.id}/removal`, 'PUT', { confirmation: 'yes' });
    expect(vague.status).toBe(422);
    expect((await json(vague)).error.fields.confirmation).toContain('I approve the removal of my data');
    const removed = await call(`/organizations/${org.id}/removal`, 'PUT', {
      confirmation: 'I approve the removal of my data',
    });
    expect(removed.status).toBe(200);
    const pending = await json(removed);
    expect(pending.status).toBe('removal_pending');
    expect(new Date(pending.purgeAfter).getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    expect((await auditOf('Account removal requested'))[0]?.account).toBe('Leaving Ltd');
    const restored = await json(await call(`/organizations/${org.id}/removal`, 'DELETE'));
    expect(restored).toMatchObject({ status: 'active', purgeAfter: null });
    expect((await auditOf('Account restored'))[0]?.account).toBe('Leaving Ltd');
    const rootRemoval = await call(`/organizations/${root.id}/removal`, 'PUT', {
      confirmation: 'I approve the removal of my data',
    });
    expect(rootRemoval.status).toBe(409);
  });
});

describe('IP rules', () => {
  it('adds, changes, lists and deletes rules; each change is audited and mailed to the administrators', async () => {
    const base = `/organizations/${root.id}`;
    const mailBefore = await t.kernel.orm.em.fork().count(MailMessage, { to: ADMIN.email });
    const invalid = await call(`${base}/ip-rules`, 'POST', { entries: ['300.1.1.1'] });
    expect(invalid.status).toBe(422);
    expect((await json(invalid)).error.fields.addresses).toContain('300.1.1.1');

    const rule = await json(
      await call(`${base}/ip-rules`, 'POST', { description: 'HQ', entries: ['192.0.2.0/24', '2001:db8::1'] }),
    );
    expect(rule).toMatchObject({ description: 'HQ', entries: ['192.0.2.0/24', '2001:db8::1'] });
    const changed = await json(
      await call(`${base}/ip-rules/${rule.id}`, 'PATCH', { entries: ['192.0.2.10-192.0.2.20'] }),
    );
    expect(changed).toMatchObject({ description: 'HQ', entries: ['192.0.2.10-192.0.2.20'] });
    const list = await json(await call(`${base}/ip-rules`));
    expect(list).toEqual({ enabled: false, rules: [expect.objectContaining({ id: rule.id })] });
    // The test caller has no address, so it cannot be trusted: enabling is refused.
    const enable = await call(`${base}/ip-restrictions`, 'PUT', { enabled: true });
    expect(enable.status).toBe(409);
    expect((await call(`${base}/ip-rules/${rule.id}`, 'DELETE')).status).toBe(204);

    const entries = await auditOf('IP restrictions changed');
    expect(entries.map((e) => e.description)).toEqual([
      'Trusted addresses removed: 192.0.2.10-192.0.2.20',
      'Trusted addresses changed from 192.0.2.0/24, 2001:db8::1 to 192.0.2.10-192.0.2.20',
      'Trusted addresses added (HQ): 192.0.2.0/24, 2001:db8::1',
    ]);
    expect(entries[0]?.performedBy).toMatch(/^API key hfk_/);
    const mailAfter = await t.kernel.orm.em.fork().count(MailMessage, { to: ADMIN.email });
    expect(mailAfter - mailBefore).toBe(3);
  });
});

describe('security audit', () => {
  it('filters and pages entries, and the CSV export holds exactly the filtered rows', async () => {
    const page = await json(await call('/audit?activity=Account%20added&pageSize=2'));
    expect(page.total).toBeGreaterThanOrEqual(3);
    expect(page.items).toHaveLength(2);
    expect(page.items.every((e: { activity: string }) => e.activity === 'Account added')).toBe(true);

    const all = await json(await call('/audit?activity=Account%20added&pageSize=200'));
    const csv = await call('/audit/export.csv?activity=Account%20added');
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toContain('text/csv');
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('Date,Activity,Service,Status,Account,Organization,Performed by,IP address,Description');
    expect(lines.slice(1).map((l) => l.split(',')[0])).toEqual(all.items.map((e: { at: string }) => e.at));
    expect((await auditOf('Audit exported'))[0]?.description).toContain(`(${all.total} entries)`);
  });

  it('filters by date range, status, performer and organization', async () => {
    const future = await json(await call('/audit?from=2999-01-01'));
    expect(future.total).toBe(0);
    const today = new Date().toISOString().slice(0, 10);
    const byDay = await json(
      await call(`/audit?from=${today}&to=${today}&performer=${encodeURIComponent(ADMIN.email)}`),
    );
    expect(byDay.total).toBeGreaterThan(0);
    expect(byDay.items.every((e: { performedBy: string }) => e.performedBy === ADMIN.email)).toBe(true);
    const failed = await json(await call('/audit?status=failed'));
    expect(failed.items.every((e: { status: string }) => e.status === 'failed')).toBe(true);
    const ofRoot = await json(await call(`/audit?organization=${root.id}`));
    expect(ofRoot.items.every((e: { organization: { id: string } }) => e.organization.id === root.id)).toBe(true);
    const badDate = await call('/audit?from=yesterday');
    expect(badDate.status).toBe(422);
    expect(typeof (await json(badDate)).error.fields.from).toBe('string');
    expect((await call('/audit?activity=Nonsense')).status).toBe(422);
  });
});

describe('API keys', () => {
  it('returns the secret on creation only; lists and stores no secret', async () => {
    const res = await call(`/organizations/${root.id}/api-keys`, 'POST');
    expect(res.status).toBe(201);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const created = await json(res);
    expect(created).toEqual({
      clientId: expect.stringMatching(/^hfk_[0-9A-Za-z]{16}$/),
      clientSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      createdAt: expect.any(String),
      createdBy: expect.stringMatching(/^API key hfk_/),
      lastUsedAt: null,
      scope: {
        role: 'administrator',
        permissions: expect.any(Array),
        accessibleAccounts: 'all',
        accessibleOrganizationIds: [],
      },
      status: 'active',
      suspendedBecause: null,
    });
    const listText = await (await call(`/organizations/${root.id}/api-keys`)).text();
    expect(listText).toContain(created.clientId);
    expect(listText).not.toContain(created.clientSecret);
    expect(listText).not.toContain('secretHash');
    const stored = await t.kernel.orm.em.fork().findOneOrFail(ApiKey, { id: created.clientId });
    expect(stored.secretHash).toMatch(/^[0-9a-f]{64}$/);
    expect(stored.secretHash).not.toContain(created.clientSecret);
    const audit = await auditOf('API key created');
    expect(audit[0]?.description).toBe(`API key ${created.clientId} created`);
    expect(JSON.stringify(audit)).not.toContain(created.clientSecret);
    expect(t.logs.join('')).not.toContain(created.clientSecret);
  });
});

describe('users', () => {
  it('invites, changes, deactivates and deletes users, with audit entries', async () => {
    const base = `/organizations/${root.id}/users`;
    const invited = await call(base, 'POST', {
      email: 'Grace@Acme.example',
      role: 'custom',
      permissions: ['view_dashboard'],
    });
    expect(invited.status).toBe(201);
    const user = await json(invited);
    expect(user).toMatchObject({ email: 'grace@acme.example', status: 'pending', permissions: ['view_dashboard'] });
    expect(JSON.stringify(user)).not.toMatch(/passwordHash|totpSecret/);
    expect(await t.kernel.orm.em.fork().count(MailMessage, { to: 'grace@acme.example' })).toBe(1);

    const duplicate = await call(base, 'POST', { email: 'grace@acme.example', role: 'custom' });
    expect(duplicate.status).toBe(422);
    expect((await json(duplicate)).error.fields.email).toContain('already exists');

    const changed = await json(
      await call(`${base}/${user.id}`, 'PATCH', {
        permissions: ['view_dashboard', 'restore'],
        displayName: 'Grace H.',
      }),
    );
    expect(changed).toMatchObject({
      displayName: 'Grace H.',
      permissions: ['view_dashboard', 'restore'],
      email: 'grace@acme.example',
    });
    expect((await auditOf('Permissions changed'))[0]?.account).toBe('grace@acme.example');

    const deactivated = await json(await call(`${base}/${user.id}`, 'PATCH', { status: 'deactivated' }));
    expect(deactivated.status).toBe('deactivated');
    expect((await auditOf('User deactivated'))[0]?.account).toBe('grace@acme.example');

    const list = await json(await call(base));
    expect(list.map((u: { email: string }) => u.email)).toEqual([
      ADMIN.email,
      'creator@acme.example',
      'grace@acme.example',
    ]);

    expect((await call(`${base}/${user.id}`, 'DELETE')).status).toBe(204);
    expect((await auditOf('User removed'))[0]?.account).toBe('grace@acme.example');
  });

  it('keeps the last administrator', async () => {
    const admin = (await json(await call(`/organizations/${root.id}/users`))).find(
      (u: { email: string }) => u.email === ADMIN.email,
    );
    const demote = await call(`/organizations/${root.id}/users/${admin.id}`, 'PATCH', { role: 'custom' });
    expect(demote.status).toBe(409);
    expect((await json(demote)).error.code).toBe('last_administrator');
    expect((await call(`/organizations/${root.id}/users/${admin.id}`, 'DELETE')).status).toBe(409);
  });
});

describe('the OpenAPI document', () => {
  it('describes the token endpoint, the security schemes and every tenancy route', async () => {
    const doc = await json(await t.app.request('/api/v1/openapi.json'));
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/oauth/token',
        '/organizations/{id}',
        '/organizations/{id}/children',
        '/organizations/{id}/ip-rules',
        '/organizations/{id}/ip-rules/{ruleId}',
        '/organizations/{id}/ip-restrictions',
        '/organizations/{id}/removal',
        '/organizations/{id}/api-keys',
        '/organizations/{id}/api-keys/{clientId}',
        '/organizations/{id}/users',
        '/organizations/{id}/users/{userId}',
        '/audit',
        '/audit/export.csv',
      ]),
    );
    expect(doc.components.securitySchemes.oauth2.flows.clientCredentials.tokenUrl).toBe('/api/v1/oauth/token');
    expect(doc.paths['/organizations/{id}/users'].post.security).toEqual(
      expect.arrayContaining([{ oauth2: [] }, { session: [] }]),
    );
    const docs = await t.app.request('/api/v1/docs', { headers: { cookie } });
    const html = await docs.text();
    expect(html).toContain('/api/v1/oauth/token');
    expect(html).toContain('/api/v1/organizations/{id}/ip-rules/{ruleId}');
  });

  it('works for a signed-in browser session too', async () => {
    const res = await t.app.request(`/api/v1/organizations/${root.id}/api-keys`, {
      headers: { cookie, origin: ORIGIN },
    });
    expect(res.status).toBe(200);
  });
});
