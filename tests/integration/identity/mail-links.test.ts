// Links in mail never come from request headers: they use HOLDFAST_PUBLIC_URL, or the public
// address confirmed on the setup page (pinned in system_facts). Without either, no link is mailed
// and the operator is told why.
import { afterEach, describe, expect, it } from 'vitest';
import { type IMailMessage, MailMessage } from '../../../core/mail/entities.ts';
import { SystemFact } from '../../../core/system/entities.ts';
import { ADMIN, createTestApp, form, signIn, type TestApp } from '../../helpers/kernel.ts';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function open(env: Record<string, string> = {}): Promise<TestApp> {
  t = await createTestApp(env);
  return t;
}

async function setUp(app: TestApp, extra: Record<string, string> = {}): Promise<Response> {
  return app.app.request('/setup', form({ ...ADMIN, confirmPassword: ADMIN.password, ...extra }));
}

/** POST /forgot-password as an attacker sends it: any Host, an Origin to match. */
async function forgotFrom(app: TestApp, host: string): Promise<Response> {
  return app.app.request(`http://${host}/forgot-password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: `http://${host}`, host },
    body: new URLSearchParams({ email: ADMIN.email }).toString(),
  });
}

async function mails(app: TestApp): Promise<IMailMessage[]> {
  return app.kernel.orm.em.fork().find(MailMessage, { to: ADMIN.email }, { orderBy: { id: 'asc' } });
}

describe('links in mail', () => {
  it('uses the public address confirmed at setup, never the Host of the request', async () => {
    const app = await open();
    const page = await app.app.request('/setup');
    expect(await page.text()).toMatch(/name="publicUrl"[^>]*value="http:\/\/localhost"/);
    expect((await setUp(app, { publicUrl: 'https://backup.example.com/' })).status).toBe(303);
    const answer = await forgotFrom(app, 'attacker.example');
    expect(answer.status).toBe(200);
    const [mail] = await mails(app);
    expect(mail?.text).toMatch(/https:\/\/backup\.example\.com\/reset-password\/[\w-]+/);
    expect(mail?.text).not.toContain('attacker.example');
  });

  it('pins the address setup was completed from when the field is left as suggested', async () => {
    const app = await open();
    expect((await setUp(app)).status).toBe(303);
    await forgotFrom(app, 'attacker.example');
    const [mail] = await mails(app);
    expect(mail?.text).toContain('http://localhost/reset-password/');
    expect(mail?.text).not.toContain('attacker.example');
  });

  it('refuses a public address that is not an http(s) URL with a field message', async () => {
    const app = await open();
    const res = await setUp(app, { publicUrl: 'ftp://backup.example.com' });
    expect(res.status).toBe(422);
    expect(await res.text()).toContain('Enter the address users reach Holdfast at, like https://backup.example.com.');
    expect(app.kernel.deps.setupState.complete).toBe(false);
  });

  it('with HOLDFAST_PUBLIC_URL, asks nothing at setup and links use it', async () => {
    const app = await open({ HOLDFAST_PUBLIC_URL: 'https://holdfast.example.net' });
    expect(await (await app.app.request('/setup')).text()).not.toContain('name="publicUrl"');
    // The setup request itself must come from the public address (CSRF origin check).
    const setup = await app.app.request('/setup', {
      ...form({ ...ADMIN, confirmPassword: ADMIN.password }),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://holdfast.example.net' },
    });
    expect(setup.status).toBe(303);
    const answer = await app.app.request('http://attacker.example/forgot-password', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://holdfast.example.net' },
      body: new URLSearchParams({ email: ADMIN.email }).toString(),
    });
    expect(answer.status).toBe(200);
    const [mail] = await mails(app);
    expect(mail?.text).toContain('https://holdfast.example.net/reset-password/');
  });

  it('without a known public address, mails no link, answers the same and says why in the log and to an inviting administrator', async () => {
    const app = await open();
    expect(app.logs.join('')).toContain('HOLDFAST_PUBLIC_URL is not set');
    await setUp(app);
    // As after a CLI setup without HOLDFAST_PUBLIC_URL.
    await app.kernel.orm.em.fork().nativeDelete(SystemFact, { key: 'public_url' });
    const answer = await forgotFrom(app, 'attacker.example');
    expect(answer.status).toBe(200);
    expect(await answer.text()).toContain('Check your mail');
    expect(await mails(app)).toHaveLength(0);
    expect(app.logs.join('')).toContain('no reset link mailed: set HOLDFAST_PUBLIC_URL');
    const cookie = await signIn(app.app);
    const invite = await app.app.request('/settings/users/new', {
      ...form({ email: 'new@acme.example', role: 'administrator' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(invite.status).toBe(409);
    expect(await invite.text()).toContain('HOLDFAST_PUBLIC_URL');
    const { User } = await import('../../../core/identity/entities.ts');
    expect(await app.kernel.orm.em.fork().count(User, { email: 'new@acme.example' })).toBe(0);
  });
});
