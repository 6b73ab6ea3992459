// An API key holds an explicit scope (role, permissions, accessible accounts) that never exceeds
// its creator's rights when it is made, and is checked against the creator's current rights on
// every use: a deactivated or demoted creator suspends the key, and its row says why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IOrganization, type IUser, User } from '../../../core/identity/entities.ts';
import { basic, getTokens, json, TOKEN_URL, tokenRequest, withBearer } from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeOrganization, makeUser, rootOf, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let root: IOrganization;
let partnerA: IOrganization;
let partnerB: IOrganization;
let customerA: IOrganization;
let adminCookie: string;

const em = () => t.kernel.orm.em.fork();

/** A request as a signed-in browser sends it to the API (cookie and Origin). */
function withCookie(cookie: string, method = 'GET', body?: unknown): RequestInit {
  return {
    method,
    headers: { cookie, origin: ORIGIN, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  };
}

async function userWith(
  email: string,
  options: Parameters<typeof makeUser>[3],
): Promise<{ user: IUser; cookie: string }> {
  const user = await makeUser(em(), root, email, options);
  return { user, cookie: await signIn(t.app, email, TEST_PASSWORD) };
}

/** A key made over the API by a signed-in user, and an access token for it. */
async function keyOf(cookie: string, scope?: unknown) {
  const res = await t.app.request(`/api/v1/organizations/${root.id}/api-keys`, withCookie(cookie, 'POST', scope));
  if (res.status !== 201) throw new Error(`key creation failed with ${res.status}: ${await res.text()}`);
  const key = await json(res);
  const tokens = await getTokens(t.app, { clientId: key.clientId, secret: key.clientSecret });
  return { key, token: tokens.access_token };
}

const org = (id: string) => `/api/v1/organizations/${id}`;

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  adminCookie = await signIn(t.app);
  root = await rootOf(em());
  partnerA = await makeOrganization(em(), root, 'partner', 'Partner A');
  partnerB = await makeOrganization(em(), root, 'partner', 'Partner B');
  customerA = await makeOrganization(em(), partnerA, 'customer', 'Customer of A');
}, 60_000);
afterAll(async () => {
  await t.close();
});

describe('a key made by a Custom user with only "Manage integrations"', () => {
  it('holds only that permission: users, the audit and its creator are out of reach (403)', async () => {
    const { user, cookie } = await userWith('integrator@acme.example', {
      role: 'custom',
      permissions: ['manage_integrations'],
    });
    const { key, token } = await keyOf(cookie);
    expect(key.scope).toEqual({
      role: 'custom',
      permissions: ['manage_integrations'],
      accessibleAccounts: 'all',
      accessibleOrganizationIds: [],
    });
    expect(key.status).toBe('active');

    expect((await t.app.request(`${org(root.id)}/users`, withBearer(token))).status).toBe(403);
    expect((await t.app.request('/api/v1/audit', withBearer(token))).status).toBe(403);
    const escalate = await t.app.request(
      `${org(root.id)}/users/${user.id}`,
      withBearer(token, 'PATCH', { role: 'administrator' }),
    );
    expect(escalate.status).toBe(403);
    expect((await em().findOneOrFail(User, { id: user.id })).role).toBe('custom');
    // What it does hold still works.
    expect((await t.app.request(`${org(root.id)}/api-keys`, withBearer(token))).status).toBe(200);
  });

  it('cannot make a key with more than its own scope either', async () => {
    const { cookie } = await userWith('integrator2@acme.example', {
      role: 'custom',
      permissions: ['manage_integrations'],
    });
    const { token } = await keyOf(cookie);
    const res = await t.app.request(`${org(root.id)}/api-keys`, withBearer(token, 'POST', { role: 'administrator' }));
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe('forbidden');
  });
});

describe('a key made by a user limited to selected accounts', () => {
  it('reaches only those accounts (and what is under them)', async () => {
    const { cookie } = await userWith('limited@acme.example', {
      role: 'custom',
      permissions: ['manage_integrations', 'view_dashboard'],
      accessible: [partnerA.id],
    });
    const { key, token } = await keyOf(cookie);
    expect(key.scope).toMatchObject({ accessibleAccounts: 'selected', accessibleOrganizationIds: [partnerA.id] });
    expect((await t.app.request(org(partnerA.id), withBearer(token))).status).toBe(200);
    expect((await t.app.request(org(customerA.id), withBearer(token))).status).toBe(200);
    expect((await t.app.request(org(partnerB.id), withBearer(token))).status).toBe(404);
    const children = await json(await t.app.request(`${org(root.id)}/children`, withBearer(token)));
    expect(children.items.map((o: { name: string }) => o.name)).toEqual(['Partner A']);
  });

  it('refuses a scope wider than the creator holds (403), and accepts a narrower one', async () => {
    const { cookie } = await userWith('limited2@acme.example', {
      role: 'custom',
      permissions: ['manage_integrations', 'view_dashboard'],
      accessible: [partnerA.id],
    });
    const post = (scope: unknown) => t.app.request(`${org(root.id)}/api-keys`, withCookie(cookie, 'POST', scope));
    for (const scope of [
      { role: 'administrator' },
      { role: 'custom', permissions: ['manage_users'] },
      { role: 'custom', permissions: ['view_dashboard'], accessibleAccounts: 'all' },
      {
        role: 'custom',
        permissions: ['view_dashboard'],
        accessibleAccounts: 'selected',
        accessibleOrganizationIds: [partnerB.id],
      },
    ]) {
      const res = await post(scope);
      expect({ scope, status: res.status }).toEqual({ scope, status: 403 });
    }
    const narrow = await post({
      role: 'custom',
      permissions: ['view_dashboard'],
      accessibleAccounts: 'selected',
      accessibleOrganizationIds: [customerA.id],
    });
    expect(narrow.status).toBe(201);
    const key = await json(narrow);
    expect(key.scope).toEqual({
      role: 'custom',
      permissions: ['view_dashboard'],
      accessibleAccounts: 'selected',
      accessibleOrganizationIds: [customerA.id],
    });
    const { access_token } = await getTokens(t.app, { clientId: key.clientId, secret: key.clientSecret });
    expect((await t.app.request(org(customerA.id), withBearer(access_token))).status).toBe(200);
    expect((await t.app.request(org(partnerA.id), withBearer(access_token))).status).toBe(404);
    expect((await t.app.request(`${org(root.id)}/api-keys`, withBearer(access_token))).status).toBe(403);
  });
});

describe("the creator's current rights", () => {
  it('suspend the key while its creator is deactivated, stated on its row, and free it when reactivated', async () => {
    const { user, cookie } = await userWith('leaver@acme.example', {
      role: 'custom',
      permissions: ['manage_integrations', 'view_dashboard'],
    });
    const { key, token } = await keyOf(cookie);
    expect((await t.app.request(org(root.id), withBearer(token))).status).toBe(200);

    const off = await t.app.request(
      `${org(root.id)}/users/${user.id}`,
      withCookie(adminCookie, 'PATCH', { status: 'deactivated' }),
    );
    expect(off.status).toBe(200);
    const refused = await t.app.request(org(root.id), withBearer(token));
    expect(refused.status).toBe(403);
    const body = await json(refused);
    expect(body.error.code).toBe('api_key_suspended');
    expect(body.error.message).toContain('leaver@acme.example is deactivated');

    const tokenRes = await t.app.request(
      TOKEN_URL,
      tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(key.clientId, key.clientSecret) }),
    );
    expect(tokenRes.status).toBe(403);
    expect(await json(tokenRes)).toEqual({
      error: 'access_denied',
      error_description: expect.stringContaining('deactivated'),
    });

    const rows = await json(await t.app.request(`${org(root.id)}/api-keys`, withCookie(adminCookie)));
    expect(rows.find((r: { clientId: string }) => r.clientId === key.clientId)).toMatchObject({
      status: 'suspended',
      suspendedBecause: expect.stringContaining('deactivated'),
    });
    const page = await (await t.app.request('/settings/api', { headers: { cookie: adminCookie } })).text();
    expect(page).toContain('Suspended');
    expect(page).toContain('leaver@acme.example is deactivated');

    await t.app.request(`${org(root.id)}/users/${user.id}`, withCookie(adminCookie, 'PATCH', { status: 'active' }));
    expect((await t.app.request(org(root.id), withBearer(token))).status).toBe(200);
  });

  it('suspend the key when its creator loses a permission the key holds', async () => {
    const { user, cookie } = await userWith('demoted@acme.example', {
      role: 'custom',
      permissions: ['manage_integrations', 'view_dashboard'],
    });
    const { token } = await keyOf(cookie);
    expect((await t.app.request(org(root.id), withBearer(token))).status).toBe(200);
    const demote = await t.app.request(
      `${org(root.id)}/users/${user.id}`,
      withCookie(adminCookie, 'PATCH', { permissions: ['manage_integrations'] }),
    );
    expect(demote.status).toBe(200);
    const refused = await t.app.request(`${org(root.id)}/api-keys`, withBearer(token));
    expect(refused.status).toBe(403);
    expect((await json(refused)).error).toMatchObject({
      code: 'api_key_suspended',
      message: expect.stringContaining('View dashboard'),
    });
  });

  it('suspend the key when its creator is limited to fewer accounts', async () => {
    const { user, cookie } = await userWith('narrowed@acme.example', {
      role: 'custom',
      permissions: ['manage_integrations', 'view_dashboard'],
    });
    const { token } = await keyOf(cookie);
    const narrow = await t.app.request(
      `${org(root.id)}/users/${user.id}`,
      withCookie(adminCookie, 'PATCH', { accessibleAccounts: 'selected', accessibleOrganizationIds: [partnerA.id] }),
    );
    expect(narrow.status).toBe(200);
    const refused = await t.app.request(org(partnerB.id), withBearer(token));
    expect(refused.status).toBe(403);
    expect((await json(refused)).error.code).toBe('api_key_suspended');
  });
});
