// Bearer tokens on the REST API: `Authorization: Bearer <access token>` on /api/v1/* makes the
// request act as the token's API key, on the key's organization, whatever cookie comes along.
// A token that is unknown or expired is refused outright (401 with WWW-Authenticate, RFC 6750)
// instead of falling back to a session. A key whose creator no longer holds its scope is
// refused with 403 api_key_suspended (api-key-scope.ts). Browser pages never read this header.
import type { Context, MiddlewareHandler } from 'hono';
import { keyStanding, suspendedMessage } from '../access/api-key-scope.ts';
import { apiKeyForAccessToken } from '../access/api-keys.ts';
import type { AppDeps, AppEnv } from './env.ts';

export const API_REALM = 'Holdfast API';
const TOKEN_ENDPOINT = '/api/v1/oauth/token';

function isApiPath(c: Context): boolean {
  const path = new URL(c.req.url).pathname;
  return path === '/api/v1' || path.startsWith('/api/v1/');
}

/** The token of an `Authorization: Bearer` header, '' when the header is malformed, undefined when absent. */
export function bearerToken(c: Context): string | undefined {
  const header = c.req.header('authorization');
  if (!header) return undefined;
  const match = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)\s*$/i.exec(header);
  if (match) return match[1] as string;
  return /^Bearer\b/i.test(header) ? '' : undefined;
}

/**
 * Requests the CSRF check has nothing to protect: API calls carrying a bearer token (a
 * browser never attaches one on its own, unlike a cookie), and the token endpoint, which
 * authenticates by client credentials in the request itself.
 */
export function carriesApiCredential(c: Context): boolean {
  if (!isApiPath(c)) return false;
  return new URL(c.req.url).pathname === TOKEN_ENDPOINT || bearerToken(c) !== undefined;
}

export function invalidTokenResponse(c: Context, message: string): Response {
  c.header(
    'WWW-Authenticate',
    `Bearer realm="${API_REALM}", error="invalid_token", error_description="${message.replace(/"/g, "'")}"`,
  );
  return c.json({ error: { code: 'invalid_token', message } }, 401);
}

export function bearerAuth(deps: AppDeps): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!isApiPath(c)) return next();
    const token = bearerToken(c);
    if (token === undefined) return next();
    // The token decides who is calling: drop whatever the cookie said.
    c.set('session', undefined);
    c.set('sessionToken', undefined);
    c.set('user', undefined);
    c.set('principal', undefined);
    c.set('organization', undefined);
    const found = token ? await apiKeyForAccessToken(c.get('em'), token, deps.now()) : null;
    if (!found) return invalidTokenResponse(c, 'The access token is invalid or has expired.');
    const standing = await keyStanding(c.get('em'), found.key);
    if (standing.kind === 'suspended') {
      return c.json({ error: { code: 'api_key_suspended', message: suspendedMessage(standing.reason) } }, 403);
    }
    c.set('principal', standing.principal);
    c.set('organization', found.organization);
    await next();
  };
}
