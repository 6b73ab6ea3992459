// Settings › API in the browser UI: create a key (secret shown once), list, delete with a
// confirmation; guarded by "manage integrations", scoped to the organization worked in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey } from '../../../core/access/entities.ts';
import { AuditEvent } from '../../../core/audit/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import { addOrganization, addUser, getTokens, json, makeKey, rootOrganization, withBearer } from '../../helpers/api.ts';
import { ADMIN, completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let root: IOrganization;
let cookie: string;

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  root = await rootOrganization(t);
});
afterAll(async () => {
  await t.close();
});

const get = (path: string, c = cookie) => t.app.request(path, { headers: { cookie: c } });
const post = (path: string, c = cookie, fields: Record<string, string> = {}) => {
  const init = form(fields);
  return t.app.request(path, { ...init, headers: { ...init.headers, cookie: c } });
};

function secretIn(html: string): string {
  const match = /data-testid="client-secret">([^<]+)</.exec(html);
  if (!match?.[1]) throw new Error('no secret on the page');
  return match[1];
}

describe('Settings › API', () => {
  let clientId: string;
  let secret: string;

  it('starts empty', async () => {
    const res = await get('/settings/api');
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('No API keys yet');
    expect(html).toContain('aria-current="page">API</a>');
  });

  it('creates a key and shows its secret once, in the response to the create request', async () => {
    const res = await post('/settings/api/keys');
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const html = await res.text();
    secret = secretIn(html);
    clientId = /data-testid="client-id">(hfk_[0-9A-Za-z]{16})</.exec(html)?.[1] as string;
    expect(clientId).toMatch(/^hfk_[0-9A-Za-z]{16}$/);
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(html).toContain('Copy the client secret now');

    const audit = await t.kernel.orm.em.fork().find(AuditEvent, { activity: 'API key created' });
    expect(audit.map((a) => a.description)).toEqual([`API key ${clientId} created`]);
    expect(audit[0]?.performedBy).toBe(ADMIN.email);
    const key = await t.kernel.orm.em.fork().findOneOrFail(ApiKey, { id: clientId });
    expect(key.createdByEmail).toBe(ADMIN.email);
  });

  it('the secret works for the token endpoint', async () => {
    const tokens = await getTokens(t.app, { clientId, secret });
    const res = await t.app.request(`/api/v1/organizations/${root.id}`, withBearer(tokens.access_token));
    expect(res.status).toBe(200);
  });

  it('lists the key afterwards without its secret, which appears nowhere any more', async () => {
    const html = await (await get('/settings/api')).text();
    expect(html).toContain(clientId);
    expect(html).toContain(ADMIN.email);
    expect(html).not.toContain('No API keys yet');
    const apiList = await (
      await t.app.request(`/api/v1/organizations/${root.id}/api-keys`, { headers: { cookie } })
    ).text();
    const auditPage = await (await t.app.request('/api/v1/audit?pageSize=200', { headers: { cookie } })).text();
    const csv = await (await t.app.request('/api/v1/audit/export.csv', { headers: { cookie } })).text();
    for (const text of [html, apiList, auditPage, csv, t.logs.join('')]) {
      expect(text).not.toContain(secret);
    }
    const row = await t.kernel.orm.em.fork().getConnection().execute('select * from api_keys');
    expect(JSON.stringify(row)).not.toContain(secret);
  });

  it('deletes a key only after a confirmation, and audits it', async () => {
    const confirm = await get(`/settings/api/keys/${clientId}/delete`);
    expect(confirm.status).toBe(200);
    const html = await confirm.text();
    expect(html).toContain(`Delete API key <code class="wrap-anywhere">${clientId}</code>?`);
    expect(await t.kernel.orm.em.fork().count(ApiKey, { id: clientId })).toBe(1);

    const res = await post(`/settings/api/keys/${clientId}/delete`);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/settings/api');
    expect(await t.kernel.orm.em.fork().count(ApiKey, { id: clientId })).toBe(0);
    const audit = await t.kernel.orm.em.fork().find(AuditEvent, { activity: 'API key deleted' });
    expect(audit.map((a) => a.description)).toEqual([`API key ${clientId} deleted`]);
    // The banner comes with the cookie the redirect set, once.
    const flash = /holdfast_flash=[^;]*/.exec(res.headers.get('set-cookie') ?? '')?.[0];
    const after = await (await get('/settings/api', `${cookie}; ${flash}`)).text();
    expect(after).toContain(`API key ${clientId} deleted.`);
    expect(after).toContain('No API keys yet');
  });

  it('refuses a cross-site form post', async () => {
    const res = await t.app.request('/settings/api/keys', {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(res.status).toBe(403);
    expect(await t.kernel.orm.em.fork().count(ApiKey)).toBe(0);
  });

  it('answers 404 for a key of another organization, even one below', async () => {
    const partner = await addOrganization(t, root, 'partner', 'Partner with a key');
    const theirs = await makeKey(t, partner);
    expect((await get(`/settings/api/keys/${theirs.clientId}/delete`)).status).toBe(404);
    expect((await post(`/settings/api/keys/${theirs.clientId}/delete`)).status).toBe(404);
    expect((await get('/settings/api/keys/not-a-key/delete')).status).toBe(404);
    expect(await t.kernel.orm.em.fork().count(ApiKey, { id: theirs.clientId })).toBe(1);
  });

  it('is refused (403) to a user without "manage integrations", and sends visitors to sign in', async () => {
    await addUser(t, root, 'viewer@acme.example', 'Viewer-password-42', 'custom', ['view_dashboard']);
    const viewer = await signIn(t.app, 'viewer@acme.example', 'Viewer-password-42');
    expect((await get('/settings/api', viewer)).status).toBe(403);
    expect((await post('/settings/api/keys', viewer)).status).toBe(403);
    const settings = await (await get('/settings/account', viewer)).text();
    expect(settings).not.toContain('href="/settings/api"');
    const anonymous = await t.app.request('/settings/api');
    expect(anonymous.status).toBe(303);
    expect(anonymous.headers.get('location')).toBe('/login?next=%2Fsettings%2Fapi');
    expect(await t.kernel.orm.em.fork().count(ApiKey, { organization: root.id })).toBe(0);
  });

  it('creates a key with the scope chosen on its form, at most what the creator holds, shown on its row', async () => {
    await addUser(t, root, 'integrations@acme.example', 'Integrations-pass-42', 'custom', [
      'manage_integrations',
      'view_dashboard',
    ]);
    const integrator = await signIn(t.app, 'integrations@acme.example', 'Integrations-pass-42');
    const formPage = await (await get('/settings/api/keys/new', integrator)).text();
    // Held rights are ticked and free; the others are shown, disabled.
    expect(formPage).toMatch(/value="view_dashboard" checked>/);
    expect(formPage).toMatch(/value="manage_users" disabled>/);
    expect(formPage).toMatch(/value="administrator" disabled>/);

    const beyond = await post('/settings/api/keys', integrator, { role: 'custom', permissions: 'manage_users' });
    expect(beyond.status).toBe(403);
    expect(await beyond.text()).toContain('You do not hold: Manage users');

    const made = await post('/settings/api/keys', integrator, { role: 'custom', permissions: 'view_dashboard' });
    expect(made.status).toBe(200);
    const madeId = /data-testid="client-id">(hfk_[0-9A-Za-z]{16})</.exec(await made.text())?.[1] as string;
    const stored = await t.kernel.orm.em.fork().findOneOrFail(ApiKey, { id: madeId });
    expect([stored.role, stored.permissions, stored.accessibleAccounts]).toEqual(['custom', ['view_dashboard'], 'all']);
    const list = await (await get('/settings/api')).text();
    const row = list.slice(list.indexOf(`<code>${madeId}</code>`));
    expect(row.slice(0, row.indexOf('</tr>'))).toMatch(/Custom: View dashboard[\s\S]*All accounts[\s\S]*Active/);
  });

  it('records who created a key made over the API', async () => {
    const key = await makeKey(t, root);
    const tokens = await getTokens(t.app, key);
    const made = await json(
      await t.app.request(`/api/v1/organizations/${root.id}/api-keys`, withBearer(tokens.access_token, 'POST')),
    );
    const html = await (await get('/settings/api')).text();
    expect(html).toContain(made.clientId);
    expect(html).toContain(`API key ${key.clientId}`);
    expect(html).not.toContain(made.clientSecret);
  });
});
