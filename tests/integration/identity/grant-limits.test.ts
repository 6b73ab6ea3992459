// Managing users is not a way to gain reach or rights: nobody changes their own role,
// permissions or accessible accounts, and nobody grants accounts or rights they do not hold,
// through the API or the Settings › Users pages.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../../core/access/api-keys.ts';
import { principalForUser } from '../../../core/access/principal.ts';
import { type IOrganization, type IUser, User } from '../../../core/identity/entities.ts';
import { getTokens, json, withBearer } from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, form, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let partnerA: IOrganization;
let partnerB: IOrganization;
let manager: IUser;
let managerCookie: string;

const em = () => t.kernel.orm.em.fork();

function api(cookie: string, method: string, path: string, body?: unknown) {
  return t.app.request(`/api/v1/organizations/${root.id}${path}`, {
    method,
    headers: { cookie, origin: ORIGIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

function page(cookie: string, path: string, fields: Record<string, string | string[]>) {
  const body = new URLSearchParams();
  for (const [name, value] of Object.entries(fields)) {
    for (const v of Array.isArray(value) ? value : [value]) body.append(name, v);
  }
  return t.app.request(path, { ...form({}), headers: { ...form({}).headers, cookie }, body: body.toString() });
}

async function stored(id: string) {
  const u = await em().findOneOrFail(User, { id });
  return [u.role, [...u.permissions].sort(), u.accessibleAccounts, u.accessibleOrganizationIds];
}

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  root = await rootOf(em());
  partnerA = await makeOrganization(em(), root, 'partner', 'Partner A');
  partnerB = await makeOrganization(em(), root, 'partner', 'Partner B');
  manager = await makeUser(em(), root, 'manager@acme.example', {
    role: 'custom',
    permissions: ['manage_users', 'view_dashboard'],
    accessible: [partnerA.id],
  });
  managerCookie = await signIn(t.app, manager.email, TEST_PASSWORD);
}, 60_000);
afterAll(async () => {
  await t.close();
});

describe('changing oneself', () => {
  it('refuses (403) a user who widens their own accessible accounts, permissions or role over the API', async () => {
    const before = await stored(manager.id);
    for (const changes of [
      { accessibleAccounts: 'all' },
      { accessibleAccounts: 'selected', accessibleOrganizationIds: [partnerA.id, partnerB.id] },
      { permissions: ['manage_users', 'view_dashboard', 'manage_security'] },
      { permissions: ['manage_users'] },
      { role: 'administrator' },
    ]) {
      const res = await api(managerCookie, 'PATCH', `/users/${manager.id}`, changes);
      expect({ changes, status: res.status }).toEqual({ changes, status: 403 });
      expect((await json(res)).error.message).toContain('your own');
    }
    expect(await stored(manager.id)).toEqual(before);
    // Their own name is still theirs to change.
    const renamed = await api(managerCookie, 'PATCH', `/users/${manager.id}`, { displayName: 'Manny' });
    expect(renamed.status).toBe(200);
  });

  it('refuses the same through Settings › Users, and shows the own grants as not editable', async () => {
    const before = await stored(manager.id);
    const res = await page(managerCookie, `/settings/users/${manager.id}`, {
      email: manager.email,
      role: 'custom',
      permissions: ['manage_users', 'view_dashboard'],
      accessibleAccounts: 'all',
    });
    expect(res.status).toBe(403);
    expect(await stored(manager.id)).toEqual(before);
    const form = await (
      await t.app.request(`/settings/users/${manager.id}`, { headers: { cookie: managerCookie } })
    ).text();
    expect(form).toContain('You cannot change your own role, permissions or accessible accounts');
  });

  it("refuses an API key that changes its own creator's grant: the key counts as its creator", async () => {
    const keymaker = await makeUser(em(), root, 'keymaker@acme.example', {
      role: 'custom',
      permissions: ['manage_users', 'manage_integrations', 'view_dashboard'],
    });
    const e = em();
    const made = await createApiKey(e, e.merge(root), principalForUser(keymaker), { label: keymaker.email });
    const { access_token } = await getTokens(t.app, { clientId: made.key.id, secret: made.secret });
    const before = await stored(keymaker.id);
    const res = await t.app.request(
      `/api/v1/organizations/${root.id}/users/${keymaker.id}`,
      withBearer(access_token, 'PATCH', { permissions: ['manage_users', 'manage_integrations'] }),
    );
    expect(res.status).toBe(403);
    expect((await json(res)).error.message).toContain('your own');
    expect(await stored(keymaker.id)).toEqual(before);
  });

  it('refuses an administrator who demotes themselves while another administrator exists', async () => {
    const admin = await makeUser(em(), root, 'second-admin@acme.example');
    const cookie = await signIn(t.app, admin.email, TEST_PASSWORD);
    const res = await api(cookie, 'PATCH', `/users/${admin.id}`, { role: 'custom', permissions: ['manage_users'] });
    expect(res.status).toBe(403);
    expect((await em().findOneOrFail(User, { id: admin.id })).role).toBe('administrator');
  });
});

describe('granting reach', () => {
  it('refuses to invite a user with accounts beyond the inviter’s own (API and page)', async () => {
    for (const grant of [
      { accessibleAccounts: 'all' },
      { accessibleAccounts: 'selected', accessibleOrganizationIds: [partnerB.id] },
    ]) {
      const res = await api(managerCookie, 'POST', '/users', { email: 'wide@acme.example', role: 'custom', ...grant });
      expect({ grant, status: res.status }).toEqual({ grant, status: 403 });
    }
    const viaPage = await page(managerCookie, '/settings/users/new', {
      email: 'wide@acme.example',
      role: 'custom',
      accessibleAccounts: 'all',
    });
    expect(viaPage.status).toBe(403);
    expect(await em().count(User, { email: 'wide@acme.example' })).toBe(0);

    const within = await api(managerCookie, 'POST', '/users', {
      email: 'narrow@acme.example',
      role: 'custom',
      permissions: ['view_dashboard'],
      accessibleAccounts: 'selected',
      accessibleOrganizationIds: [partnerA.id],
    });
    expect(within.status).toBe(201);
  });

  it('refuses to widen another user beyond the editor’s own accounts', async () => {
    const other = await makeUser(em(), root, 'other@acme.example', {
      role: 'custom',
      permissions: ['view_dashboard'],
      accessible: [partnerA.id],
    });
    const before = await stored(other.id);
    const res = await api(managerCookie, 'PATCH', `/users/${other.id}`, { accessibleAccounts: 'all' });
    expect(res.status).toBe(403);
    expect(await stored(other.id)).toEqual(before);
    const renamed = await api(managerCookie, 'PATCH', `/users/${other.id}`, { displayName: 'Other' });
    expect(renamed.status).toBe(200);
  });

  it('holds for administrators limited to selected accounts too', async () => {
    const limitedAdmin = await makeUser(em(), root, 'limited-admin@acme.example', { accessible: [partnerA.id] });
    const cookie = await signIn(t.app, limitedAdmin.email, TEST_PASSWORD);
    const res = await api(cookie, 'POST', '/users', { email: 'everything@acme.example', role: 'administrator' });
    expect(res.status).toBe(403);
    expect(await em().count(User, { email: 'everything@acme.example' })).toBe(0);
  });
});
