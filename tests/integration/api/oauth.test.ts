// The OAuth 2.0 token endpoint and bearer authentication of /api/v1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKey, ApiToken } from '../../../core/access/entities.ts';
import type { IOrganization } from '../../../core/identity/entities.ts';
import {
  addOrganization,
  basic,
  getTokens,
  json,
  type KeyCredentials,
  makeKey,
  rootOrganization,
  TOKEN_URL,
  tokenRequest,
  withBearer,
} from '../../helpers/api.ts';
import { completeSetupVia, createTestApp, fromAddress, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp;
let root: IOrganization;
let key: KeyCredentials;
let cookie: string;

beforeAll(async () => {
  t = await createTestApp();
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
  root = await rootOrganization(t);
  key = await makeKey(t, root);
});
afterAll(async () => {
  await t.close();
});

/** Runs `body` with the app's clock moved forward, then puts it back. */
async function later<T>(ms: number, body: () => T | Promise<T>): Promise<T> {
  const real = t.kernel.deps.now;
  t.kernel.deps.now = () => new Date(Date.now() + ms);
  try {
    return await body();
  } finally {
    t.kernel.deps.now = real;
  }
}

const orgUrl = () => `/api/v1/organizations/${root.id}`;

describe('client_credentials grant', () => {
  it('issues a bearer token to a client authenticated with HTTP Basic, from a form body without Origin', async () => {
    const res = await t.app.request(
      TOKEN_URL,
      tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(key.clientId, key.secret) }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('pragma')).toBe('no-cache');
    const body = await json(res);
    expect(body).toEqual({
      access_token: expect.stringMatching(/^hfat_[A-Za-z0-9_-]{43}$/),
      token_type: 'Bearer',
      expires_in: 900,
      refresh_token: expect.stringMatching(/^hfrt_[A-Za-z0-9_-]{43}$/),
    });
    const call = await t.app.request(orgUrl(), withBearer(body.access_token));
    expect(call.status).toBe(200);
    expect((await json(call)).id).toBe(root.id);
  });

  it('accepts client_id and client_secret as form fields, and a JSON body', async () => {
    const form = await t.app.request(
      TOKEN_URL,
      tokenRequest({ grant_type: 'client_credentials', client_id: key.clientId, client_secret: key.secret }),
    );
    expect(form.status).toBe(200);
    const jsonRes = await t.app.request(TOKEN_URL, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ grant_type: 'client_credentials', client_id: key.clientId, client_secret: key.secret }),
    });
    expect(jsonRes.status).toBe(200);
    expect((await json(jsonRes)).token_type).toBe('Bearer');
  });

  it('refuses a wrong secret or an unknown client with invalid_client (401) and audits it', async () => {
    for (const [id, secret] of [
      [key.clientId, 'not-the-secret'],
      ['hfk_0000000000000000', key.secret],
    ] as const) {
      const res = await t.app.request(
        TOKEN_URL,
        tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(id, secret) }),
        fromAddress('192.0.2.10'),
      );
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
      expect(await json(res)).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
    }
    const failures = await t.kernel.orm.em.fork().find((await import('../../../core/audit/entities.ts')).AuditEvent, {
      activity: 'Sign-in',
      status: 'failed',
      ip: '192.0.2.10',
    });
    expect(failures).toHaveLength(2);
    expect(failures.find((f) => f.account === `API key ${key.clientId}`)?.organization?.id).toBe(root.id);
  });

  it('answers malformed requests per RFC 6749 §5.2', async () => {
    const auth = { authorization: basic(key.clientId, key.secret) };
    const cases: [RequestInit, number, string][] = [
      [tokenRequest({}, auth), 400, 'invalid_request'],
      [tokenRequest({ grant_type: 'password' }, auth), 400, 'unsupported_grant_type'],
      [tokenRequest({ grant_type: 'client_credentials' }), 401, 'invalid_client'],
      [tokenRequest({ grant_type: 'client_credentials', client_secret: key.secret }, auth), 400, 'invalid_request'],
      [tokenRequest({ grant_type: 'refresh_token' }, auth), 400, 'invalid_request'],
      [{ method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: 'x' }, 400, 'invalid_request'],
      [
        { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{"grant_type":' },
        400,
        'invalid_request',
      ],
      [
        {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' },
          body: 'grant_type=client_credentials&grant_type=client_credentials',
        },
        400,
        'invalid_request',
      ],
      [tokenRequest({ grant_type: 'client_credentials' }, { authorization: 'Basic !!!' }), 401, 'invalid_client'],
    ];
    for (const [init, status, error] of cases) {
      const res = await t.app.request(TOKEN_URL, init, fromAddress('192.0.2.11'));
      expect({ status: res.status, error: (await json(res)).error }).toEqual({ status, error });
    }
  });
});

describe('refresh_token grant', () => {
  it('rotates the refresh token: the new one works, the spent one is refused with invalid_grant', async () => {
    const first = await getTokens(t.app, key);
    const refresh = (refreshToken: string) =>
      t.app.request(
        TOKEN_URL,
        tokenRequest(
          { grant_type: 'refresh_token', refresh_token: refreshToken },
          { authorization: basic(key.clientId, key.secret) },
        ),
      );
    const second = await refresh(first.refresh_token);
    expect(second.status).toBe(200);
    const pair = await json(second);
    expect(pair.refresh_token).not.toBe(first.refresh_token);
    expect(pair.access_token).not.toBe(first.access_token);

    const third = await refresh(pair.refresh_token);
    expect(third.status).toBe(200);
    const reuse = await refresh(pair.refresh_token);
    expect(reuse.status).toBe(400);
    expect(await json(reuse)).toEqual({ error: 'invalid_grant', error_description: expect.any(String) });
  });

  it('revokes the whole chain when a spent refresh token is presented again', async () => {
    const refresh = (refreshToken: string) =>
      t.app.request(
        TOKEN_URL,
        tokenRequest(
          { grant_type: 'refresh_token', refresh_token: refreshToken },
          { authorization: basic(key.clientId, key.secret) },
        ),
      );
    const untouched = await getTokens(t.app, key);
    const first = await getTokens(t.app, key);
    const second = await json(await refresh(first.refresh_token));
    const third = await json(await refresh(second.refresh_token));
    expect((await t.app.request(orgUrl(), withBearer(third.access_token))).status).toBe(200);

    // An attacker (or the victim) replays the first refresh token: the chain is cut.
    const replay = await refresh(first.refresh_token);
    expect(replay.status).toBe(400);
    expect((await json(replay)).error).toBe('invalid_grant');
    expect((await t.app.request(orgUrl(), withBearer(third.access_token))).status).toBe(401);
    expect((await t.app.request(orgUrl(), withBearer(second.access_token))).status).toBe(401);
    expect((await refresh(third.refresh_token)).status).toBe(400);
    // Another chain of the same key is not touched.
    expect((await t.app.request(orgUrl(), withBearer(untouched.access_token))).status).toBe(200);
    expect((await refresh(untouched.refresh_token)).status).toBe(200);
  });

  it('lets only one of two concurrent refreshes with the same token succeed', async () => {
    const { refresh_token } = await getTokens(t.app, key);
    const results = await Promise.all(
      [1, 2].map(() =>
        t.app.request(
          TOKEN_URL,
          tokenRequest(
            { grant_type: 'refresh_token', refresh_token },
            { authorization: basic(key.clientId, key.secret) },
          ),
        ),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 400]);
  });

  it("refuses another client's refresh token, and a refresh token after 30 days", async () => {
    const other = await makeKey(t, root);
    const { refresh_token } = await getTokens(t.app, key);
    const stolen = await t.app.request(
      TOKEN_URL,
      tokenRequest(
        { grant_type: 'refresh_token', refresh_token },
        { authorization: basic(other.clientId, other.secret) },
      ),
    );
    expect(stolen.status).toBe(400);
    expect((await json(stolen)).error).toBe('invalid_grant');

    const expired = await later(30 * 24 * 3600_000 + 1000, () =>
      t.app.request(
        TOKEN_URL,
        tokenRequest(
          { grant_type: 'refresh_token', refresh_token },
          { authorization: basic(key.clientId, key.secret) },
        ),
      ),
    );
    expect(expired.status).toBe(400);
    expect((await json(expired)).error).toBe('invalid_grant');
  });
});

describe('bearer authentication', () => {
  it('refuses an access token once its 15 minutes are over', async () => {
    const { access_token } = await getTokens(t.app, key);
    const justBefore = await later(14 * 60_000, () => t.app.request(orgUrl(), withBearer(access_token)));
    expect(justBefore.status).toBe(200);
    const after = await later(15 * 60_000 + 1000, () => t.app.request(orgUrl(), withBearer(access_token)));
    expect(after.status).toBe(401);
    expect(after.headers.get('www-authenticate')).toContain('error="invalid_token"');
    expect(await json(after)).toEqual({ error: { code: 'invalid_token', message: expect.any(String) } });
  });

  it('refuses unknown, malformed and refresh tokens even when a valid session cookie comes along', async () => {
    const { refresh_token } = await getTokens(t.app, key);
    for (const header of ['Bearer hfat_nope', 'Bearer ', `Bearer ${refresh_token}`, 'Bearer a b']) {
      const res = await t.app.request(orgUrl(), { headers: { authorization: header, cookie } });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="Holdfast API", error="invalid_token"/);
    }
  });

  it('asks for credentials (401 with WWW-Authenticate) when there are none; sessions still work', async () => {
    const anonymous = await t.app.request(orgUrl());
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="Holdfast API"');
    const session = await t.app.request(orgUrl(), { headers: { cookie } });
    expect(session.status).toBe(200);
  });

  it('keeps CSRF protection for cookie-authenticated API calls', async () => {
    const res = await t.app.request(`${orgUrl()}/api-keys`, {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
    });
    expect(res.status).toBe(403);
    const sameSite = await t.app.request(`${orgUrl()}/api-keys`, {
      method: 'POST',
      headers: { cookie, origin: ORIGIN },
    });
    expect(sameSite.status).toBe(201);
  });

  it('marks the key as used, at most once a minute', async () => {
    const fresh = await makeKey(t, root);
    const { access_token } = await getTokens(t.app, fresh);
    const lastUsed = async () =>
      (await t.kernel.orm.em.fork().findOneOrFail(ApiKey, { id: fresh.clientId })).lastUsedAt?.getTime();
    const issued = await lastUsed();
    expect(issued).toBeDefined();
    await t.app.request(orgUrl(), withBearer(access_token));
    expect(await lastUsed()).toBe(issued);
    await later(2 * 60_000, () => t.app.request(orgUrl(), withBearer(access_token)));
    expect(await lastUsed()).toBeGreaterThan(issued as number);
  });

  it('stops every token of a deleted key at once', async () => {
    const doomed = await makeKey(t, root);
    const tokens = await getTokens(t.app, doomed);
    const del = await t.app.request(
      `${orgUrl()}/api-keys/${doomed.clientId}`,
      withBearer(tokens.access_token, 'DELETE'),
    );
    expect(del.status).toBe(204);
    expect(await t.kernel.orm.em.fork().count(ApiToken, { apiKey: doomed.clientId })).toBe(0);
    expect((await t.app.request(orgUrl(), withBearer(tokens.access_token))).status).toBe(401);
    const refresh = await t.app.request(
      TOKEN_URL,
      tokenRequest(
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        { authorization: basic(doomed.clientId, doomed.secret) },
      ),
      fromAddress('192.0.2.12'),
    );
    expect(refresh.status).toBe(401);
  });
});

describe('what a key is not', () => {
  it('has no user: /me answers 403 to a bearer token', async () => {
    const { access_token } = await getTokens(t.app, key);
    const res = await t.app.request('/api/v1/me', withBearer(access_token));
    expect(res.status).toBe(403);
    expect((await json(res)).error.code).toBe('forbidden');
  });

  it('opens no browser page: a bearer header outside /api/v1 is ignored', async () => {
    const { access_token } = await getTokens(t.app, key);
    const res = await t.app.request('/settings/api', { headers: { authorization: `Bearer ${access_token}` } });
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toContain('/login');
  });
});

describe('throttling and IP restrictions', () => {
  it('locks a client id after repeated failures, with Retry-After, even for the right secret', async () => {
    const victim = await makeKey(t, root);
    const attempt = (secret: string) =>
      t.app.request(
        TOKEN_URL,
        tokenRequest({ grant_type: 'client_credentials' }, { authorization: basic(victim.clientId, secret) }),
        fromAddress('192.0.2.20'),
      );
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong-${i}`)).status).toBe(401);
    const locked = await attempt(victim.secret);
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await json(locked)).error).toBe('temporarily_unavailable');
  });

  it("applies the IP restrictions of the key's organization to tokens and to every call", async () => {
    const customer = await addOrganization(t, root, 'customer', 'Restricted Customer');
    const restricted = await makeKey(t, customer);
    const inside = fromAddress('198.51.100.7');
    const outside = fromAddress('203.0.113.9');
    const tokens = await getTokens(t.app, restricted);
    const base = `/api/v1/organizations/${customer.id}`;
    const add = await t.app.request(
      `${base}/ip-rules`,
      withBearer(tokens.access_token, 'POST', { description: 'Office', entries: ['198.51.100.0/24'] }),
      inside,
    );
    expect(add.status).toBe(201);
    const refused = await t.app.request(
      `${base}/ip-restrictions`,
      withBearer(tokens.access_token, 'PUT', { enabled: true }),
      outside,
    );
    expect(refused.status).toBe(409);
    const on = await t.app.request(
      `${base}/ip-restrictions`,
      withBearer(tokens.access_token, 'PUT', { enabled: true }),
      inside,
    );
    expect(on.status).toBe(200);

    const blockedCall = await t.app.request(base, withBearer(tokens.access_token), outside);
    expect(blockedCall.status).toBe(403);
    expect((await json(blockedCall)).error.code).toBe('ip_not_trusted');
    expect((await t.app.request(base, withBearer(tokens.access_token), inside)).status).toBe(200);

    const blockedToken = await t.app.request(
      TOKEN_URL,
      tokenRequest(
        { grant_type: 'client_credentials' },
        { authorization: basic(restricted.clientId, restricted.secret) },
      ),
      outside,
    );
    expect(blockedToken.status).toBe(403);
    expect((await json(blockedToken)).error).toBe('access_denied');
  });
});

describe('logs', () => {
  it('never hold a client secret, an access token or a refresh token', async () => {
    const fresh = await makeKey(t, root);
    const tokens = await getTokens(t.app, fresh);
    await t.app.request(orgUrl(), withBearer(tokens.access_token));
    await t.app.request(
      TOKEN_URL,
      tokenRequest(
        { grant_type: 'refresh_token', refresh_token: tokens.refresh_token },
        { authorization: basic(fresh.clientId, fresh.secret) },
      ),
    );
    const logs = t.logs.join('');
    expect(logs).toContain('api token issued');
    expect(logs).toContain('api token refreshed');
    for (const secret of [fresh.secret, key.secret, tokens.access_token, tokens.refresh_token]) {
      expect(logs).not.toContain(secret);
    }
  });
});
