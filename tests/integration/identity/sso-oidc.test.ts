// Single sign-on with OpenID Connect against a thin issuer on loopback that signs real ID
// tokens, good and bad: what is accepted, what is refused (with the reason shown and audited),
// which organization's users an identity provider may sign in, "Require SSO" with its
// break-glass administrator, and sessions ending once the provider no longer vouches.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditEvent } from '../../../core/audit/entities.ts';
import { type IOrganization, type IUser, Organization, Session, User } from '../../../core/identity/entities.ts';
import { addDomain } from '../../../core/identity/sso/domains.ts';
import {
  ExternalIdentity,
  type ISsoProvider,
  SsoPendingSignIn,
  SsoProvider,
} from '../../../core/identity/sso/entities.ts';
import { createProvider } from '../../../core/identity/sso/providers.ts';
import { createOrganization } from '../../../core/tenancy/organizations.ts';
import {
  type OidcTestIssuer,
  startOidcTestIssuer,
  type TestAccount,
  type TokenFlaw,
} from '../../fakes/oidc-test-issuer.ts';
import { ADMIN, completeSetupVia, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let idpA: OidcTestIssuer;
let idpB: OidcTestIssuer;
let orgA: IOrganization;
let orgB: IOrganization;
let providerA: ISsoProvider;
let providerB: ISsoProvider;
const em = () => t.kernel.orm.em.fork();

const ANA: TestAccount = { sub: 'idp-a|ana', email: 'ana@contoso.example', name: 'Ana Lima' };
const BEN: TestAccount = { sub: 'idp-b|ben', email: 'ben@fabrikam.example', name: 'Ben Ode' };

async function addUser(org: IOrganization, email: string, extra: Partial<IUser> = {}): Promise<IUser> {
  const fork = em();
  const user = fork.create(User, {
    organization: fork.getReference(Organization, org.id),
    email,
    role: 'custom',
    permissions: [],
    status: 'active',
    ...extra,
  } as never) as IUser;
  await fork.flush();
  return user;
}

/** Starts a sign-in at the appliance, lets the issuer answer, and returns the callback request. */
async function throughIssuer(
  provider: ISsoProvider,
  issuer: OidcTestIssuer,
  account: TestAccount,
  flaw: TokenFlaw | null = null,
): Promise<{ callback: string; binding: string }> {
  issuer.signInAs(account, flaw);
  const start = await t.app.request(`/sso/start/${provider.id}?login_hint=${encodeURIComponent(account.email)}`);
  expect(start.status).toBe(303);
  const binding = (start.headers.get('set-cookie') ?? '').split(';')[0] as string;
  expect(binding).toMatch(/^holdfast_sso=/);
  const atIdp = await fetch(start.headers.get('location') as string, { redirect: 'manual' });
  expect(atIdp.status).toBe(302);
  const back = new URL(atIdp.headers.get('location') as string);
  return { callback: `${back.pathname}${back.search}`, binding };
}

async function complete(flow: { callback: string; binding: string }): Promise<Response> {
  return t.app.request(flow.callback, { headers: { cookie: flow.binding } });
}

/** The session cookie among those the callback sets (it also clears the binding cookie). */
function sessionCookieOf(res: Response): string {
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('holdfast_session='));
  if (!cookie) throw new Error('no session cookie');
  return cookie.split(';')[0] as string;
}

async function lastAudit(): Promise<{ status: string; description: string; activity: string }> {
  const [row] = await em().find(AuditEvent, {}, { orderBy: { id: 'desc' }, limit: 1 });
  return { status: row?.status ?? '', description: row?.description ?? '', activity: row?.activity ?? '' };
}

beforeAll(async () => {
  t = await createTestApp({ HOLDFAST_SSO_ALLOW_LOOPBACK: 'true' });
  await completeSetupVia(t.app);
  idpA = await startOidcTestIssuer({ clientId: 'holdfast-contoso' });
  idpB = await startOidcTestIssuer({ clientId: 'holdfast-fabrikam' });
  const fork = em();
  const root = await fork.findOneOrFail(Organization, { kind: 'root' });
  orgA = await createOrganization(fork, root, { kind: 'customer', name: 'Contoso' });
  orgB = await createOrganization(fork, root, { kind: 'customer', name: 'Fabrikam' });
  const settings = (idp: OidcTestIssuer) => ({
    preset: 'oidc',
    issuer: idp.issuer,
    clientId: idp.clientId,
    clientSecret: idp.clientSecret,
  });
  providerA = await createProvider(
    fork,
    orgA,
    { name: 'Contoso ID', settings: settings(idpA) },
    t.kernel.deps.credentials,
    true,
  );
  providerB = await createProvider(
    fork,
    orgB,
    { name: 'Fabrikam ID', settings: settings(idpB) },
    t.kernel.deps.credentials,
    true,
  );
  await addUser(orgA, ANA.email);
  await addUser(orgB, BEN.email);
});

afterAll(async () => {
  await idpA?.close();
  await idpB?.close();
  await t?.close();
});

describe('OpenID Connect sign-in', () => {
  it('signs an invited user in with PKCE, state and nonce, links the identity and audits it', async () => {
    const flow = await throughIssuer(providerA, idpA, ANA);
    const sent = idpA.authorizations.at(-1) as URLSearchParams;
    expect(sent.get('code_challenge_method')).toBe('S256');
    expect(sent.get('state')).toMatch(/^[\w-]{43}$/);
    expect(sent.get('nonce')).toMatch(/^[\w-]{43}$/);
    expect(sent.get('login_hint')).toBe(ANA.email);
    expect(sent.get('redirect_uri')).toBe(`http://localhost/sso/callback/${providerA.id}`);
    const res = await complete(flow);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const cookie = sessionCookieOf(res);
    const home = await t.app.request('/', { headers: { cookie } });
    expect(home.status).toBe(200);
    const link = await em().findOneOrFail(ExternalIdentity, { subject: ANA.sub }, { populate: ['user'] });
    expect((link.user as IUser).email).toBe(ANA.email);
    const audit = await lastAudit();
    expect(audit).toMatchObject({ activity: 'Sign-in', status: 'completed' });
    expect(audit.description).toMatch(/^Signed in with single sign-on through Contoso ID \(OpenID Connect\)/);
    const session = await em().findOneOrFail(Session, { ssoProviderId: providerA.id });
    expect(session.ssoRefreshSealed).toMatch(/^hf1\./);
  });

  it('refuses a replayed answer (the same state and code a second time)', async () => {
    const flow = await throughIssuer(providerA, idpA, ANA);
    expect((await complete(flow)).status).toBe(303);
    const replay = await complete(flow);
    expect(replay.status).toBe(401);
    expect(await replay.text()).toContain('This sign-in answer was already used');
    expect(await lastAudit()).toMatchObject({ status: 'failed' });
  });

  it('refuses an answer after the pending sign-in expired, and clears abandoned ones', async () => {
    const flow = await throughIssuer(providerA, idpA, ANA);
    const real = t.kernel.deps.now;
    try {
      t.kernel.deps.now = () => new Date(Date.now() + 11 * 60_000);
      // A sign-in started later removes the abandoned one: its answer finds nothing.
      await t.app.request(`/sso/start/${providerA.id}`);
      const res = await complete(flow);
      expect(res.status).toBe(401);
      expect(await res.text()).toContain('This sign-in answer was already used');
      // Every sign-in started before has gone; the one just started waits.
      expect(await em().count(SsoPendingSignIn, { expiresAt: { $lte: t.kernel.deps.now() } })).toBe(0);
      expect(await em().count(SsoPendingSignIn, {})).toBe(1);
    } finally {
      t.kernel.deps.now = real;
    }
  });

  it('refuses an answer brought to another browser (no binding cookie)', async () => {
    const flow = await throughIssuer(providerA, idpA, ANA);
    const res = await t.app.request(flow.callback);
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('started in another browser');
  });

  const refusals: [TokenFlaw, string][] = [
    ['wrong-audience', 'The ID token was issued for another application (wrong audience).'],
    ['expired', 'The ID token has expired.'],
    ['wrong-nonce', 'The ID token does not belong to this sign-in (nonce mismatch).'],
    ['unverified-email', `The identity provider has not verified the e-mail address ${ANA.email}.`],
  ];
  for (const [flaw, message] of refusals) {
    it(`refuses an ID token with ${flaw}, says why and audits it`, async () => {
      const before = await em().count(Session, { ssoProviderId: providerA.id });
      const res = await complete(await throughIssuer(providerA, idpA, ANA, flaw));
      expect(res.status).toBe(401);
      expect(res.headers.get('set-cookie') ?? '').not.toContain('holdfast_session=');
      expect(await res.text()).toContain(`Single sign-on failed. ${message}`);
      const audit = await lastAudit();
      expect(audit).toMatchObject({ activity: 'Sign-in', status: 'failed' });
      expect(audit.description).toBe(`Single sign-on with Contoso ID (OpenID Connect) refused: ${message}`);
      expect(await em().count(Session, { ssoProviderId: providerA.id })).toBe(before);
    });
  }

  it("never signs a user of one organization in through another organization's provider", async () => {
    // Ben is a user of Fabrikam; Contoso's provider vouches for his (verified) address.
    const res = await complete(await throughIssuer(providerA, idpA, { ...BEN, sub: 'idp-a|ben' }));
    expect(res.status).toBe(401);
    expect(await res.text()).toContain(`There is no account for ${BEN.email} in Contoso.`);
    // And the other way round, through Fabrikam's provider, for Ana of Contoso.
    const back = await complete(await throughIssuer(providerB, idpB, { ...ANA, sub: 'idp-b|ana' }));
    expect(back.status).toBe(401);
    expect(await em().count(ExternalIdentity, { provider: providerB.id })).toBe(0);
    // Ben through his own organization's provider is in.
    expect((await complete(await throughIssuer(providerB, idpB, BEN))).status).toBe(303);
  });

  it('refuses an issuer over plain http unless the operator allows loopback', async () => {
    const strict = await createTestApp();
    try {
      await completeSetupVia(strict.app);
      const fork = strict.kernel.orm.em.fork();
      const root = await fork.findOneOrFail(Organization, { kind: 'root' });
      await expect(
        createProvider(
          fork,
          root,
          { name: 'Local', settings: { preset: 'oidc', issuer: idpA.issuer, clientId: 'x' } },
          strict.kernel.deps.credentials,
          false,
        ),
      ).rejects.toMatchObject({ fields: { issuer: expect.stringContaining('must use https://') } });
    } finally {
      await strict.close();
    }
  });
});

describe('who may sign in how', () => {
  it('creates users just in time only for a verified domain of the organization, with group rules', async () => {
    const fork = em();
    const provider = await fork.findOneOrFail(SsoProvider, { id: providerA.id });
    provider.jitEnabled = true;
    provider.groupRules = [{ group: 'holdfast-admins', role: 'administrator', permissions: [] }];
    await fork.flush();
    const carla: TestAccount = { sub: 'idp-a|carla', email: 'carla@contoso.example', groups: ['holdfast-admins'] };
    // The domain is not verified yet: invite-only still.
    const refused = await complete(await throughIssuer(providerA, idpA, carla));
    expect(refused.status).toBe(401);
    const domain = await addDomain(fork, orgA, 'contoso.example', new Date());
    domain.verifiedAt = new Date();
    domain.verifiedBy = 'dns';
    await fork.flush();
    expect((await complete(await throughIssuer(providerA, idpA, carla))).status).toBe(303);
    const created = await em().findOneOrFail(User, { email: carla.email }, { populate: ['organization'] });
    expect((created.organization as IOrganization).id).toBe(orgA.id);
    expect(created.role).toBe('administrator');
    expect((await lastAudit()).description).toContain('account created just in time');
    provider.jitEnabled = false;
    provider.groupRules = [];
    await fork.flush();
  });

  it('"Require SSO" refuses password sign-in to the organization, except its break-glass administrator', async () => {
    const password = 'Another-Horse-42-battery';
    const { hashPassword } = await import('../../../core/identity/password.ts');
    const hash = await hashPassword(password);
    const dora = await addUser(orgA, 'dora@contoso.example', { passwordHash: hash, role: 'administrator' } as never);
    const eli = await addUser(orgA, 'eli@contoso.example', { passwordHash: hash } as never);
    expect((await signIn(t.app, eli.email, password)).startsWith('holdfast_session=')).toBe(true);
    const fork = em();
    const org = await fork.findOneOrFail(Organization, { id: orgA.id });
    org.signInPolicy = 'sso';
    org.ssoBreakGlassUserId = dora.id;
    await fork.flush();
    const refused = await t.app.request('/login', form({ email: eli.email, password, next: '/' }));
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('Contoso requires single sign-on');
    const audit = await lastAudit();
    expect(audit).toMatchObject({ activity: 'Sign-in', status: 'failed' });
    expect(audit.description).toMatch(/^Password sign-in refused: Contoso requires single sign-on/);
    expect((await signIn(t.app, dora.email, password)).startsWith('holdfast_session=')).toBe(true);
    // The e-mail step sends Contoso's people straight to their provider (its domain is verified).
    const step = await t.app.request('/login', form({ step: 'email', email: eli.email, next: '/' }));
    // (by the page itself: a form post may not redirect to another site under the CSP's form-action).
    expect(step.status).toBe(200);
    const html = await step.text();
    expect(html).toContain(
      `<meta http-equiv="refresh" content="0;url=/sso/start/${providerA.id}?login_hint=${encodeURIComponent(eli.email)}">`,
    );
    expect(html).not.toContain('id="password"');
    // Other organizations' users keep their password step.
    const other = await t.app.request('/login', form({ step: 'email', email: ADMIN.email, next: '/' }));
    expect(other.status).toBe(200);
    expect(await other.text()).toContain('id="password"');
    org.signInPolicy = 'either';
    await fork.flush();
  });
});

describe('losing access', () => {
  it('ends an SSO session at its revalidation time once the provider refuses the user', async () => {
    const frank: TestAccount = { sub: 'idp-a|frank', email: 'frank@contoso.example' };
    await addUser(orgA, frank.email);
    const res = await complete(await throughIssuer(providerA, idpA, frank));
    const cookie = sessionCookieOf(res);
    const real = t.kernel.deps.now;
    const idle = t.kernel.deps.config.sessionIdleMinutes * 60_000;
    try {
      // Still vouched for at the revalidation time: the session goes on, revalidated.
      let at = Date.now() + idle - 60_000;
      t.kernel.deps.now = () => new Date(at);
      const touch = async () => t.app.request('/', { headers: { cookie } });
      expect((await touch()).status).toBe(200);
      at += idle - 120_000;
      t.kernel.deps.now = () => new Date(at);
      expect((await touch()).status).toBe(200);
      // Removed at the provider: the next revalidation, one idle period after the last, ends it.
      idpA.remove(frank.sub);
      at += idle - 60_000;
      expect((await touch()).status).toBe(200);
      at += 60_000;
      expect((await touch()).status).toBe(303);
      expect(await em().count(Session, { user: { email: frank.email } })).toBe(0);
      const audit = await lastAudit();
      expect(audit).toMatchObject({ activity: 'Sign-out', status: 'failed' });
      expect(audit.description).toBe(
        'Single sign-on session ended: The identity provider no longer accepts this sign-in (the grant is invalid or was revoked)',
      );
    } finally {
      t.kernel.deps.now = real;
    }
  });
});
