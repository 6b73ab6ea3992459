// Single sign-on in the browser: home-realm discovery for the login page, the start of a sign-in
// (a pending sign-in and its browser-binding cookie, then the provider), and the callback (the
// provider's answer checked by core/identity/sso/flow.ts, then a session exactly like a
// password sign-in's: IP restrictions, the session policy, the Security audit).

import type { EntityManager } from '@mikro-orm/core';
import { type Context, Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { recordAudit } from '../audit/audit-service.ts';
import { clientIp, isHttps, requestOrigin } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { safeNext, sessionPolicy } from '../http/middleware.ts';
import { renderPage } from '../http/page.ts';
import { clearSessionCookie, writeSessionCookie } from '../http/session-cookie.ts';
import type { IOrganization } from '../identity/entities.ts';
import { createSession } from '../identity/session-service.ts';
import { providersForEmail } from '../identity/sso/domains.ts';
import { SsoProvider } from '../identity/sso/entities.ts';
import {
  beginSsoSignIn,
  contextFor,
  finishSsoSignIn,
  PENDING_TTL_MS,
  type SsoFlowOptions,
} from '../identity/sso/flow.ts';
import { ssoProtocol } from '../identity/sso/protocols.ts';
import { PRESET_LABELS, providerView } from '../identity/sso/providers.ts';
import { refreshContext } from '../identity/sso/revalidation.ts';
import { MAX_RESPONSE_BYTES } from '../identity/sso/saml/saml-limits.ts';
import { ssoSignInAllowed } from '../identity/sso/sign-in-policy.ts';
import { receiveProviderLogout } from '../identity/sso/single-logout.ts';
import { browserOf } from './browser-of.ts';
import { formFields } from './forms.ts';

/** Holds the random value a pending sign-in is bound to; only the callback path receives it. */
export const SSO_BINDING_COOKIE = 'holdfast_sso';
const CALLBACK_PATH = '/sso/callback/';
/** Marks a SAML answer posted again from this origin (see the callback). */
const RESUBMITTED = 'holdfast_resubmitted';

export function startHref(providerId: string, email: string | null, next: string): string {
  const query = new URLSearchParams();
  if (email) query.set('login_hint', email);
  if (next !== '/') query.set('next', next);
  const text = query.toString();
  return `/sso/start/${providerId}${text ? `?${text}` : ''}`;
}

/**
 * Where the login page sends an e-mail: straight to the provider when its organization requires
 * SSO and has one provider, else the password step with a button per provider (none: password).
 */
export async function loginRealm(
  em: EntityManager,
  email: string,
  next: string,
): Promise<{ redirect?: string; providers: { name: string; href: string }[] }> {
  const realm = await providersForEmail(em, email);
  if (!realm || !ssoSignInAllowed(realm.organization) || realm.providers.length === 0) return { providers: [] };
  const providers = realm.providers.map((p) => ({ name: p.name, href: startHref(p.id, email.toLowerCase(), next) }));
  if (realm.organization.signInPolicy === 'sso' && providers.length === 1) {
    return { redirect: (providers[0] as { href: string }).href, providers };
  }
  return { providers };
}

function flowOptions(c: Context<AppEnv>, deps: AppDeps): SsoFlowOptions {
  return {
    cipher: deps.credentials,
    allowLoopback: deps.config.ssoAllowLoopback,
    baseUrl: requestOrigin(c, deps.config),
    now: deps.now(),
  };
}

function refusedPage(c: Context<AppEnv>, deps: AppDeps, reason: string, status: 400 | 401 | 403 | 404 = 401): Response {
  return renderPage(
    c,
    deps,
    'pages/login.njk',
    {
      title: 'Sign in',
      step: 'email',
      next: '/',
      values: {},
      errors: {},
      focus: 'email',
      failure: `Single sign-on failed. ${reason}`,
    },
    status,
  );
}

export function ssoRoutes(deps: AppDeps): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.get('/sso/start/:providerId', async (c) => {
    const em = c.get('em');
    const provider = await em.findOne(SsoProvider, { id: c.req.param('providerId') }, { populate: ['organization'] });
    if (!provider?.enabled || !ssoSignInAllowed(provider.organization as IOrganization)) {
      return refusedPage(c, deps, 'This identity provider does not exist or is turned off.', 404);
    }
    const hint = c.req.query('login_hint')?.trim().toLowerCase().slice(0, 320) || null;
    const next = safeNext(c.req.query('next'));
    let started: Awaited<ReturnType<typeof beginSsoSignIn>>;
    try {
      started = await beginSsoSignIn(em, provider, flowOptions(c, deps), { loginHint: hint, next });
    } catch (error) {
      c.get('log').warn({ providerId: provider.id, err: (error as Error).message }, 'sso start failed');
      await recordAudit(em, {
        organization: provider.organization as IOrganization,
        activity: 'Sign-in',
        status: 'failed',
        account: hint,
        description: `Single sign-on with ${provider.name} could not start: the identity provider could not be reached or its discovery document is invalid`,
        actor: { label: hint, ip: clientIp(c, deps.config), userAgent: c.req.header('user-agent') },
      });
      return refusedPage(
        c,
        deps,
        `${provider.name} could not be reached. Try again in a moment, or ask your administrator.`,
        400,
      );
    }
    const https = isHttps(c, deps.config);
    setCookie(c, SSO_BINDING_COOKIE, started.binding, {
      httpOnly: true,
      // The provider's answer may be a cross-site POST (SAML): None over https, where it is
      // allowed; plain http is loopback only, where the provider's site is the same site.
      sameSite: https ? 'None' : 'Lax',
      secure: https,
      path: CALLBACK_PATH,
      maxAge: PENDING_TTL_MS / 1000,
    });
    if (started.start.kind === 'redirect') return c.redirect(started.start.url, 303);
    // The SAML HTTP-POST binding: a form the browser submits to the provider by itself.
    c.header(
      'Content-Security-Policy',
      `default-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action ${new URL(started.start.url).origin}`,
    );
    return renderPage(c, deps, 'pages/sso-post.njk', {
      title: 'Signing in',
      url: started.start.url,
      fields: Object.entries(started.start.fields),
    });
  });

  const callback = async (c: Context<AppEnv>): Promise<Response> => {
    const em = c.get('em');
    const ip = clientIp(c, deps.config);
    const userAgent = c.req.header('user-agent');
    // A SAML response is longer than a form field: one past its ceiling is refused as too large.
    const form = c.req.method === 'POST' ? await formFields(c, { SAMLResponse: MAX_RESPONSE_BYTES + 1 }) : {};
    const binding = getCookie(c, SSO_BINDING_COOKIE);
    // A SAML IdP posts its answer from its own site, and a browser sends no SameSite=Lax cookie
    // with a cross-site POST. The answer goes back once more from this origin (a same-site POST,
    // which carries the binding cookie); the binding is checked then, as always. The cookie is
    // left alone here: deleting it now would lose it before the second post.
    if (c.req.method === 'POST' && !binding && form.SAMLResponse && form[RESUBMITTED] !== '1') {
      c.header(
        'Content-Security-Policy',
        "default-src 'self'; object-src 'none'; frame-ancestors 'none'; form-action 'self'",
      );
      return renderPage(c, deps, 'pages/sso-post.njk', {
        title: 'Signing in',
        url: c.req.path,
        message: 'Finishing your sign-in.',
        fields: [
          ['SAMLResponse', form.SAMLResponse],
          ['RelayState', form.RelayState ?? ''],
          [RESUBMITTED, '1'],
        ],
      });
    }
    deleteCookie(c, SSO_BINDING_COOKIE, { path: CALLBACK_PATH });
    const options = flowOptions(c, deps);
    const result = await finishSsoSignIn(
      em,
      c.req.param('providerId') ?? '',
      { url: new URL(c.req.url), method: c.req.method === 'POST' ? 'POST' : 'GET', form },
      binding,
      { ...options, ip },
    );
    const via = (provider: { name: string; preset: string } | null) =>
      provider
        ? `${provider.name} (${PRESET_LABELS[provider.preset] ?? provider.preset})`
        : 'an unknown identity provider';
    if (result.kind === 'refused') {
      c.get('log').info({ reason: result.reason }, 'sso sign-in refused');
      await recordAudit(em, {
        organization: (result.provider?.organization as IOrganization | undefined) ?? null,
        activity: 'Sign-in',
        status: 'failed',
        account: result.user?.email ?? result.email,
        description: `Single sign-on with ${via(result.provider)} refused: ${result.reason}`,
        actor: { label: result.user?.email ?? result.email, id: result.user?.id ?? null, ip, userAgent },
      });
      return refusedPage(c, deps, result.reason);
    }
    if (result.kind === 'address_denied') {
      await recordAudit(em, {
        organization: result.user.organization as IOrganization,
        activity: 'Access denied',
        status: 'failed',
        account: result.user.email,
        description: `Single sign-on with ${via(result.provider)} refused: ${ip ?? 'an unknown address'} is not a trusted IP address`,
        actor: { label: result.user.email, id: result.user.id, ip, userAgent },
      });
      return renderPage(c, deps, 'pages/access-denied.njk', { title: 'Access denied', ip }, 403);
    }
    const { user, provider, identity } = result;
    const now = deps.now();
    const { token, session } = await createSession(em, user, sessionPolicy(deps), { ip, userAgent }, 'active', now);
    session.ssoProviderId = provider.id;
    session.ssoRevalidateAt = new Date(now.getTime() + deps.config.sessionIdleMinutes * 60_000);
    session.ssoRefreshSealed = identity.refreshToken
      ? deps.credentials.encrypt(identity.refreshToken, refreshContext(user.id, provider.id))
      : null;
    await em.flush();
    await writeSessionCookie(c, deps, token, session.expiresAt);
    await recordAudit(em, {
      organization: user.organization as IOrganization,
      activity: 'Sign-in',
      account: user.email,
      description: `Signed in with single sign-on through ${via(provider)} with ${browserOf(userAgent)} from ${ip ?? 'an unknown address'}${result.notes.length ? `; ${result.notes.join('; ')}` : ''}`,
      actor: { label: user.email, id: user.id, ip, userAgent },
    });
    c.get('log').info({ userId: user.id, providerId: provider.id }, 'sso sign-in succeeded');
    return c.redirect(safeNext(result.next), 303);
  };
  // The SP metadata of a SAML provider (its entity ID is this URL): public, as IdPs fetch it.
  app.get('/sso/metadata/:providerId', async (c) => {
    const provider = await c
      .get('em')
      .findOne(SsoProvider, { id: c.req.param('providerId') }, { populate: ['organization'] });
    const module = provider ? ssoProtocol(provider.protocol) : undefined;
    if (!provider || !module?.metadata) return c.text('No such SAML service provider.', 404);
    const xml = await module.metadata(
      providerView(provider, deps.credentials),
      contextFor(provider, flowOptions(c, deps)),
    );
    return c.body(xml, 200, { 'content-type': 'application/samlmetadata+xml; charset=utf-8' });
  });
  app.get('/sso/callback/:providerId', callback);
  app.post('/sso/callback/:providerId', callback);

  // Single logout: the provider's logout request (it ends that person's sessions begun through it,
  // then the browser goes back with the answer), or its answer to ours (we signed out already).
  const logout = async (c: Context<AppEnv>) => {
    const em = c.get('em');
    const form =
      c.req.method === 'POST'
        ? await formFields(c, { SAMLRequest: MAX_RESPONSE_BYTES + 1, SAMLResponse: MAX_RESPONSE_BYTES + 1 })
        : {};
    const result = await receiveProviderLogout(
      em,
      c.req.param('providerId') ?? '',
      {
        method: c.req.method === 'POST' ? 'POST' : 'GET',
        query: c.req.query(),
        rawQuery: new URL(c.req.url).search.slice(1),
        form,
      },
      flowOptions(c, deps),
    );
    const ip = clientIp(c, deps.config);
    const userAgent = c.req.header('user-agent');
    if (result.kind === 'answered') return c.redirect('/login?signedOut=1', 303);
    if (result.kind === 'refused') {
      if (result.provider) {
        await recordAudit(em, {
          organization: result.provider.organization as IOrganization,
          activity: 'Sign-out',
          status: 'failed',
          account: null,
          description: `Single logout from ${result.provider.name} refused: ${result.reason}`,
          actor: { label: result.provider.name, id: null, ip, userAgent },
        });
      }
      c.get('log').info({ reason: result.reason }, 'sso logout refused');
      return c.text(`Single logout refused. ${result.reason}`, result.provider ? 400 : 404);
    }
    if (result.user) {
      await recordAudit(em, {
        organization: result.user.organization as IOrganization,
        activity: 'Sign-out',
        account: result.user.email,
        description: `Signed out by ${result.provider.name} (single logout): ${result.sessions} session${result.sessions === 1 ? '' : 's'} ended`,
        actor: { label: result.provider.name, id: null, ip, userAgent },
      });
    }
    clearSessionCookie(c);
    return c.redirect(result.answerUrl ?? '/login?signedOut=1', result.answerUrl ? 302 : 303);
  };
  app.get('/sso/logout/:providerId', logout);
  app.post('/sso/logout/:providerId', logout);

  return app;
}
