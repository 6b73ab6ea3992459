// OpenID Connect with openid-client: issuer discovery, the authorization code flow with PKCE
// (S256), state and nonce; the ID token's signature, issuer, audience, expiry and nonce are
// checked by openid-client, the preset's own claims here (Google's `hd`). Refusals name what
// was wrong in words a person can act on.
import * as oidc from 'openid-client';
import type {
  SsoCallback,
  SsoCompletion,
  SsoContext,
  SsoPendingView,
  SsoProtocol,
  SsoProviderView,
  SsoRevalidation,
  SsoStart,
} from '../protocol.ts';
import { issuerProblem, type OidcSettings, parseOidcSettings } from './oidc-settings.ts';
import { refusalOf } from './refusals.ts';

/** Discovered configurations, per provider and settings, for a few minutes. */
const DISCOVERY_TTL_MS = 5 * 60_000;
const discovered = new Map<string, { at: number; config: Promise<oidc.Configuration> }>();

function settingsOf(provider: SsoProviderView): OidcSettings {
  return provider.settings as unknown as OidcSettings;
}

async function configurationFor(
  provider: SsoProviderView,
  context: Pick<SsoContext, 'allowLoopback'>,
): Promise<oidc.Configuration> {
  const settings = settingsOf(provider);
  const problem = issuerProblem(settings.issuer, context.allowLoopback);
  if (problem) throw new Error(problem);
  const key = `${provider.id}|${JSON.stringify(settings)}|${provider.secrets.clientSecret ?? ''}`;
  const cached = discovered.get(key);
  if (cached && Date.now() - cached.at < DISCOVERY_TTL_MS) return cached.config;
  const insecure = new URL(settings.issuer).protocol === 'http:';
  const config = oidc.discovery(
    new URL(settings.issuer),
    settings.clientId,
    undefined,
    provider.secrets.clientSecret ? oidc.ClientSecretPost(provider.secrets.clientSecret) : oidc.None(),
    { timeout: 10, ...(insecure ? { execute: [oidc.allowInsecureRequests] } : {}) },
  );
  discovered.set(key, { at: Date.now(), config });
  config.catch(() => discovered.delete(key));
  return config;
}

function pick(from: Record<string, unknown>, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => from[k] !== undefined).map((k) => [k, from[k]]));
}

function groupsOf(claims: Record<string, unknown>, claim: string): string[] {
  const value = claims[claim];
  if (Array.isArray(value)) return value.filter((g): g is string => typeof g === 'string').slice(0, 500);
  return typeof value === 'string' ? [value] : [];
}

export const oidcProtocol: SsoProtocol = {
  name: 'oidc',

  async parseSettings(input, previousSecrets, context) {
    const { preset, settings } = parseOidcSettings(input, context.allowLoopback);
    const typed = (input.clientSecret ?? '').trim();
    const clientSecret = typed || previousSecrets?.clientSecret || '';
    return {
      preset,
      settings: settings as unknown as Record<string, unknown>,
      secrets: (clientSecret ? { clientSecret } : {}) as Record<string, string>,
    };
  },

  describeSettings(provider) {
    const s = settingsOf(provider);
    return {
      issuer: s.issuer,
      clientId: s.clientId,
      scopes: s.scopes.join(' '),
      ...(s.tenantId ? { tenantId: s.tenantId } : {}),
      ...(s.hostedDomain ? { hostedDomain: s.hostedDomain } : {}),
      groupsClaim: s.groupsClaim,
      clientSecretSet: Boolean(provider.secrets.clientSecret),
    };
  },

  async startSignIn(provider: SsoProviderView, pending: SsoPendingView, context: SsoContext): Promise<SsoStart> {
    const config = await configurationFor(provider, context);
    const settings = settingsOf(provider);
    const parameters: Record<string, string> = {
      redirect_uri: context.callbackUrl,
      scope: settings.scopes.join(' '),
      response_type: 'code',
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
      code_challenge_method: 'S256',
    };
    if (pending.loginHint) parameters.login_hint = pending.loginHint;
    if (settings.hostedDomain) parameters.hd = settings.hostedDomain;
    // Google gives a refresh token only for offline access.
    if (provider.preset === 'google') parameters.access_type = 'offline';
    return { kind: 'redirect', url: oidc.buildAuthorizationUrl(config, parameters).href };
  },

  async completeSignIn(
    provider: SsoProviderView,
    callback: SsoCallback,
    pending: SsoPendingView,
    context: SsoContext,
  ): Promise<SsoCompletion> {
    const settings = settingsOf(provider);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      const config = await configurationFor(provider, context);
      const url = new URL(callback.url.href);
      // The callback URL the provider redirected to must be the redirect_uri sent (same origin and path).
      const expected = new URL(context.callbackUrl);
      url.protocol = expected.protocol;
      url.host = expected.host;
      tokens = await oidc.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: pending.state,
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (error) {
      return { kind: 'refused', reason: refusalOf(error) };
    }
    const idClaims = tokens.claims();
    if (!idClaims) return { kind: 'refused', reason: 'The identity provider sent no ID token.' };
    let claims: Record<string, unknown> & { sub: string } = idClaims;
    // Many providers (oidc-provider, Okta's org server) put e-mail and groups only in UserInfo.
    if (claims.email === undefined && tokens.access_token) {
      try {
        const config = await configurationFor(provider, context);
        if (config.serverMetadata().userinfo_endpoint) {
          const info = await oidc.fetchUserInfo(config, tokens.access_token, idClaims.sub);
          claims = { ...info, ...idClaims, ...pick(info, ['email', 'email_verified', 'name', settings.groupsClaim]) };
        }
      } catch (error) {
        return { kind: 'refused', reason: refusalOf(error) };
      }
    }
    if (settings.hostedDomain && claims.hd !== settings.hostedDomain) {
      return {
        kind: 'refused',
        reason: `The Google account is not in the ${settings.hostedDomain} Workspace domain.`,
      };
    }
    const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : null;
    // Entra ID sends no email_verified; its xms_edov says the address's domain is the tenant's own.
    const emailVerified = claims.email_verified === true || (provider.preset === 'entra' && claims.xms_edov === true);
    const name = typeof claims.name === 'string' ? claims.name.slice(0, 200) : null;
    return {
      kind: 'ok',
      identity: {
        subject: idClaims.sub,
        email,
        emailVerified,
        displayName: name,
        groups: groupsOf(claims, settings.groupsClaim),
        refreshToken: tokens.refresh_token,
      },
    };
  },

  async revalidate(
    provider: SsoProviderView,
    refreshToken: string | null,
    context: SsoContext,
  ): Promise<SsoRevalidation> {
    if (!refreshToken) return { kind: 'unsupported' };
    try {
      const config = await configurationFor(provider, context);
      const tokens = await oidc.refreshTokenGrant(config, refreshToken);
      return { kind: 'valid', refreshToken: tokens.refresh_token ?? refreshToken };
    } catch (error) {
      return { kind: 'refused', reason: refusalOf(error) };
    }
  },
};
