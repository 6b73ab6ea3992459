// The OAuth 2.0 token endpoint (RFC 6749): the client_credentials grant (§4.4) and the
// refresh_token grant (§6) for API keys. Clients authenticate with HTTP Basic or with
// client_id/client_secret in the body; bodies may be form-encoded (as the RFC says) or JSON
// (what most HTTP libraries send by default). Errors follow §5.2. The route is implemented by
// hand, not through a zod validator, because its error format is the RFC's, not the API's.
import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { keyStanding, suspendedMessage } from '../access/api-key-scope.ts';
import { authenticateClient, grantClientCredentials, grantRefreshToken, type TokenPair } from '../access/api-keys.ts';
import { recordAudit } from '../audit/audit-service.ts';
import { API_REALM } from '../http/bearer.ts';
import { clientIp } from '../http/client.ts';
import type { AppDeps, AppEnv } from '../http/env.ts';
import { createApiRouter } from './router.ts';

type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'access_denied'
  | 'temporarily_unavailable';

class OAuthError extends Error {
  readonly code: OAuthErrorCode;
  readonly description: string;
  readonly status: 400 | 401 | 403 | 429;
  constructor(code: OAuthErrorCode, description: string, status: 400 | 401 | 403 | 429) {
    super(description);
    this.code = code;
    this.description = description;
    this.status = status;
  }
}

const TokenRequestSchema = z
  .object({
    grant_type: z.enum(['client_credentials', 'refresh_token']),
    client_id: z.string().optional().openapi({ description: 'Unless sent with HTTP Basic authentication.' }),
    client_secret: z.string().optional().openapi({ description: 'Unless sent with HTTP Basic authentication.' }),
    refresh_token: z.string().optional().openapi({ description: 'For grant_type=refresh_token.' }),
  })
  .openapi('TokenRequest');

const TokenResponseSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal('Bearer'),
    expires_in: z.number().int().openapi({ example: 900, description: 'Seconds the access token stays valid.' }),
    refresh_token: z.string().openapi({ description: 'Single use, valid 30 days; refreshing returns a new one.' }),
  })
  .openapi('TokenResponse');

const OAuthErrorSchema = z
  .object({
    error: z.enum([
      'invalid_request',
      'invalid_client',
      'invalid_grant',
      'unsupported_grant_type',
      'access_denied',
      'temporarily_unavailable',
    ]),
    error_description: z.string(),
  })
  .openapi('OAuthError');

const oauthError = (description: string) => ({
  description,
  content: { 'application/json': { schema: OAuthErrorSchema } },
});

/** The body's parameters; a parameter sent twice is refused (RFC 6749 §3.2). */
async function readParameters(c: Context): Promise<Record<string, string>> {
  const type = (c.req.header('content-type') ?? '').toLowerCase();
  if (type.startsWith('application/x-www-form-urlencoded')) {
    const params = new URLSearchParams(await c.req.text());
    const out: Record<string, string> = {};
    for (const [name, value] of params) {
      if (name in out) throw new OAuthError('invalid_request', `The parameter ${name} was sent more than once.`, 400);
      out[name] = value;
    }
    return out;
  }
  if (type.startsWith('application/json')) {
    let body: unknown;
    try {
      body = await c.req.json();
    } catch {
      throw new OAuthError('invalid_request', 'The JSON body could not be read.', 400);
    }
    if (!body || typeof body !== 'object' || Array.isArray(body)) {
      throw new OAuthError('invalid_request', 'The JSON body must be an object.', 400);
    }
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(body)) {
      if (typeof value !== 'string')
        throw new OAuthError('invalid_request', `The parameter ${name} must be a string.`, 400);
      out[name] = value;
    }
    return out;
  }
  throw new OAuthError(
    'invalid_request',
    'Send the request as application/x-www-form-urlencoded or application/json.',
    400,
  );
}

/** Client id and secret from HTTP Basic (form-encoded, RFC 6749 §2.3.1) or from the body, never both. */
function clientCredentials(c: Context, params: Record<string, string>): { clientId: string; secret: string } {
  const header = c.req.header('authorization');
  if (header) {
    const match = /^Basic[ ]+([A-Za-z0-9+/]+=*)\s*$/i.exec(header);
    if (!match) throw new OAuthError('invalid_client', 'Use HTTP Basic authentication for the client.', 401);
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new OAuthError('invalid_client', 'The Basic credentials are malformed.', 401);
    let clientId: string;
    let secret: string;
    try {
      const unform = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
      clientId = unform(decoded.slice(0, colon));
      secret = unform(decoded.slice(colon + 1));
    } catch {
      throw new OAuthError('invalid_client', 'The Basic credentials are malformed.', 401);
    }
    if (params.client_secret !== undefined) {
      throw new OAuthError('invalid_request', 'Authenticate the client one way only: Basic or client_secret.', 400);
    }
    if (params.client_id !== undefined && params.client_id !== clientId) {
      throw new OAuthError('invalid_request', 'client_id does not match the Basic credentials.', 400);
    }
    return { clientId, secret };
  }
  if (!params.client_id || !params.client_secret) {
    throw new OAuthError(
      'invalid_client',
      'Authenticate the client with HTTP Basic or with client_id and client_secret.',
      401,
    );
  }
  return { clientId: params.client_id, secret: params.client_secret };
}

function tokenResponse(c: Context, pair: TokenPair): Response {
  return c.json(
    {
      access_token: pair.accessToken,
      token_type: 'Bearer',
      expires_in: pair.expiresIn,
      refresh_token: pair.refreshToken,
    },
    200,
  );
}

export function oauthRoutes(deps: AppDeps) {
  const api = createApiRouter(deps);

  api.openAPIRegistry.registerComponent('securitySchemes', 'oauth2', {
    type: 'oauth2',
    description: 'Client credentials of an API key (Settings › API) exchanged for 15-minute access tokens.',
    flows: { clientCredentials: { tokenUrl: '/api/v1/oauth/token', refreshUrl: '/api/v1/oauth/token', scopes: {} } },
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An access token from POST /oauth/token.',
  });
  api.openAPIRegistry.registerComponent('securitySchemes', 'session', {
    type: 'apiKey',
    in: 'cookie',
    name: 'holdfast_session',
    description: 'The browser session of a signed-in user.',
  });
  api.openAPIRegistry.registerPath({
    method: 'post',
    path: '/oauth/token',
    tags: ['Authentication'],
    summary: 'Get an access token',
    description:
      "OAuth 2.0 token endpoint. grant_type=client_credentials with the key's client id and secret (HTTP Basic, or client_id and client_secret in the body) returns an access token valid 15 minutes and a refresh token valid 30 days. grant_type=refresh_token (client authenticated the same way) spends the refresh token and returns a new pair; a spent refresh token is refused with invalid_grant and revokes every token descended from the same grant. Bodies may be form-encoded or JSON. Errors follow RFC 6749 §5.2.",
    request: {
      body: {
        content: {
          'application/x-www-form-urlencoded': { schema: TokenRequestSchema },
          'application/json': { schema: TokenRequestSchema },
        },
      },
    },
    responses: {
      200: { description: 'Tokens', content: { 'application/json': { schema: TokenResponseSchema } } },
      400: oauthError('invalid_request, invalid_grant or unsupported_grant_type.'),
      401: oauthError('invalid_client: unknown client or wrong secret.'),
      403: oauthError(
        "access_denied: the address is not trusted by the key's organization, or the key is suspended (its creator is deactivated, deleted or no longer holds the key's scope).",
      ),
      429: oauthError('Too many failed attempts; see Retry-After.'),
    },
  });

  api.post('/oauth/token', async (c) => {
    // Token responses must never be cached (RFC 6749 §5.1), error or not.
    c.header('Cache-Control', 'no-store');
    c.header('Pragma', 'no-cache');
    try {
      return await handleTokenRequest(c, deps);
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      if (err.status === 401) c.header('WWW-Authenticate', `Basic realm="${API_REALM}"`);
      return c.json({ error: err.code, error_description: err.description }, err.status);
    }
  });

  return api;
}

async function handleTokenRequest(c: Context<AppEnv>, deps: AppDeps): Promise<Response> {
  const params = await readParameters(c);
  const grantType = params.grant_type;
  if (!grantType) throw new OAuthError('invalid_request', 'grant_type is required.', 400);
  if (grantType !== 'client_credentials' && grantType !== 'refresh_token') {
    throw new OAuthError('unsupported_grant_type', 'Use client_credentials or refresh_token.', 400);
  }
  const { clientId, secret } = clientCredentials(c, params);
  const em = c.get('em');
  const now = deps.now();
  const ip = clientIp(c, deps.config);
  const userAgent = c.req.header('user-agent');
  const account = `API key ${clientId.slice(0, 64)}`;
  const outcome = await authenticateClient(em, clientId, secret, ip, now);
  if (outcome.kind === 'throttled') {
    c.header('Retry-After', String(outcome.retryAfterSeconds));
    c.get('log').warn({ ip }, 'api client authentication throttled');
    const minutes = Math.max(1, Math.ceil(outcome.retryAfterSeconds / 60));
    throw new OAuthError(
      'temporarily_unavailable',
      `Too many failed attempts. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`,
      429,
    );
  }
  if (outcome.kind === 'invalid') {
    c.get('log').info({ ip }, 'api client authentication failed');
    await recordAudit(em, {
      organization: outcome.organization,
      activity: 'Sign-in',
      status: 'failed',
      account,
      description: `API token request refused (unknown client or wrong secret) from ${ip ?? 'an unknown address'}`,
      actor: { label: account, ip, userAgent },
    });
    throw new OAuthError('invalid_client', 'Unknown client or wrong client secret.', 401);
  }
  if (outcome.kind === 'address_denied') {
    await recordAudit(em, {
      organization: outcome.organization,
      activity: 'Access denied',
      status: 'failed',
      account,
      description: `API token request refused: ${ip ?? 'an unknown address'} is not a trusted IP address`,
      actor: { label: account, id: outcome.key.id, ip, userAgent },
    });
    throw new OAuthError('access_denied', 'Access denied: your IP address is not trusted.', 403);
  }
  const standing = await keyStanding(em, outcome.key);
  if (standing.kind === 'suspended') {
    await recordAudit(em, {
      organization: outcome.organization,
      activity: 'Access denied',
      status: 'failed',
      account,
      description: `API token request refused: the key is suspended (${standing.reason})`,
      actor: { label: account, id: outcome.key.id, ip, userAgent },
    });
    throw new OAuthError('access_denied', suspendedMessage(standing.reason), 403);
  }
  if (grantType === 'refresh_token') {
    if (!params.refresh_token) throw new OAuthError('invalid_request', 'refresh_token is required.', 400);
    const pair = await grantRefreshToken(em, outcome.key, params.refresh_token, now);
    if (!pair) throw new OAuthError('invalid_grant', 'The refresh token is invalid, expired or already used.', 400);
    c.get('log').info({ clientId: outcome.key.id }, 'api token refreshed');
    return tokenResponse(c, pair);
  }
  const pair = await grantClientCredentials(em, outcome.key, now);
  await recordAudit(em, {
    organization: outcome.organization,
    activity: 'Sign-in',
    account,
    description: `API key obtained an access token from ${ip ?? 'an unknown address'}`,
    actor: { label: account, id: outcome.key.id, ip, userAgent },
  });
  c.get('log').info({ clientId: outcome.key.id }, 'api token issued');
  return tokenResponse(c, pair);
}
