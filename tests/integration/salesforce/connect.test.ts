// Connecting Salesforce: through the add-task pages as an admin's browser would (the stand-in
// approves at once; PKCE checked there), the task recording its org; re-authenticating through
// the same flow with another org refused, with its own org accepted; and, without a browser, a
// task connected by the JWT bearer flow (consumer key + username + private key) that backs up.
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { openConnectionSettings } from '../../../core/tasks/connection.ts';
import { BackupTask } from '../../../core/tasks/entities.ts';
import { createTask } from '../../../core/tasks/tasks-service.ts';
import { type SalesforceSettings, tuneSalesforce } from '../../../plugins/services/salesforce/index.ts';
import { FakeSalesforce, seedDemoOrg } from '../../fakes/salesforce/index.ts';
import { completeSetupVia, createTestApp, form, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';
import { salesforceEnv } from './harness.ts';

const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });

let fake: FakeSalesforce;
let t: TestApp;
let cookie: string;

beforeAll(async () => {
  fake = await new FakeSalesforce({
    seed: 3,
    certificate: keys.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  }).start();
  seedDemoOrg(fake.org, { accounts: 3, contactsPerAccount: 2 });
  tuneSalesforce({ retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 } });
  t = await createTestApp(salesforceEnv(fake));
  await completeSetupVia(t.app);
  cookie = await signIn(t.app);
});

afterAll(async () => {
  await t?.close();
  await fake?.stop();
});

function cookiesOf(res: Response): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

function refreshTarget(html: string): URL {
  const refresh = html.match(/<meta http-equiv="refresh" content="0;url=([^"]+)">/)?.[1] ?? '';
  return new URL(refresh.replaceAll('&amp;', '&'));
}

/** The stand-in's approval, then the browser's return to the appliance. */
async function approveAndReturn(authorize: URL, cookies: string): Promise<Response> {
  const approved = await fetch(authorize, { redirect: 'manual' });
  expect(approved.status).toBe(302);
  const back = new URL(approved.headers.get('location') as string);
  return t.app.request(`${back.pathname}${back.search}`, { headers: { cookie: cookies, origin: ORIGIN } });
}

describe('connecting Salesforce from the add-task page', () => {
  it('signs in at the login host with PKCE, and adds a task bound to the org; another org cannot take it over', async () => {
    const res = await t.app.request('/tasks/new', {
      ...form({ service: 'salesforce', name: 'Acme org', frequency: 'daily', backupHour: '4' }),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(200);
    const authorize = refreshTarget(await res.text());
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${fake.url}/services/oauth2/authorize`);
    expect(authorize.searchParams.get('client_id')).toBe(fake.clientId);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('scope')).toBe('api refresh_token');
    const done = await approveAndReturn(authorize, `${cookie}; ${cookiesOf(res)}`);
    expect(done.status).toBe(303);
    const id = /^\/tasks\/([^?]+)$/.exec(done.headers.get('location') ?? '')?.[1] as string;
    const task = await t.kernel.orm.em.fork().findOneOrFail(BackupTask, { id });
    const stored = openConnectionSettings(t.kernel.credentials, task) as SalesforceSettings;
    expect(stored.orgId).toBe(fake.org.id);
    // The refresh token stored (sealed) with the task is one the org issued and still honours.
    expect(fake.oauth.refreshTokens.get(stored.refreshToken as string)?.revoked).toBe(false);

    const reconnect = async () => {
      const r = await t.app.request(`/tasks/${id}/reconnect`, {
        ...form({}),
        headers: { ...form({}).headers, cookie },
      });
      expect(r.status).toBe(200);
      return approveAndReturn(refreshTarget(await r.text()), `${cookie}; ${cookiesOf(r)}`);
    };
    const other = fake.addOrg('Globex');
    fake.approveAs(other);
    const refused = await reconnect();
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain(`You signed in to the Salesforce org (${other.id}), but this task backs up`);
    fake.approveAs(fake.org);
    const again = await reconnect();
    expect([again.status, again.headers.get('location')]).toEqual([303, `/tasks/${id}`]);
  });

  it('asks for the environment first, stores it with the task and keeps it and the anonymization key when re-authenticating', async () => {
    const page = await t.app.request('/tasks/new?service=salesforce', { headers: { cookie } });
    const html = await page.text();
    // Production by default, no blank choice: the environment always has a value.
    const select = /<select id="conn_environment"[\s\S]*?<\/select>/.exec(html)?.[0] ?? '';
    expect(select.match(/<option[^>]*>[^<]*<\/option>/g)).toEqual([
      '<option value="production" selected>Production</option>',
      '<option value="sandbox">Sandbox</option>',
      '<option value="mydomain">My Domain URL</option>',
    ]);
    expect(html).not.toContain('Environment <span class="muted">(optional)</span>');
    expect(html).toContain('My Domain URL');
    const res = await t.app.request('/tasks/new', {
      ...form({
        service: 'salesforce',
        name: 'Acme sandbox',
        frequency: 'daily',
        backupHour: '4',
        conn_environment: 'sandbox',
      }),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(200);
    const done = await approveAndReturn(refreshTarget(await res.text()), `${cookie}; ${cookiesOf(res)}`);
    const id = /^\/tasks\/([^?]+)$/.exec(done.headers.get('location') ?? '')?.[1] as string;
    const storedOf = async () =>
      openConnectionSettings(
        t.kernel.credentials,
        await t.kernel.orm.em.fork().findOneOrFail(BackupTask, { id }),
      ) as SalesforceSettings;
    expect(await storedOf()).toMatchObject({ environment: 'sandbox', orgId: fake.org.id });
    // Made once per task: replicas stay anonymized the same way across runs and re-authentications.
    const anonymizationKey = (await storedOf()).anonymizationKey;
    expect(anonymizationKey).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // Re-authenticating offers no choice and signs in at the stored environment again.
    const r = await t.app.request(`/tasks/${id}/reconnect`, { headers: { cookie } });
    expect(await r.text()).not.toContain('name="conn_environment"');
    const again = await t.app.request(`/tasks/${id}/reconnect`, {
      ...form({}),
      headers: { ...form({}).headers, cookie },
    });
    const back = await approveAndReturn(refreshTarget(await again.text()), `${cookie}; ${cookiesOf(again)}`);
    expect([back.status, back.headers.get('location')]).toEqual([303, `/tasks/${id}`]);
    expect(await storedOf()).toMatchObject({ environment: 'sandbox', anonymizationKey });
  });

  it('refuses a My Domain URL that is not Salesforce’s before sending anyone there', async () => {
    const res = await t.app.request('/tasks/new', {
      ...form({
        service: 'salesforce',
        name: 'Phished',
        frequency: 'daily',
        backupHour: '4',
        conn_environment: 'mydomain',
        conn_myDomainUrl: 'https://login.evil.example',
      }),
      headers: { ...form({}).headers, cookie },
    });
    expect(res.status).toBe(422);
    const html = await res.text();
    expect(html).toContain('A My Domain URL ends in .my.salesforce.com');
    expect(html).not.toContain('http-equiv="refresh"');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('holdfast_oauth='))).toBe(false);
  });

  it('refuses a declined or forged sign-in without adding a task', async () => {
    const before = await t.kernel.orm.em.fork().count(BackupTask, {});
    const res = await t.app.request('/tasks/new', {
      ...form({ service: 'salesforce', name: 'Declined', frequency: 'daily', backupHour: '4' }),
      headers: { ...form({}).headers, cookie },
    });
    const state = refreshTarget(await res.text()).searchParams.get('state') as string;
    const declined = await t.app.request(
      `/tasks/oauth/callback?error=access_denied&error_description=end-user+denied+authorization&state=${state}`,
      { headers: { cookie: `${cookie}; ${cookiesOf(res)}`, origin: ORIGIN } },
    );
    expect(declined.status).toBe(422);
    expect(await declined.text()).toContain('end-user denied authorization');
    expect(await t.kernel.orm.em.fork().count(BackupTask, {})).toBe(before);
  });
});

function deps() {
  const d = t.kernel.deps;
  return { credentials: d.credentials, services: servicePlugin, now: d.now, log: d.log };
}

describe('the JWT bearer flow', () => {
  it('connects a task with the consumer key, a username and the private key, without a browser', async () => {
    const em = t.kernel.orm.em.fork();
    // The organization the page-connected task belongs to.
    const organization = (await em.findOneOrFail(BackupTask, { name: 'Acme org' })).organization;
    const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const task = await createTask(
      em,
      deps(),
      organization,
      {
        service: 'salesforce',
        name: 'Acme by JWT',
        connection: { environment: 'production', orgId: fake.org.id, username: 'admin@stand-in.example', privateKey },
        settings: {},
      },
      { label: 'admin@acme.example', id: 'test-user' },
    );
    expect(task.connectionState).toBe('connected');
    const stored = openConnectionSettings(t.kernel.credentials, task) as SalesforceSettings;
    expect(stored.privateKey).toBe(privateKey);
    // A key the connected app does not hold is refused before the task exists.
    const stranger = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    await expect(
      createTask(
        em,
        deps(),
        organization,
        {
          service: 'salesforce',
          name: 'Wrong key',
          connection: {
            environment: 'production',
            orgId: fake.org.id,
            username: 'admin@stand-in.example',
            privateKey: stranger.toString(),
          },
          settings: {},
        },
        { label: 'admin@acme.example', id: 'test-user' },
      ),
    ).rejects.toMatchObject({ fields: { connection: expect.stringContaining('invalid assertion') } });
    // Something that is no private key at all says so.
    await expect(
      createTask(
        em,
        deps(),
        organization,
        {
          service: 'salesforce',
          name: 'Not a key',
          connection: {
            environment: 'production',
            orgId: fake.org.id,
            username: 'admin@stand-in.example',
            privateKey: 'hunter2',
          },
          settings: {},
        },
        { label: 'admin@acme.example', id: 'test-user' },
      ),
    ).rejects.toMatchObject({ fields: { connection: expect.stringContaining('could not sign') } });
  });
});
