// The SAML module behind the shared single sign-on flow (core/identity/sso/flow.ts), against a
// real IdP on loopback (samlify, tests/helpers/saml-idp.ts): a provider saved from Okta's App
// Embed Link, a sign-in that starts at the flow, goes through the IdP and comes back to the
// callback as the browser would post it; the pending sign-in is single use and the assertion
// is claimed in the database (saml_assertion_uses).
import type { EntityManager } from '@mikro-orm/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { ValidationError } from '../../../core/errors.ts';
import { type IOrganization, Session, User } from '../../../core/identity/entities.ts';
import { type ISsoProvider, SsoProvider } from '../../../core/identity/sso/entities.ts';
import { beginSsoSignIn, contextFor, finishSsoSignIn, type SsoFlowOptions } from '../../../core/identity/sso/flow.ts';
import { ssoProtocol } from '../../../core/identity/sso/protocols.ts';
import { createProvider, providerView } from '../../../core/identity/sso/providers.ts';
import { SamlAssertionUse } from '../../../core/identity/sso/saml/saml-entities.ts';
import { samlSpEndpoints, samlSpMetadata } from '../../../core/identity/sso/saml/saml-service-provider.ts';
import { json, withBearer } from '../../helpers/api.ts';
import { adminToken } from '../../helpers/api-probes.ts';
import { ADMIN, completeSetupVia, createTestApp, type TestApp } from '../../helpers/kernel.ts';
import {
  generateSigningKey,
  type SamlTestIdp,
  type SamlTestUser,
  startSamlIdp,
  TEST_APP_ID,
} from '../../helpers/saml-idp.ts';
import { makeOrganization, makeUser, rootOf } from '../../helpers/tenants.ts';

const BASE = 'https://backup.example.com';

let t: TestApp;
let org: IOrganization;
let provider: ISsoProvider;
let idp: SamlTestIdp;
const em = (): EntityManager => t.kernel.orm.em.fork();
const options = (): SsoFlowOptions => ({
  cipher: t.kernel.credentials,
  allowLoopback: true,
  baseUrl: BASE,
  now: new Date(),
});

beforeAll(async () => {
  t = await createTestApp({ HOLDFAST_SSO_ALLOW_LOOPBACK: 'true' });
  await completeSetupVia(t.app);
  org = await makeOrganization(em(), await rootOf(em()), 'customer', 'Okta Customer');
  // The SP endpoints depend on the provider's id, known once it is saved: the IdP starts with
  // placeholder SP metadata and is given the real one after.
  idp = await startSamlIdp(samlSpMetadata(samlSpEndpoints(BASE, 'pending')));
  provider = await createProvider(
    em(),
    org,
    { protocol: 'saml', name: 'Okta', settings: { oktaLink: idp.oktaEmbedLink } },
    t.kernel.credentials,
    true,
  );
  idp.setServiceProvider(samlSpMetadata(samlSpEndpoints(BASE, provider.id)));
}, 60_000);

afterAll(async () => {
  await idp?.close();
  await t?.close();
});

async function signInThroughIdp(user: SamlTestUser) {
  const e = em();
  const { start, binding } = await beginSsoSignIn(e, await e.findOneOrFail(SsoProvider, provider.id), options(), {
    loginHint: user.email,
    next: '/',
  });
  expect(start.kind).toBe('redirect');
  const answer = await idp.answer(start.url, user);
  const callback = {
    url: new URL(answer.acsUrl),
    method: 'POST' as const,
    form: { SAMLResponse: answer.samlResponse, RelayState: answer.relayState },
  };
  const finish = () => finishSsoSignIn(em(), provider.id, callback, binding, { ...options(), ip: '198.51.100.7' });
  return { answer, finish };
}

describe('SAML through the single sign-on flow', () => {
  it('saves a provider from an Okta App Embed Link with the IdP read from its metadata', () => {
    expect(provider.preset).toBe('okta');
    const view = providerView(provider, t.kernel.credentials);
    expect(ssoProtocol('saml')?.describeSettings(view)).toEqual({
      source: 'oktaEmbedLink',
      oktaLink: idp.oktaEmbedLink,
      idpEntityId: idp.entityId,
      idpSsoUrl: idp.ssoUrl,
      idpSloUrl: `${idp.origin}/app/holdfast_saml/${TEST_APP_ID}/slo/saml`,
      certificates: 1,
      emailVerified: true,
      signAuthnRequests: false,
      spCertificate: view.secrets.spCertificate,
    });
    // The SP's key pair, made at the first save: the private key sealed, the certificate public.
    expect(view.secrets.spPrivateKey).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    expect(view.secrets.spCertificate).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(provider.secretsSealed).toMatch(/^hf1\./);
    expect(provider.secretsSealed).not.toContain('PRIVATE KEY');
  });

  it('serves SP metadata naming the provider’s entity ID and callback as ACS', async () => {
    const context = contextFor(provider, options());
    const xml = (await ssoProtocol('saml')?.metadata?.(providerView(provider, t.kernel.credentials), context)) ?? '';
    expect(xml).toContain(`entityID="${BASE}/sso/metadata/${provider.id}"`);
    expect(xml).toContain(`Location="${BASE}/sso/callback/${provider.id}"`);
  });

  it('refuses settings without a source, with the field’s message', async () => {
    const attempt = createProvider(
      em(),
      org,
      { protocol: 'saml', name: 'Broken', settings: {} },
      t.kernel.credentials,
      true,
    );
    await expect(attempt).rejects.toBeInstanceOf(ValidationError);
    await expect(attempt).rejects.toMatchObject({
      fields: {
        metadataUrl:
          'Enter the identity provider’s metadata URL, paste its metadata XML, or paste Okta’s App Embed Link.',
      },
    });
  });

  it('signs in an invited user with a signed assertion and links the external identity', async () => {
    const user = await makeUser(em(), org, 'carol@okta-customer.example');
    const { finish } = await signInThroughIdp({ email: 'Carol@okta-customer.example', nameId: '00u-carol' });
    const result = await finish();
    expect(result.kind).toBe('ok');
    if (result.kind !== 'ok') return;
    expect(result.user.id).toBe(user.id);
    expect(result.identity).toMatchObject({ subject: '00u-carol', email: 'carol@okta-customer.example' });
    expect(result.notes).toContain('external identity linked');
    expect(await em().count(SamlAssertionUse, {})).toBeGreaterThan(0);
  });

  it('refuses the same answer posted again (the pending sign-in is used up)', async () => {
    await makeUser(em(), org, 'dave@okta-customer.example');
    const { finish } = await signInThroughIdp({ email: 'dave@okta-customer.example' });
    expect((await finish()).kind).toBe('ok');
    expect(await finish()).toMatchObject({
      kind: 'refused',
      reason:
        'This sign-in answer was already used or does not belong to a sign-in started here. Start again from the sign-in page.',
    });
  });

  it('refuses a response the IdP made for another service provider, with the reason for the audit', async () => {
    await makeUser(em(), org, 'erin@okta-customer.example');
    const e = em();
    const { start, binding } = await beginSsoSignIn(e, await e.findOneOrFail(SsoProvider, provider.id), options(), {
      loginHint: null,
      next: '/',
    });
    const other = samlSpEndpoints(BASE, 'another-provider');
    const ours = samlSpEndpoints(BASE, provider.id);
    const answer = await idp.answer(
      start.url,
      { email: 'erin@okta-customer.example' },
      {
        spMetadata: samlSpMetadata(other).replace(other.acsUrl, ours.acsUrl),
      },
    );
    const result = await finishSsoSignIn(
      em(),
      provider.id,
      {
        url: new URL(answer.acsUrl),
        method: 'POST',
        form: { SAMLResponse: answer.samlResponse, RelayState: answer.relayState },
      },
      binding,
      { ...options(), ip: '198.51.100.7' },
    );
    expect(result).toMatchObject({
      kind: 'refused',
      reason: 'The assertion is meant for another service provider (its Audience is not ours).',
    });
  });
});

describe('two organizations with different SAML IdPs', () => {
  it('does not let a user of one sign in through the other’s IdP, nor its answers reach the other', async () => {
    const e = em();
    const otherOrg = await makeOrganization(e, await rootOf(e), 'customer', 'Other Customer');
    const otherIdp = await startSamlIdp(samlSpMetadata(samlSpEndpoints(BASE, 'pending')));
    try {
      const other = await createProvider(
        em(),
        otherOrg,
        { protocol: 'saml', name: 'Other IdP', settings: { metadataXml: otherIdp.metadataXml } },
        t.kernel.credentials,
        true,
      );
      otherIdp.setServiceProvider(samlSpMetadata(samlSpEndpoints(BASE, other.id)));
      await makeUser(em(), org, 'frank@okta-customer.example');
      // Frank (of the first organization) vouched for by the second organization's IdP.
      const started = await beginSsoSignIn(em(), await em().findOneOrFail(SsoProvider, other.id), options(), {
        loginHint: null,
        next: '/',
      });
      const answer = await otherIdp.answer(started.start.url, { email: 'frank@okta-customer.example' });
      const callback = {
        url: new URL(answer.acsUrl),
        method: 'POST' as const,
        form: { SAMLResponse: answer.samlResponse, RelayState: answer.relayState },
      };
      expect(
        await finishSsoSignIn(em(), other.id, callback, started.binding, { ...options(), ip: '198.51.100.7' }),
      ).toMatchObject({
        kind: 'refused',
        reason:
          'There is no account for frank@okta-customer.example in Other Customer. Ask an administrator to invite you.',
      });
      // The second IdP's answer posted to the first organization's provider: not its IdP, not its audience.
      const ours = await beginSsoSignIn(em(), await em().findOneOrFail(SsoProvider, provider.id), options(), {
        loginHint: null,
        next: '/',
      });
      // It answers the first organization's own AuthnRequest, as a malicious or confused IdP could.
      const forOther = await otherIdp.answer(ours.start.url, { email: 'frank@okta-customer.example' });
      const crossed = await finishSsoSignIn(
        em(),
        provider.id,
        {
          url: new URL(`${BASE}/sso/callback/${provider.id}`),
          method: 'POST',
          form: {
            SAMLResponse: forOther.samlResponse,
            RelayState: new URL(ours.start.url).searchParams.get('RelayState') ?? '',
          },
        },
        ours.binding,
        { ...options(), ip: '198.51.100.7' },
      );
      expect(crossed).toEqual({
        kind: 'refused',
        reason: `The response is addressed to ${BASE}/sso/callback/${other.id}, not to this service provider.`,
        provider: expect.objectContaining({ id: provider.id }),
        user: null,
        email: null,
      });
    } finally {
      await otherIdp.close();
    }
  });
});

describe('losing access through SAML (no refresh token to ask the IdP with)', () => {
  it('ends the session within one idle period, and the old answer cannot sign in again', async () => {
    // The appliance at its own address (http://localhost in app.request), through its routes.
    const local = await startSamlIdp(samlSpMetadata(samlSpEndpoints('http://localhost', 'pending')));
    try {
      const localProvider = await createProvider(
        em(),
        org,
        { protocol: 'saml', name: 'Okta (local)', settings: { metadataXml: local.metadataXml } },
        t.kernel.credentials,
        true,
      );
      local.setServiceProvider(samlSpMetadata(samlSpEndpoints('http://localhost', localProvider.id)));
      await makeUser(em(), org, 'gina@okta-customer.example');
      const start = await t.app.request(`/sso/start/${localProvider.id}`);
      expect(start.status).toBe(303);
      const binding = (start.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const answer = await local.answer(start.headers.get('location') as string, {
        email: 'gina@okta-customer.example',
      });
      const post = (cookie: string) =>
        t.app.request(`/sso/callback/${localProvider.id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
          body: new URLSearchParams({ SAMLResponse: answer.samlResponse, RelayState: answer.relayState }).toString(),
        });
      const signedIn = await post(binding);
      expect(signedIn.status).toBe(303);
      const cookie = (signedIn.headers.getSetCookie().find((c) => c.startsWith('holdfast_session=')) ?? '').split(
        ';',
      )[0] as string;
      const session = await em().findOneOrFail(Session, { ssoProviderId: localProvider.id });
      const idle = t.kernel.deps.config.sessionIdleMinutes * 60_000;
      expect(session.ssoRevalidateAt?.getTime()).toBe(session.createdAt.getTime() + idle);
      const real = t.kernel.deps.now;
      try {
        let at = session.createdAt.getTime() + idle - 60_000;
        t.kernel.deps.now = () => new Date(at);
        const touch = () => t.app.request('/', { headers: { cookie } });
        // In use, inside the idle period: the session goes on without the IdP.
        expect((await touch()).status).toBe(200);
        // One idle period after the sign-in, though used a minute ago: ended, the IdP must vouch again.
        at += 120_000;
        const ended = await touch();
        expect(ended.status).toBe(303);
        expect(ended.headers.get('location')).toMatch(/^\/login/);
        expect(await em().count(Session, { ssoProviderId: localProvider.id })).toBe(0);
        const [audit] = await em().find(AuditEvent, {}, { orderBy: { id: 'desc' }, limit: 1 });
        expect(audit).toMatchObject({
          activity: 'Sign-out',
          status: 'failed',
          description: 'Single sign-on session ended: the session reached its revalidation time; sign in again',
        });
      } finally {
        t.kernel.deps.now = real;
      }
      // Removed at the IdP, the person gets no new assertion there (the IdP answers 403), and the
      // assertion they had cannot be posted again: not with its pending sign-in, not with a new one.
      local.signInAs = null;
      const again = await t.app.request(`/sso/start/${localProvider.id}`);
      const atIdp = await fetch(again.headers.get('location') as string, { redirect: 'manual' });
      expect(atIdp.status).toBe(403);
      const replayed = await post((again.headers.get('set-cookie') ?? '').split(';')[0] as string);
      expect(replayed.status).toBe(401);
      expect(await replayed.text()).toContain('This sign-in answer was already used');
      expect(await em().count(Session, { ssoProviderId: localProvider.id })).toBe(0);
    } finally {
      await local.close();
    }
  });
});

describe('SAML single logout, with signed requests', () => {
  it('signs out at the IdP after signing out here, and ends sessions on the IdP’s signed LogoutRequest', async () => {
    const key = await generateSigningKey();
    const local = await startSamlIdp(samlSpMetadata(samlSpEndpoints('http://localhost', 'pending')), key);
    // The same key under another entity ID: signs, but is not this organization's IdP.
    const stranger = await startSamlIdp(
      samlSpMetadata(samlSpEndpoints('http://localhost', 'pending')),
      key,
      'https://stranger-idp.example/saml',
    );
    try {
      const created = await createProvider(
        em(),
        org,
        {
          protocol: 'saml',
          name: 'Okta (logout)',
          settings: { metadataXml: local.metadataXml, signAuthnRequests: 'on' },
        },
        t.kernel.credentials,
        true,
      );
      // The IdP is given the SP metadata the appliance serves: its signing and encryption certificate.
      const metadata = await (await t.app.request(`/sso/metadata/${created.id}`)).text();
      expect(metadata).toContain('AuthnRequestsSigned="true"');
      expect(metadata).toContain(`Location="http://localhost/sso/logout/${created.id}"`);
      local.setServiceProvider(metadata);
      stranger.setServiceProvider(metadata);
      await makeUser(em(), org, 'hana@okta-customer.example');
      const hana: SamlTestUser = { email: 'hana@okta-customer.example', nameId: '00u-hana' };
      const signInHana = async (): Promise<string> => {
        const start = await t.app.request(`/sso/start/${created.id}`);
        const binding = (start.headers.get('set-cookie') ?? '').split(';')[0] as string;
        // The IdP accepts only a signed AuthnRequest here.
        const answer = await local.answer(start.headers.get('location') as string, hana, {
          requireSignedRequest: true,
        });
        const res = await t.app.request(`/sso/callback/${created.id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: binding },
          body: new URLSearchParams({ SAMLResponse: answer.samlResponse, RelayState: answer.relayState }).toString(),
        });
        expect(res.status).toBe(303);
        return (res.headers.getSetCookie().find((c) => c.startsWith('holdfast_session=')) ?? '').split(
          ';',
        )[0] as string;
      };
      const sessions = () => em().count(Session, { ssoProviderId: created.id });
      const lastAudit = async () => (await em().find(AuditEvent, {}, { orderBy: { id: 'desc' }, limit: 1 }))[0];

      // SP-initiated: signing out here ends the session, then sends a signed LogoutRequest to the IdP.
      const cookie = await signInHana();
      expect(await sessions()).toBe(1);
      const out = await t.app.request('/logout', { method: 'POST', headers: { cookie, origin: 'http://localhost' } });
      expect(out.status).toBe(303);
      const toIdp = out.headers.get('location') as string;
      expect(toIdp.startsWith(`${local.origin}/app/holdfast_saml/${TEST_APP_ID}/slo/saml?SAMLRequest=`)).toBe(true);
      expect(await local.readLogoutRequest(toIdp)).toEqual({
        nameId: '00u-hana',
        issuer: `http://localhost/sso/metadata/${created.id}`,
      });
      expect(await sessions()).toBe(0);
      // The IdP's answer lands the browser on the login page.
      const back = await t.app.request(`/sso/logout/${created.id}?SAMLResponse=anything`);
      expect(back.headers.get('location')).toBe('/login?signedOut=1');

      // IdP-initiated: a signed LogoutRequest ends Hana's sessions through this provider and is answered.
      await signInHana();
      await signInHana();
      expect(await sessions()).toBe(2);
      const postLogout = (message: { samlRequest: string; relayState: string }) =>
        t.app.request(`/sso/logout/${created.id}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', origin: local.origin },
          body: new URLSearchParams({ SAMLRequest: message.samlRequest, RelayState: message.relayState }).toString(),
        });
      const fromIdp = local.logoutRequest('00u-hana');
      expect(fromIdp.url).toBe(`http://localhost/sso/logout/${created.id}`);
      const answered = await postLogout(fromIdp);
      expect(answered.status).toBe(302);
      const answer = new URL(answered.headers.get('location') as string);
      expect(`${answer.origin}${answer.pathname}`).toBe(`${local.origin}/app/holdfast_saml/${TEST_APP_ID}/slo/saml`);
      expect(answer.searchParams.get('SAMLResponse')).toMatch(/^[A-Za-z0-9+/]+=*$/);
      expect(answer.searchParams.get('RelayState')).toBe('idp-relay');
      expect(answer.searchParams.get('SigAlg')).toBe('http://www.w3.org/2001/04/xmldsig-more#rsa-sha256');
      expect(await sessions()).toBe(0);
      expect(await lastAudit()).toMatchObject({
        activity: 'Sign-out',
        status: 'completed',
        account: 'hana@okta-customer.example',
        description: 'Signed out by Okta (logout) (single logout): 2 sessions ended',
      });

      // Refused, sessions kept, audited: an unsigned LogoutRequest, and one from another issuer.
      await signInHana();
      const unsigned = await postLogout(local.logoutRequest('00u-hana', { unsigned: true }));
      expect(unsigned.status).toBe(400);
      expect(await unsigned.text()).toBe(
        'Single logout refused. The logout request is not signed, or its signature does not verify with the identity provider’s certificate.',
      );
      expect(await lastAudit()).toMatchObject({ activity: 'Sign-out', status: 'failed' });
      const wrongIssuer = await postLogout(stranger.logoutRequest('00u-hana'));
      expect(wrongIssuer.status).toBe(400);
      expect(await wrongIssuer.text()).toBe(
        'Single logout refused. The logout request comes from https://stranger-idp.example/saml, not from the configured identity provider.',
      );
      expect(await lastAudit()).toMatchObject({
        activity: 'Sign-out',
        status: 'failed',
        description:
          'Single logout from Okta (logout) refused: The logout request comes from https://stranger-idp.example/saml, not from the configured identity provider.',
      });
      // The HTTP-Redirect binding: signed over its query it ends the sessions; without a signature,
      // or with the query changed after signing, it is refused before anything is read.
      const bare = await t.app.request(`/sso/logout/${created.id}?SAMLRequest=abc`);
      expect(bare.status).toBe(400);
      expect(await bare.text()).toBe(
        'Single logout refused. The logout request is not signed; the identity provider must sign it.',
      );
      const redirect = new URL(local.logoutRedirect('00u-hana', `http://localhost/sso/logout/${created.id}`));
      const tampered = redirect.search.replace('RelayState=idp-relay', 'RelayState=elsewhere');
      const altered = await t.app.request(`${redirect.pathname}${tampered}`);
      expect(altered.status).toBe(400);
      expect(await altered.text()).toBe(
        'Single logout refused. The logout request is not signed, or its signature does not verify with the identity provider’s certificate.',
      );
      expect(await sessions()).toBe(1);
      const viaRedirect = await t.app.request(`${redirect.pathname}${redirect.search}`);
      expect(viaRedirect.status).toBe(302);
      expect(viaRedirect.headers.get('location')).toContain('SAMLResponse=');
      expect(await sessions()).toBe(0);
    } finally {
      await local.close();
      await stranger.close();
    }
  });
});

describe('SAML through /api/v1 and the SP metadata route', () => {
  it('creates a SAML provider from metadata XML, answers its ACS URL, and serves its SP metadata', async () => {
    const admin = await em().findOneOrFail(User, { email: ADMIN.email });
    const token = await adminToken(t, admin, await rootOf(em()));
    const base = `/api/v1/organizations/${org.id}/sso/providers`;
    const bad = await t.app.request(
      base,
      withBearer(token, 'POST', { protocol: 'saml', name: 'Broken', settings: { metadataXml: '<html/>' } }),
    );
    expect(bad.status).toBe(422);
    expect(JSON.stringify(await json(bad))).toContain(
      'This is not SAML 2.0 metadata: no md:EntityDescriptor was found.',
    );

    const created = await t.app.request(
      base,
      withBearer(token, 'POST', { protocol: 'saml', name: 'Contoso SAML', settings: { metadataXml: idp.metadataXml } }),
    );
    const body = await json(created);
    expect(created.status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({
      protocol: 'saml',
      preset: 'saml',
      type: 'SAML',
      settings: { source: 'metadataXml', idpEntityId: idp.entityId, idpSsoUrl: idp.ssoUrl, certificates: 1 },
    });
    const id = body.id as string;
    // Requests come in on the app's own origin here (no public URL configured).
    expect(body.callbackUrl).toMatch(new RegExp(`/sso/callback/${id}$`));

    const metadata = await t.app.request(`/sso/metadata/${id}`);
    expect(metadata.status).toBe(200);
    expect(metadata.headers.get('content-type')).toBe('application/samlmetadata+xml; charset=utf-8');
    const xml = await metadata.text();
    expect(xml).toMatch(new RegExp(`entityID="[^"]*/sso/metadata/${id}"`));
    expect(xml).toMatch(new RegExp(`Location="[^"]*/sso/callback/${id}"`));
    // An OIDC provider, or none, has no SP metadata.
    expect((await t.app.request('/sso/metadata/no-such-provider')).status).toBe(404);

    // Switching the source: the new one given, the old one cleared.
    const patched = await t.app.request(
      `${base}/${id}`,
      withBearer(token, 'PATCH', { settings: { metadataXml: '', metadataUrl: idp.metadataUrl } }),
    );
    expect(patched.status).toBe(200);
    expect((await json(patched)).settings).toMatchObject({ source: 'metadataUrl', metadataUrl: idp.metadataUrl });

    // Signing turned on: the key pair is the one made at creation; a PATCH leaving the flag out keeps it.
    const signing = await json(
      await t.app.request(`${base}/${id}`, withBearer(token, 'PATCH', { settings: { signAuthnRequests: 'true' } })),
    );
    expect(signing.settings).toMatchObject({ signAuthnRequests: true, spCertificate: body.settings.spCertificate });
    const renamed = await json(await t.app.request(`${base}/${id}`, withBearer(token, 'PATCH', { name: 'Contoso' })));
    expect(renamed.settings.signAuthnRequests).toBe(true);
    expect(JSON.stringify(renamed)).not.toContain('PRIVATE KEY');
    expect(await (await t.app.request(`/sso/metadata/${id}`)).text()).toContain('AuthnRequestsSigned="true"');
  });
});
