// Settings › Security › Single sign-on and /api/v1/organizations/{id}/sso: providers with
// write-only secrets, the sign-in policy and its break-glass administrator (root only), e-mail
// domains verified through a DNS server on loopback, the users list's credential types and
// linked identities an administrator removes — every change in the Security audit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { type IOrganization, Organization, Session, User } from '../../../core/identity/entities.ts';
import { ExternalIdentity, SsoDomain, SsoProvider } from '../../../core/identity/sso/entities.ts';
import { providerView } from '../../../core/identity/sso/providers.ts';
import { createOrganization } from '../../../core/tenancy/organizations.ts';
import { type DnsTxtServer, startDnsTxtServer } from '../../fakes/dns-txt-server.ts';
import { json, withBearer } from '../../helpers/api.ts';
import { adminToken } from '../../helpers/api-probes.ts';
import { ADMIN, completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';
import { makeUser, TEST_PASSWORD } from '../../helpers/tenants.ts';

let t: TestApp;
let dns: DnsTxtServer;
let root: IOrganization;
let customer: IOrganization;
let rootCookie: string;
const em = () => t.kernel.orm.em.fork();

async function post(path: string, fields: Record<string, string>, cookie = rootCookie): Promise<Response> {
  return t.app.request(path, { ...form(fields), headers: { ...form({}).headers, cookie } });
}

async function lastAudit(): Promise<{ activity: string; description: string }> {
  const [row] = await em().find(AuditEvent, {}, { orderBy: { id: 'desc' }, limit: 1 });
  return { activity: row?.activity ?? '', description: row?.description ?? '' };
}

beforeAll(async () => {
  dns = await startDnsTxtServer();
  t = await createTestApp({ HOLDFAST_SSO_DNS_SERVERS: dns.address });
  await completeSetupVia(t.app);
  rootCookie = await signIn(t.app);
  const e = em();
  root = await e.findOneOrFail(Organization, { kind: 'root' });
  customer = await createOrganization(e, root, { kind: 'customer', name: 'Contoso' });
});

afterAll(async () => {
  await t?.close();
  await dns?.close();
});

describe('the Single sign-on settings page', () => {
  it('adds an Okta provider, keeps its secret write-only and audits it', async () => {
    const res = await post('/settings/security/sso/providers', {
      protocol: 'oidc',
      preset: 'okta',
      name: 'Contoso Okta',
      issuer: 'https://contoso.okta.com',
      clientId: '0oa-client',
      clientSecret: 'very-secret-value',
      enabled: 'on',
    });
    expect(res.status).toBe(303);
    const provider = await em().findOneOrFail(SsoProvider, { name: 'Contoso Okta' });
    expect(provider.preset).toBe('okta');
    expect(provider.secretsSealed).toMatch(/^hf1\./);
    expect(provider.secretsSealed).not.toContain('very-secret-value');
    const edit = await (
      await t.app.request(`/settings/security/sso/providers/${provider.id}`, { headers: { cookie: rootCookie } })
    ).text();
    expect(edit).not.toContain('very-secret-value');
    expect(edit).toContain('A secret is stored and never shown.');
    expect(edit).toContain(`http://localhost/sso/callback/${provider.id}`);
    expect(await lastAudit()).toEqual({
      activity: 'Single sign-on changed',
      description: 'Identity provider Contoso Okta (Okta) added',
    });
    // Saved again with the secret left blank: the stored one stays.
    expect(
      (
        await post(`/settings/security/sso/providers/${provider.id}`, {
          protocol: 'oidc',
          preset: 'okta',
          name: 'Contoso Okta',
          issuer: 'https://contoso.okta.com',
          clientId: '0oa-client',
          enabled: 'on',
        })
      ).status,
    ).toBe(303);
    const after = await em().findOneOrFail(SsoProvider, { id: provider.id }, { populate: ['organization'] });
    expect(providerView(after, t.kernel.credentials).secrets).toEqual({ clientSecret: 'very-secret-value' });
    const page = await (await t.app.request('/settings/security/sso', { headers: { cookie: rootCookie } })).text();
    expect(page).toContain('Contoso Okta');
    expect(page).toContain(`http://localhost/sso/start/${provider.id}`);
  });

  it('refuses an http issuer and an Entra ID preset without a tenant, field by field', async () => {
    const res = await post('/settings/security/sso/providers', {
      protocol: 'oidc',
      preset: 'oidc',
      name: 'Plain',
      issuer: 'http://idp.example.com',
      clientId: 'x',
    });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('The issuer must use https://');
    const entra = await post('/settings/security/sso/providers', {
      protocol: 'oidc',
      preset: 'entra',
      name: 'Entra',
      clientId: 'x',
    });
    expect(entra.status).toBe(422);
    expect(await entra.text()).toContain('Enter the directory (tenant) id');
  });

  it('verifies an e-mail domain by its DNS TXT record', async () => {
    expect((await post('/settings/security/sso/domains', { domain: 'Acme.example' })).status).toBe(303);
    const row = await em().findOneOrFail(SsoDomain, { domain: 'acme.example' });
    // Not published yet, then published wrong: refused with what is missing.
    const failureAfter = async (): Promise<string> => {
      const res = await post(`/settings/security/sso/domains/${row.id}/verify`, {});
      expect(res.status).toBe(303);
      const flash = (res.headers.getSetCookie()[0] ?? '').split(';')[0];
      const page = await (
        await t.app.request('/settings/security/sso', { headers: { cookie: `${flash}; ${rootCookie}` } })
      ).text();
      return page.slice(page.indexOf('role="alert">') + 13, page.indexOf('</div>', page.indexOf('role="alert">')));
    };
    expect(await failureAfter()).toBe('No TXT record found for acme.example (ENOTFOUND).');
    dns.records.set('acme.example', ['v=spf1 -all']);
    expect(await failureAfter()).toBe(
      `acme.example has no TXT record &quot;holdfast-verification=${row.token}&quot; yet (DNS changes can take a while).`,
    );
    expect((await em().findOneOrFail(SsoDomain, { id: row.id })).verifiedAt).toBeNull();
    dns.records.set('acme.example', ['v=spf1 -all', `holdfast-verification=${row.token}`]);
    expect((await post(`/settings/security/sso/domains/${row.id}/verify`, {})).status).toBe(303);
    const verified = await em().findOneOrFail(SsoDomain, { id: row.id });
    expect(verified.verifiedBy).toBe('dns');
    expect(await lastAudit()).toEqual({
      activity: 'Single sign-on changed',
      description: 'E-mail domain acme.example verified by its DNS record',
    });
  });

  it('names the break-glass administrator only as a root administrator', async () => {
    const e = em();
    const owner = await makeUser(e, e.merge(customer), 'owner@contoso.example', { role: 'administrator' });
    const ownerCookie = await signIn(t.app, owner.email, TEST_PASSWORD);
    // The customer's own administrator sets the policy but sees no break-glass field.
    const own = await (await t.app.request('/settings/security/sso', { headers: { cookie: ownerCookie } })).text();
    expect(own).not.toContain('id="breakGlassEmail"');
    expect(
      (await post('/settings/security/sso/policy', { signInPolicy: 'sso', breakGlassEmail: owner.email }, ownerCookie))
        .status,
    ).toBe(303);
    expect((await em().findOneOrFail(Organization, { id: customer.id })).ssoBreakGlassUserId).toBeNull();
    expect((await em().findOneOrFail(Organization, { id: customer.id })).signInPolicy).toBe('sso');
    // Root names them through the API.
    const token = await adminToken(t, await em().findOneOrFail(User, { email: ADMIN.email }), root);
    const named = await t.app.request(
      `/api/v1/organizations/${customer.id}/sso/policy`,
      withBearer(token, 'PUT', { signInPolicy: 'sso', breakGlassEmail: owner.email }),
    );
    expect(named.status).toBe(200);
    expect(await json(named)).toEqual({ signInPolicy: 'sso', breakGlassEmail: owner.email });
    // The owner is the break-glass administrator: still in with a password.
    expect((await signIn(t.app, owner.email, TEST_PASSWORD)).startsWith('holdfast_session=')).toBe(true);
    const ownerToken = await adminToken(t, owner, customer);
    const refused = await t.app.request(
      `/api/v1/organizations/${customer.id}/sso/policy`,
      withBearer(ownerToken, 'PUT', { signInPolicy: 'either', breakGlassEmail: null }),
    );
    expect(refused.status).toBe(403);
    const e2 = em();
    const org = await e2.findOneOrFail(Organization, { id: customer.id });
    org.signInPolicy = 'either';
    await e2.flush();
  });
});

describe('the single sign-on API', () => {
  it('creates, reads, changes and removes providers without ever answering a secret; another tenant gets 404', async () => {
    const token = await adminToken(t, await em().findOneOrFail(User, { email: ADMIN.email }), root);
    const base = `/api/v1/organizations/${customer.id}/sso/providers`;
    const created = await t.app.request(
      base,
      withBearer(token, 'POST', {
        name: 'Contoso Google',
        settings: { preset: 'google', hostedDomain: 'contoso.example', clientId: 'g-client', clientSecret: 'g-secret' },
        jitEnabled: true,
        jitRole: 'custom',
        jitPermissions: ['view_dashboard'],
        groupRules: [{ group: 'admins', role: 'administrator', permissions: [] }],
      }),
    );
    expect(created.status).toBe(201);
    const body = await json(created);
    expect(JSON.stringify(body)).not.toContain('g-secret');
    expect(body).toMatchObject({
      protocol: 'oidc',
      preset: 'google',
      type: 'Google',
      settings: { issuer: 'https://accounts.google.com', hostedDomain: 'contoso.example', clientSecretSet: true },
      groupRules: [{ group: 'admins', role: 'administrator', permissions: [] }],
    });
    const patched = await t.app.request(`${base}/${body.id}`, withBearer(token, 'PATCH', { enabled: false }));
    expect(patched.status).toBe(200);
    expect(await json(patched)).toMatchObject({
      enabled: false,
      settings: { clientSecretSet: true, clientId: 'g-client' },
    });
    const list = await json(await t.app.request(base, withBearer(token)));
    expect(list.items.map((p: { name: string }) => p.name)).toContain('Contoso Google');
    // Another organization's administrator: the provider does not exist for them.
    const e = em();
    const other = await createOrganization(e, e.merge(root), { kind: 'customer', name: 'Fabrikam' });
    const stranger = await makeUser(e, other, 'admin@fabrikam.example', { role: 'administrator' });
    const strangerToken = await adminToken(t, stranger, other);
    expect(
      (await t.app.request(`/api/v1/organizations/${other.id}/sso/providers/${body.id}`, withBearer(strangerToken)))
        .status,
    ).toBe(404);
    expect((await t.app.request(`${base}/${body.id}`, withBearer(strangerToken))).status).toBe(404);
    expect((await t.app.request(`${base}/${body.id}`, withBearer(token, 'DELETE'))).status).toBe(204);
    expect(await em().count(SsoProvider, { id: body.id })).toBe(0);
    expect(await lastAudit()).toEqual({
      activity: 'Single sign-on changed',
      description: 'Identity provider Contoso Google removed; its linked identities and sessions ended',
    });
  });
});

describe('the Security page’s sign-in methods', () => {
  it('shows each method’s state as the seed does: Email & Password, then each kind of provider', async () => {
    const e = em();
    const org = await createOrganization(e, e.merge(root), { kind: 'customer', name: 'Wingtip' });
    const owner = await makeUser(e, org, 'owner@wingtip.example', { role: 'administrator' });
    const cookie = await signIn(t.app, owner.email, TEST_PASSWORD);
    const methods = async (): Promise<string> => {
      const page = await (await t.app.request('/settings/security', { headers: { cookie } })).text();
      const start = page.indexOf('<ul class="sign-in-methods"');
      const list = page.slice(start, page.indexOf('</ul>', start));
      return list
        .replace(/<[^>]+>/g, ' ')
        .replace(/&amp;/g, '&')
        .replace(/\s+/g, ' ')
        .trim();
    };
    expect(await methods()).toBe('Email & Password: Active');
    const saml = e.create(SsoProvider, {
      organization: org.id,
      protocol: 'saml',
      preset: 'okta',
      name: 'Wingtip Okta',
      enabled: true,
      settings: {},
    });
    e.create(SsoProvider, {
      organization: org.id,
      protocol: 'oidc',
      preset: 'google',
      name: 'Wingtip Google',
      enabled: false,
      settings: {},
    });
    await e.flush();
    expect(await methods()).toBe('Email & Password: Active SAML: Active Google: Off');
    org.signInPolicy = 'sso';
    await e.flush();
    expect(await methods()).toBe('Email & Password: Off SAML: Active Google: Off');
    org.ssoBreakGlassUserId = owner.id;
    await e.flush();
    expect(await methods()).toBe('Email & Password: Break-glass only SAML: Active Google: Off');
    org.signInPolicy = 'password';
    saml.enabled = true;
    await e.flush();
    expect(await methods()).toBe('Email & Password: Active SAML: Off Google: Off');
  });
});

describe('the e-mail domains API', () => {
  it('adds, verifies by DNS, lists and removes a domain, audited; refuses bad names and other tenants', async () => {
    const token = await adminToken(t, await em().findOneOrFail(User, { email: ADMIN.email }), root);
    const base = `/api/v1/organizations/${customer.id}/sso/domains`;
    const added = await t.app.request(base, withBearer(token, 'POST', { domain: 'Contoso-Mail.example.' }));
    expect(added.status).toBe(201);
    const body = await json(added);
    const row = await em().findOneOrFail(SsoDomain, { id: body.id });
    expect(body).toEqual({
      id: row.id,
      domain: 'contoso-mail.example',
      verified: false,
      verifiedAt: null,
      verifiedBy: null,
      txtRecord: { name: 'contoso-mail.example', value: `holdfast-verification=${row.token}` },
      createdAt: row.createdAt.toISOString(),
    });
    expect(await lastAudit()).toEqual({
      activity: 'Single sign-on changed',
      description: 'E-mail domain contoso-mail.example added (not verified yet)',
    });
    const again = await t.app.request(base, withBearer(token, 'POST', { domain: 'contoso-mail.example' }));
    expect(again.status).toBe(422);
    expect((await json(again)).error.fields).toEqual({ domain: 'contoso-mail.example is already listed.' });
    const bad = await t.app.request(base, withBearer(token, 'POST', { domain: 'not a domain' }));
    expect(bad.status).toBe(422);
    expect((await json(bad)).error.fields).toEqual({ domain: 'Enter a domain name, e.g. example.com.' });

    // Not published yet: 409 saying what is missing, nothing verified.
    const early = await t.app.request(`${base}/${row.id}/verify`, withBearer(token, 'POST'));
    expect(early.status).toBe(409);
    expect((await json(early)).error).toEqual({
      code: 'domain_not_verified',
      message: 'No TXT record found for contoso-mail.example (ENOTFOUND).',
    });
    dns.records.set('contoso-mail.example', [`holdfast-verification=${row.token}`]);
    const verified = await t.app.request(`${base}/${row.id}/verify`, withBearer(token, 'POST'));
    expect(verified.status).toBe(200);
    expect(await json(verified)).toMatchObject({ verified: true, verifiedBy: 'dns' });
    expect(await lastAudit()).toEqual({
      activity: 'Single sign-on changed',
      description: 'E-mail domain contoso-mail.example verified by its DNS record',
    });
    const list = await json(await t.app.request(base, withBearer(token)));
    expect(list.items.map((d: { domain: string; verified: boolean }) => [d.domain, d.verified])).toEqual([
      ['contoso-mail.example', true],
    ]);

    // Another organization's administrator: the domain does not exist for them, at either address.
    const e = em();
    const other = await createOrganization(e, e.merge(root), { kind: 'customer', name: 'Northwind' });
    const stranger = await makeUser(e, other, 'admin@northwind.example', { role: 'administrator' });
    const strangerToken = await adminToken(t, stranger, other);
    const otherBase = `/api/v1/organizations/${other.id}/sso/domains`;
    expect((await t.app.request(base, withBearer(strangerToken))).status).toBe(404);
    expect((await t.app.request(`${otherBase}/${row.id}/verify`, withBearer(strangerToken, 'POST'))).status).toBe(404);
    expect((await t.app.request(`${otherBase}/${row.id}`, withBearer(strangerToken, 'DELETE'))).status).toBe(404);
    expect((await t.app.request(`${base}/${row.id}`, withBearer(strangerToken, 'DELETE'))).status).toBe(404);
    expect(await em().count(SsoDomain, { id: row.id })).toBe(1);

    // Verified by Contoso: Northwind can neither add it nor verify a copy it listed earlier.
    const taken = await t.app.request(otherBase, withBearer(strangerToken, 'POST', { domain: 'contoso-mail.example' }));
    expect(taken.status).toBe(409);
    expect((await json(taken)).error).toEqual({
      code: 'domain_taken',
      message: 'contoso-mail.example is verified by another organization.',
    });
    const e2 = em();
    const early2 = e2.create(SsoDomain, {
      organization: other.id,
      domain: 'contoso-mail.example',
      token: 'listed-before',
      verifiedAt: null,
      verifiedBy: null,
      createdAt: new Date(),
    });
    await e2.flush();
    dns.records.set('contoso-mail.example', [
      `holdfast-verification=${row.token}`,
      'holdfast-verification=listed-before',
    ]);
    const stolen = await t.app.request(`${otherBase}/${early2.id}/verify`, withBearer(strangerToken, 'POST'));
    expect(stolen.status).toBe(409);
    expect((await json(stolen)).error.code).toBe('domain_taken');
    expect((await em().findOneOrFail(SsoDomain, { id: early2.id })).verifiedAt).toBeNull();

    expect((await t.app.request(`${base}/${row.id}`, withBearer(token, 'DELETE'))).status).toBe(204);
    expect(await em().count(SsoDomain, { id: row.id })).toBe(0);
    expect(await lastAudit()).toEqual({
      activity: 'Single sign-on changed',
      description: 'E-mail domain contoso-mail.example removed',
    });
  });

  it('says at the settings form’s field that another organization verified the domain', async () => {
    const e = em();
    const other = await createOrganization(e, e.merge(root), { kind: 'customer', name: 'Tailspin' });
    e.create(SsoDomain, {
      organization: other.id,
      domain: 'tailspin.example',
      token: 'x',
      verifiedAt: new Date(),
      verifiedBy: 'dns',
      createdAt: new Date(),
    });
    await e.flush();
    const res = await post('/settings/security/sso/domains', { domain: 'tailspin.example' });
    expect(res.status).toBe(409);
    expect(await res.text()).toContain('tailspin.example is verified by another organization.');
    expect(await em().count(SsoDomain, { domain: 'tailspin.example' })).toBe(1);
  });
});

describe('the users list', () => {
  it('shows each user’s credential types and removes a linked identity with its sessions', async () => {
    const e = em();
    const provider = await e.findOneOrFail(SsoProvider, { name: 'Contoso Okta' });
    const user = await makeUser(e, e.merge(root), 'linked@acme.example');
    const link = e.create(ExternalIdentity, {
      user,
      provider,
      subject: 'okta|linked',
      email: user.email,
      createdAt: new Date(),
      lastSignInAt: new Date(),
    });
    e.create(Session, {
      id: 'a'.repeat(64),
      user,
      stage: 'active',
      expiresAt: new Date(Date.now() + 3_600_000),
      ssoProviderId: provider.id,
    } as never);
    await e.flush();
    const list = await (await t.app.request('/settings/users', { headers: { cookie: rootCookie } })).text();
    const row = list.slice(list.indexOf('linked@acme.example'));
    expect(row.slice(0, row.indexOf('</tr>'))).toMatch(
      /<span class="badge">E-mail<\/span> <span class="badge">Okta<\/span>/,
    );
    const edit = await (await t.app.request(`/settings/users/${user.id}`, { headers: { cookie: rootCookie } })).text();
    expect(edit).toContain('Linked identities');
    const removed = await post(`/settings/users/${user.id}/identities/${link.id}/delete`, {});
    expect(removed.status).toBe(303);
    expect(await em().count(ExternalIdentity, { id: link.id })).toBe(0);
    expect(await em().count(Session, { user: user.id })).toBe(0);
    expect(await lastAudit()).toEqual({
      activity: 'External identity removed',
      description: 'Contoso Okta identity linked@acme.example unlinked from linked@acme.example; its sessions ended',
    });
  });
});
