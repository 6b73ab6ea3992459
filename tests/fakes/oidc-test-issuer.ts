// A thin OpenID provider on loopback that signs real ID tokens — including the bad ones a relying
// party must refuse (another audience, expired, another nonce, an unverified e-mail), produced
// on request so each test sends the token it names. Discovery, JWKS, the authorization endpoint
// (which answers at once for the account the test chose), the token endpoint (code with PKCE
// S256 and client_secret_post; refresh_token, refused once the account is removed).
import { createHash, createSign, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type TokenFlaw = 'wrong-audience' | 'expired' | 'wrong-nonce' | 'unverified-email';

export interface TestAccount {
  sub: string;
  email: string;
  name?: string;
  groups?: string[];
}

interface IssuedCode {
  clientId: string;
  redirectUri: string;
  nonce: string;
  challenge: string;
  account: TestAccount;
  flaw: TokenFlaw | null;
}

export interface OidcTestIssuer {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The account the next authorization request signs in, and the flaw its ID token carries. */
  signInAs(account: TestAccount, flaw?: TokenFlaw | null): void;
  /** Removes the account: its refresh tokens are refused from now on. */
  remove(sub: string): void;
  /** Authorization requests received, as their query parameters. */
  authorizations: URLSearchParams[];
  close(): Promise<void>;
}

const b64 = (value: Buffer | string) => Buffer.from(value).toString('base64url');

async function bodyOf(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

export async function startOidcTestIssuer(
  options: { clientId?: string; clientSecret?: string } = {},
): Promise<OidcTestIssuer> {
  const clientId = options.clientId ?? 'holdfast-test';
  const clientSecret = options.clientSecret ?? randomBytes(16).toString('hex');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = randomBytes(6).toString('hex');
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, use: 'sig', alg: 'RS256' };
  const codes = new Map<string, IssuedCode>();
  const refreshTokens = new Map<string, string>();
  const removed = new Set<string>();
  const authorizations: URLSearchParams[] = [];
  let next: { account: TestAccount; flaw: TokenFlaw | null } | null = null;
  let issuer = '';

  const sign = (claims: Record<string, unknown>) => {
    const head = b64(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const body = b64(JSON.stringify(claims));
    const signature = createSign('RSA-SHA256').update(`${head}.${body}`).sign(privateKey);
    return `${head}.${body}.${b64(signature)}`;
  };

  const idToken = (code: IssuedCode) => {
    const now = Math.floor(Date.now() / 1000);
    const expired = code.flaw === 'expired';
    return sign({
      iss: issuer,
      sub: code.account.sub,
      aud: code.flaw === 'wrong-audience' ? 'another-application' : code.clientId,
      iat: expired ? now - 7200 : now,
      exp: expired ? now - 3600 : now + 300,
      nonce: code.flaw === 'wrong-nonce' ? 'a-nonce-of-another-sign-in' : code.nonce,
      email: code.account.email,
      email_verified: code.flaw !== 'unverified-email',
      ...(code.account.name ? { name: code.account.name } : {}),
      ...(code.account.groups ? { groups: code.account.groups } : {}),
    });
  };

  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(JSON.stringify(value));
    };
    if (url.pathname === '/.well-known/openid-configuration') {
      return json(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        jwks_uri: `${issuer}/jwks`,
        response_types_supported: ['code'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: ['RS256'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['client_secret_post'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
      });
    }
    if (url.pathname === '/jwks') return json(200, { keys: [jwk] });
    if (url.pathname === '/authorize') {
      authorizations.push(url.searchParams);
      const q = url.searchParams;
      const redirectUri = q.get('redirect_uri') ?? '';
      if (q.get('client_id') !== clientId || !next || q.get('code_challenge_method') !== 'S256') {
        return json(400, { error: 'invalid_request' });
      }
      const code = randomBytes(16).toString('hex');
      codes.set(code, {
        clientId,
        redirectUri,
        nonce: q.get('nonce') ?? '',
        challenge: q.get('code_challenge') ?? '',
        account: next.account,
        flaw: next.flaw,
      });
      const target = new URL(redirectUri);
      target.searchParams.set('code', code);
      target.searchParams.set('state', q.get('state') ?? '');
      res.writeHead(302, { location: target.href });
      return res.end();
    }
    if (url.pathname === '/token' && req.method === 'POST') {
      const form = await bodyOf(req);
      if (form.get('client_id') !== clientId || form.get('client_secret') !== clientSecret) {
        return json(401, { error: 'invalid_client' });
      }
      if (form.get('grant_type') === 'refresh_token') {
        const sub = refreshTokens.get(form.get('refresh_token') ?? '');
        if (!sub || removed.has(sub))
          return json(400, { error: 'invalid_grant', error_description: 'account removed' });
        return json(200, { access_token: randomBytes(16).toString('hex'), token_type: 'Bearer', expires_in: 300 });
      }
      const code = codes.get(form.get('code') ?? '');
      codes.delete(form.get('code') ?? '');
      const verifier = form.get('code_verifier') ?? '';
      if (!code || code.redirectUri !== form.get('redirect_uri')) return json(400, { error: 'invalid_grant' });
      if (b64(createHash('sha256').update(verifier).digest()) !== code.challenge) {
        return json(400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
      }
      const refresh = randomBytes(16).toString('hex');
      refreshTokens.set(refresh, code.account.sub);
      return json(200, {
        access_token: randomBytes(16).toString('hex'),
        token_type: 'Bearer',
        expires_in: 300,
        refresh_token: refresh,
        id_token: idToken(code),
      });
    }
    json(404, { error: 'not_found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    clientId,
    clientSecret,
    authorizations,
    signInAs(account, flaw = null) {
      next = { account, flaw };
    },
    remove(sub) {
      removed.add(sub);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
