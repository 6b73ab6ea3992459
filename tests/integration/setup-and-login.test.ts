import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { User } from '../../core/identity/entities.ts';
import { ADMIN, completeSetupVia, createTestApp, form, fromAddress, signIn, type TestApp } from '../helpers/kernel.ts';

let t: TestApp;
beforeEach(async () => {
  t = await createTestApp();
});
afterEach(async () => {
  await t.close();
});

describe('first-run setup', () => {
  it('sends every page to the setup page while no administrator exists', async () => {
    for (const path of ['/', '/login', '/no-such-page']) {
      const res = await t.app.request(path);
      expect(res.status).toBe(303);
      expect(res.headers.get('location')).toBe('/setup');
    }
    const setup = await t.app.request('/setup');
    expect(setup.status).toBe(200);
    expect(await setup.text()).toContain('Create administrator');
  });

  it('answers API calls with a JSON 503 until setup is done', async () => {
    const res = await t.app.request('/api/v1/me');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: 'setup_required', message: expect.stringContaining('/setup') } });
  });

  it('shows a message per invalid field and keeps what was typed (but not the password)', async () => {
    const res = await t.app.request(
      '/setup',
      form({ organizationName: '', email: 'not-an-email', password: 'short', confirmPassword: 'short' }),
    );
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('Enter the name of your organization.');
    expect(html).toContain('Enter a valid email address');
    expect(html).toContain('Use at least 12 characters.');
    expect(html).toContain('value="not-an-email"');
    expect(html).not.toContain('value="short"');
    expect(await t.kernel.orm.em.fork().count(User)).toBe(0);
  });

  it('requires the two passwords to match', async () => {
    const res = await t.app.request('/setup', form({ ...ADMIN, confirmPassword: 'Something-else-42' }));
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('The two passwords do not match.');
  });

  it('creates the root organization and administrator, then is gone for good', async () => {
    const res = await completeSetupVia(t.app);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/');
    const users = await t.kernel.orm.em.fork().find(User, {}, { populate: ['organization'] });
    expect(users).toHaveLength(1);
    expect(users[0]?.email).toBe(ADMIN.email);
    expect(users[0]?.role).toBe('administrator');
    expect(users[0]?.organization.kind).toBe('root');
    expect(users[0]?.organization.name).toBe(ADMIN.organizationName);
    expect(users[0]?.passwordHash).not.toContain(ADMIN.password);

    const again = await t.app.request('/setup');
    expect(again.status).toBe(303);
    expect(again.headers.get('location')).toBe('/login');
    const repost = await t.app.request(
      '/setup',
      form({ ...ADMIN, email: 'other@acme.example', confirmPassword: ADMIN.password }),
    );
    expect(repost.status).toBe(303);
    expect(await t.kernel.orm.em.fork().count(User)).toBe(1);
  });

  it('signs the new administrator in, as a sign-in would, and records it', async () => {
    const res = await completeSetupVia(t.app);
    const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).not.toBe('');
    const home = await t.app.request('/', { headers: { cookie } });
    expect(home.status).toBe(200);
    expect(await home.text()).toContain(ADMIN.email);
    const me = await t.app.request('/api/v1/me', { headers: { cookie } });
    expect(me.status).toBe(200);
    expect(t.logs.join('')).toContain('"msg":"login succeeded"');
    // Settings › Users shows this sign-in, not "Never".
    const admin = await t.kernel.orm.em.fork().findOneOrFail(User, { email: ADMIN.email });
    expect(admin.lastLoginAt).toBeInstanceOf(Date);
  });

  it('lets exactly one of two racing setup requests win', async () => {
    const results = await Promise.all(
      ['first@acme.example', 'second@acme.example', 'third@acme.example'].map((email) =>
        t.app.request('/setup', form({ ...ADMIN, email, confirmPassword: ADMIN.password })),
      ),
    );
    expect(results.map((r) => r.status)).toEqual([303, 303, 303]);
    // Only the winner is signed in; the others are sent to the sign-in page.
    expect(results.filter((r) => r.headers.get('location') === '/')).toHaveLength(1);
    expect(results.filter((r) => r.headers.get('set-cookie'))).toHaveLength(1);
    expect(await t.kernel.orm.em.fork().count(User)).toBe(1);
  });

  it('logs setup and sign-ins without any password', async () => {
    await completeSetupVia(t.app);
    await signIn(t.app);
    await t.app.request('/login', form({ email: ADMIN.email, password: 'Wrong-password-99' }));
    const all = t.logs.join('');
    expect(all).toContain('first-run setup completed');
    expect(all).toContain('login succeeded');
    expect(all).toContain('login failed');
    expect(all).not.toContain(ADMIN.password);
    expect(all).not.toContain('Wrong-password-99');
  });
});

describe('sign in and out', () => {
  beforeEach(async () => {
    await completeSetupVia(t.app);
  });

  it('sends an anonymous visitor to the login page, remembering where they were going', async () => {
    const res = await t.app.request('/');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/login');
    const login = await t.app.request('/login?next=%2Fapi%2Fv1%2Fdocs');
    expect(await login.text()).toContain('name="next" value="/api/v1/docs"');
  });

  it('rejects a wrong password with one message that does not say which part was wrong', async () => {
    for (const [email, password] of [
      [ADMIN.email, 'Wrong-password-99'],
      ['nobody@acme.example', ADMIN.password],
    ]) {
      const res = await t.app.request('/login', form({ email: email as string, password: password as string }));
      expect(res.status).toBe(401);
      expect(await res.text()).toContain('The email address or password is incorrect.');
      expect(res.headers.get('set-cookie')).toBeNull();
    }
  });

  it('asks for missing fields', async () => {
    const res = await t.app.request('/login', form({ email: '', password: '' }));
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('Enter your email address.');
    expect(html).toContain('Enter your password.');
  });

  it('sets a signed HttpOnly SameSite=Lax session cookie and shows the homepage', async () => {
    const res = await t.app.request(
      '/login',
      form({ email: 'ADMIN@acme.example', password: ADMIN.password, next: '/' }),
    );
    expect(res.status).toBe(303);
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^holdfast_session=[^;]+\.[^;]+;/);
    expect(setCookie).toContain('HttpOnly');
    expect(setCookie).toContain('SameSite=Lax');
    expect(setCookie).not.toContain('Secure');
    const cookie = setCookie.split(';')[0] as string;
    const home = await t.app.request('/', { headers: { cookie } });
    expect(home.status).toBe(200);
    const html = await home.text();
    expect(html).toContain('Acme Managed Services');
    expect(html).toContain('No backup tasks yet');
    // Dropbox is built in: the empty homepage offers to add a task.
    expect(html).not.toContain('No service connector is installed on this appliance yet');
    expect(html).toContain('href="/tasks/new"');
    expect(html).toContain('aria-current="page"');
  });

  it('marks the cookie Secure behind an HTTPS proxy when proxies are trusted', async () => {
    const proxied = await createTestApp({ HOLDFAST_TRUSTED_PROXIES: '10.0.0.0/8' });
    try {
      await completeSetupVia(proxied.app);
      const res = await proxied.app.request(
        '/login',
        {
          ...form({ email: ADMIN.email, password: ADMIN.password }),
          headers: {
            ...form({}).headers,
            origin: 'https://backup.example.com',
            'x-forwarded-proto': 'https',
            'x-forwarded-host': 'backup.example.com',
          },
        },
        fromAddress('10.1.1.1'),
      );
      expect(res.status).toBe(303);
      expect(res.headers.get('set-cookie')).toContain('Secure');
    } finally {
      await proxied.close();
    }
  });

  it('rejects a cookie whose signature does not match, even with a valid token', async () => {
    const cookie = await signIn(t.app);
    const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
    const token = value.slice(0, value.lastIndexOf('.'));
    expect((await t.app.request('/', { headers: { cookie } })).status).toBe(200);
    for (const forged of [token, `${token}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=`]) {
      const res = await t.app.request('/', { headers: { cookie: `holdfast_session=${encodeURIComponent(forged)}` } });
      expect(res.status).toBe(303);
    }
  });

  it('ignores forwarded headers unless a proxy is trusted', async () => {
    const res = await t.app.request('/login', {
      ...form({ email: ADMIN.email, password: ADMIN.password }),
      headers: { ...form({}).headers, 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.9' },
    });
    expect(res.status).toBe(303);
    expect(res.headers.get('set-cookie')).not.toContain('Secure');
  });

  it('marks signed-in pages as not cacheable', async () => {
    const cookie = await signIn(t.app);
    expect((await t.app.request('/', { headers: { cookie } })).headers.get('cache-control')).toBe('no-store');
  });

  it('ends the session on the server at sign-out', async () => {
    const cookie = await signIn(t.app);
    const out = await t.app.request('/logout', { method: 'POST', headers: { cookie, origin: 'http://localhost' } });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/login?signedOut=1');
    expect(out.headers.get('set-cookie')).toMatch(/holdfast_session=;.*Max-Age=0/);
    const replay = await t.app.request('/', { headers: { cookie } });
    expect(replay.status).toBe(303);
  });

  it('refuses a cross-site form post (CSRF)', async () => {
    const res = await t.app.request('/login', {
      ...form({ email: ADMIN.email, password: ADMIN.password }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    expect(res.status).toBe(403);
  });

  it('follows only local next= targets after login', async () => {
    const res = await t.app.request(
      '/login',
      form({ email: ADMIN.email, password: ADMIN.password, next: '//evil.example/' }),
    );
    expect(res.headers.get('location')).toBe('/');
  });

  it.each(['/..//127.0.0.1:9/phish', '/%2e%2e//127.0.0.1:9/phish', '/x/..//127.0.0.1:9/', '/.//127.0.0.1:9/'])(
    'never redirects off-site after a next= of %s',
    async (next) => {
      const login = await t.app.request('/login', form({ email: ADMIN.email, password: ADMIN.password, next }));
      expect(login.headers.get('location')).toBe('/');
      const cookie = (login.headers.get('set-cookie') as string).split(';')[0] as string;
      const signedIn = await t.app.request(`/login?next=${encodeURIComponent(next)}`, { headers: { cookie } });
      expect(signedIn.headers.get('location')).toBe('/');
    },
  );
});
