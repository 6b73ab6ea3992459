// OAuth 2 of the stand-in, as Salesforce's /services/oauth2/* answer it: authorize approves at
// once (as if the admin clicked Allow) and redirects with a code; token trades a code (checking
// redirect_uri and the PKCE verifier), a refresh token, or a JWT bearer assertion (RS256, checked
// against the connected app's certificate; iss = consumer key, sub = a username of the org,
// aud = the login host, exp in the future) for an access token. Errors as Salesforce sends them:
// 400 {"error", "error_description"} (invalid_grant, invalid_client_id, …).
import { createHash, createPublicKey, createVerify, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import { ApiError, type Org } from './model.ts';

export interface ConnectedApp {
  clientId: string;
  clientSecret: string;
  /** PEM certificate (or public key) for the JWT bearer flow. */
  certificate?: string;
}

export interface Session {
  token: string;
  org: Org;
  userId: string;
  username: string;
  revoked: boolean;
}

interface Grant {
  token: string;
  clientId: string;
  org: Org;
  username: string;
  revoked: boolean;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string | undefined;
  org: Org;
  used: boolean;
}

const oauthError = (error: string, description: string, status = 400) =>
  new ApiError(status, { error, error_description: description });

export class OAuthServer {
  readonly apps = new Map<string, ConnectedApp>();
  readonly sessions = new Map<string, Session>();
  readonly refreshTokens = new Map<string, Grant>();
  readonly #codes = new Map<string, PendingCode>();
  /** Which org the next browser approval belongs to (tests switch it to connect another org). */
  approver: () => Org;
  /** Where tokens say the org's API is (instance_url). */
  readonly #instanceUrl: () => string;

  constructor(approver: () => Org, instanceUrl: () => string) {
    this.approver = approver;
    this.#instanceUrl = instanceUrl;
  }

  registerApp(app: ConnectedApp): void {
    this.apps.set(app.clientId, app);
  }

  authorize(query: URLSearchParams): string {
    const clientId = query.get('client_id') ?? '';
    const redirectUri = query.get('redirect_uri') ?? '';
    if (!this.apps.has(clientId))
      throw new ApiError(400, 'error=invalid_client_id&error_description=client%20identifier%20invalid');
    if (!redirectUri)
      throw new ApiError(
        400,
        'error=redirect_uri_mismatch&error_description=redirect_uri%20must%20match%20configuration',
      );
    if (query.get('response_type') !== 'code') throw new ApiError(400, 'error=unsupported_response_type');
    const method = query.get('code_challenge_method') ?? 'S256';
    if (query.get('code_challenge') && method !== 'S256')
      throw new ApiError(400, 'error=invalid_request&error_description=invalid%20code_challenge_method');
    const code = `aPrx${randomBytes(24).toString('base64url')}`;
    this.#codes.set(code, {
      clientId,
      redirectUri,
      challenge: query.get('code_challenge') ?? undefined,
      org: this.approver(),
      used: false,
    });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = query.get('state');
    if (state) target.searchParams.set('state', state);
    return target.toString();
  }

  #client(params: URLSearchParams, secretRequired: boolean): ConnectedApp {
    const app = this.apps.get(params.get('client_id') ?? '');
    if (!app) throw oauthError('invalid_client_id', 'client identifier invalid');
    const secret = params.get('client_secret');
    if ((secretRequired || secret !== null) && secret !== app.clientSecret) {
      throw oauthError('invalid_client', 'invalid client credentials');
    }
    return app;
  }

  #issue(org: Org, username: string): Session {
    const session: Session = {
      token: `${org.id}!${randomBytes(30).toString('base64url')}`,
      org,
      userId: org.users.get(username) ?? org.adminId,
      username,
      revoked: false,
    };
    this.sessions.set(session.token, session);
    return session;
  }

  #answer(session: Session, extra: Record<string, string> = {}): Record<string, string> {
    return {
      access_token: session.token,
      ...extra,
      signature: randomBytes(32).toString('base64'),
      scope: 'api refresh_token',
      instance_url: this.#instanceUrl(),
      id: `${this.#instanceUrl()}/id/${session.org.id}/${session.userId}`,
      token_type: 'Bearer',
      issued_at: String(Date.now()),
    };
  }

  /** A refresh token as if the admin had connected the app in a browser (tests). */
  grant(clientId: string, org: Org): { refreshToken: string; accessToken: string } {
    const session = this.#issue(org, [...org.users.keys()][0] as string);
    const refresh = `5Aep${randomBytes(40).toString('base64url')}`;
    this.refreshTokens.set(refresh, { token: refresh, clientId, org, username: session.username, revoked: false });
    return { refreshToken: refresh, accessToken: session.token };
  }

  token(params: URLSearchParams, loginHosts: readonly string[]): Record<string, string> {
    const grantType = params.get('grant_type');
    if (grantType === 'authorization_code') {
      const app = this.#client(params, false);
      const pending = this.#codes.get(params.get('code') ?? '');
      if (!pending || pending.used || pending.clientId !== app.clientId) {
        throw oauthError('invalid_grant', 'invalid authorization code');
      }
      pending.used = true;
      if (params.get('redirect_uri') !== pending.redirectUri) {
        throw oauthError('redirect_uri_mismatch', 'redirect_uri must match configuration');
      }
      if (pending.challenge) {
        const verifier = params.get('code_verifier') ?? '';
        if (createHash('sha256').update(verifier).digest('base64url') !== pending.challenge) {
          throw oauthError('invalid_grant', 'invalid code verifier');
        }
      }
      const granted = this.grant(app.clientId, pending.org);
      const session = this.sessions.get(granted.accessToken) as Session;
      return this.#answer(session, { refresh_token: granted.refreshToken });
    }
    if (grantType === 'refresh_token') {
      const app = this.#client(params, false);
      const grant = this.refreshTokens.get(params.get('refresh_token') ?? '');
      if (!grant || grant.revoked || grant.clientId !== app.clientId) {
        throw oauthError('invalid_grant', 'expired access/refresh token');
      }
      return this.#answer(this.#issue(grant.org, grant.username));
    }
    if (grantType === 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
      return this.#answer(this.#jwt(params.get('assertion') ?? '', loginHosts));
    }
    throw oauthError('unsupported_grant_type', 'grant type not supported');
  }

  #jwt(assertion: string, loginHosts: readonly string[]): Session {
    const parts = assertion.split('.');
    if (parts.length !== 3) throw oauthError('invalid_grant', 'invalid assertion');
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: string };
    let claims: { iss?: string; sub?: string; aud?: string; exp?: number };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString());
      claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    } catch {
      throw oauthError('invalid_grant', 'invalid assertion');
    }
    if (header.alg !== 'RS256') throw oauthError('invalid_grant', 'invalid assertion');
    const app = this.apps.get(claims.iss ?? '');
    if (!app) throw oauthError('invalid_client_id', 'client identifier invalid');
    if (!app.certificate) throw oauthError('invalid_grant', 'invalid assertion');
    const key: KeyObject = app.certificate.includes('CERTIFICATE')
      ? new X509Certificate(app.certificate).publicKey
      : createPublicKey(app.certificate);
    if (!createVerify('RSA-SHA256').update(`${h}.${p}`).verify(key, Buffer.from(s, 'base64url'))) {
      throw oauthError('invalid_grant', 'invalid assertion');
    }
    if (!claims.aud || !loginHosts.includes(claims.aud.replace(/\/$/, ''))) {
      throw oauthError('invalid_grant', 'audience is invalid');
    }
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) {
      throw oauthError('invalid_grant', 'expired authorization code');
    }
    const org = [...this.#orgs()].find((o) => o.users.has(claims.sub ?? ''));
    if (!org) throw oauthError('invalid_grant', 'user hasn\u2019t approved this consumer');
    return this.#issue(org, claims.sub as string);
  }

  /** Orgs the JWT flow may log in to (set by the server). */
  orgs: () => Iterable<Org> = () => [];
  #orgs(): Iterable<Org> {
    return this.orgs();
  }

  session(token: string): Session | undefined {
    const s = this.sessions.get(token);
    return s && !s.revoked ? s : undefined;
  }

  revoke(token: string): void {
    const session = this.sessions.get(token);
    if (session) session.revoked = true;
    const grant = this.refreshTokens.get(token);
    if (grant) grant.revoked = true;
  }

  /** Every access token answers INVALID_SESSION_ID (expired sessions); refresh tokens still work. */
  expireSessions(): void {
    for (const s of this.sessions.values()) s.revoked = true;
  }

  /** Access and refresh tokens are all refused (the admin revoked the app). */
  revokeAll(): void {
    this.expireSessions();
    for (const g of this.refreshTokens.values()) g.revoked = true;
  }
}
