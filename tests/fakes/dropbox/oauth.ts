// OAuth 2 of the stand-in: /oauth2/authorize approves at once (as if the team admin clicked
// Allow) and redirects with a code; /oauth2/token trades a code (checking redirect_uri and the
// PKCE code_verifier against the code_challenge) or a refresh token for an access token.
// Errors follow RFC 6749 as Dropbox answers them: 400 {"error", "error_description"}.
import { createHash, randomBytes } from 'node:crypto';
import { ApiError, type Member } from './model.ts';

export interface AccessToken {
  token: string;
  admin: Member;
  refreshToken?: string;
  expiresAt: number;
  revoked: boolean;
  scope: string;
}

export interface RefreshToken {
  token: string;
  clientId: string;
  admin: Member;
  scope: string;
  revoked: boolean;
}

interface PendingCode {
  clientId: string;
  redirectUri: string | undefined;
  challenge: string | undefined;
  method: string;
  scope: string;
  offline: boolean;
  admin: Member;
  used: boolean;
}

const oauthError = (error: string, description: string, status = 400) =>
  new ApiError(status, { error, error_description: description });

function token(prefix: string): string {
  return `${prefix}.${randomBytes(24).toString('base64url')}`;
}

export class OAuthServer {
  readonly apps = new Map<string, string>();
  readonly accessTokens = new Map<string, AccessToken>();
  readonly refreshTokens = new Map<string, RefreshToken>();
  readonly #codes = new Map<string, PendingCode>();
  accessTokenTtlSeconds = 4 * 3600;
  /** Who approves /oauth2/authorize (a team admin). */
  approver: () => Member;
  readonly #teamId: () => string;

  constructor(approver: () => Member, teamId: () => string) {
    this.approver = approver;
    this.#teamId = teamId;
  }

  /** GET /oauth2/authorize: the redirect Dropbox sends after the admin allowed access. */
  authorize(query: URLSearchParams): string {
    const clientId = query.get('client_id') ?? '';
    if (!this.apps.has(clientId)) throw new ApiError(400, 'Invalid client_id: the app does not exist.');
    if (query.get('response_type') !== 'code') throw new ApiError(400, 'Only response_type=code is supported here.');
    const redirectUri = query.get('redirect_uri') ?? undefined;
    if (!redirectUri) throw new ApiError(400, 'Missing redirect_uri.');
    const challenge = query.get('code_challenge') ?? undefined;
    const method = query.get('code_challenge_method') ?? 'plain';
    if (challenge && method !== 'S256' && method !== 'plain') throw new ApiError(400, 'Invalid code_challenge_method.');
    const code = token('code');
    this.#codes.set(code, {
      clientId,
      redirectUri,
      challenge,
      method,
      scope: query.get('scope') ?? '',
      offline: query.get('token_access_type') === 'offline',
      admin: this.approver(),
      used: false,
    });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    const state = query.get('state');
    if (state !== null) target.searchParams.set('state', state);
    return target.toString();
  }

  /** POST /oauth2/token. */
  token(params: URLSearchParams, authorization: string | undefined): Record<string, unknown> {
    let clientId = params.get('client_id') ?? undefined;
    let secret = params.get('client_secret') ?? undefined;
    if (authorization?.startsWith('Basic ')) {
      const [id, pass] = Buffer.from(authorization.slice(6), 'base64').toString().split(':');
      clientId = id;
      secret = pass;
    }
    if (!clientId || !this.apps.has(clientId)) throw oauthError('invalid_client', 'Invalid client_id or client_secret');
    if (secret !== undefined && this.apps.get(clientId) !== secret) {
      throw oauthError('invalid_client', 'Invalid client_id or client_secret');
    }
    const grant = params.get('grant_type');
    if (grant === 'authorization_code') return this.#fromCode(params, clientId, secret !== undefined);
    if (grant === 'refresh_token') return this.#fromRefresh(params, clientId);
    throw oauthError('unsupported_grant_type', `grant_type "${grant}" is not supported`);
  }

  #fromCode(params: URLSearchParams, clientId: string, confidential: boolean): Record<string, unknown> {
    const code = this.#codes.get(params.get('code') ?? '');
    if (!code || code.used || code.clientId !== clientId) {
      throw oauthError('invalid_grant', "code doesn't exist or has expired");
    }
    if (code.redirectUri !== (params.get('redirect_uri') ?? undefined)) {
      throw oauthError('invalid_grant', 'redirect_uri mismatch');
    }
    const verifier = params.get('code_verifier');
    if (code.challenge) {
      if (!verifier) throw oauthError('invalid_grant', 'invalid code verifier');
      const expected = code.method === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier;
      if (expected !== code.challenge) throw oauthError('invalid_grant', 'invalid code verifier');
    } else if (!confidential) {
      throw oauthError('invalid_client', 'No client_secret and no PKCE code_verifier');
    }
    code.used = true;
    const refresh = code.offline
      ? { token: token('refresh'), clientId, admin: code.admin, scope: code.scope, revoked: false }
      : undefined;
    if (refresh) this.refreshTokens.set(refresh.token, refresh);
    const access = this.#issue(code.admin, code.scope, refresh?.token);
    return {
      access_token: access.token,
      token_type: 'bearer',
      expires_in: this.accessTokenTtlSeconds,
      ...(refresh ? { refresh_token: refresh.token } : {}),
      scope: code.scope,
      team_id: this.#teamId(),
    };
  }

  #fromRefresh(params: URLSearchParams, clientId: string): Record<string, unknown> {
    const refresh = this.refreshTokens.get(params.get('refresh_token') ?? '');
    if (!refresh || refresh.revoked || refresh.clientId !== clientId) {
      throw oauthError('invalid_grant', 'refresh token is invalid or revoked');
    }
    const access = this.#issue(refresh.admin, refresh.scope, refresh.token);
    return { access_token: access.token, token_type: 'bearer', expires_in: this.accessTokenTtlSeconds };
  }

  #issue(admin: Member, scope: string, refreshToken: string | undefined): AccessToken {
    const access: AccessToken = {
      token: token('sl'),
      admin,
      ...(refreshToken ? { refreshToken } : {}),
      expiresAt: Date.now() + this.accessTokenTtlSeconds * 1000,
      revoked: false,
      scope,
    };
    this.accessTokens.set(access.token, access);
    return access;
  }

  /** Access token with a refresh token but no browser (tests that only need a working connection). */
  grant(clientId: string, scope = ''): { refreshToken: string; accessToken: string } {
    const refresh = { token: token('refresh'), clientId, admin: this.approver(), scope, revoked: false };
    this.refreshTokens.set(refresh.token, refresh);
    return { refreshToken: refresh.token, accessToken: this.#issue(refresh.admin, scope, refresh.token).token };
  }

  /** /2/auth/token/revoke: the access token, its refresh token and that token's other access tokens. */
  revoke(access: AccessToken): void {
    access.revoked = true;
    if (!access.refreshToken) return;
    this.revokeRefreshToken(access.refreshToken);
  }

  revokeRefreshToken(refreshToken: string): void {
    const refresh = this.refreshTokens.get(refreshToken);
    if (refresh) refresh.revoked = true;
    for (const a of this.accessTokens.values()) if (a.refreshToken === refreshToken) a.revoked = true;
  }

  /** An app unlinked at Dropbox: every token stops working. */
  revokeAll(): void {
    for (const r of this.refreshTokens.values()) r.revoked = true;
    for (const a of this.accessTokens.values()) a.revoked = true;
  }

  expireAccessTokens(): void {
    for (const a of this.accessTokens.values()) a.expiresAt = Date.now() - 1000;
  }
}
