// Adding a Dropbox task through the pages, as an admin's browser would: the add-task form asks
// only for the task's settings, sends the browser to Dropbox's sign-in (the stand-in approves at
// once) with a PKCE challenge, and the return adds the task and queues discovery. Forged,
// foreign and declined returns add nothing; a revoked task is shown Disconnected and authenticates
// again through the same flow (with its own team only); an appliance without a Dropbox app says so.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../../../core/jobs/entities.ts';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { connectTask, openConnectionSettings } from '../../../core/tasks/connection.ts';
import { BackupTask } from '../../../core/tasks/entities.ts';
import type { DropboxSettings } from '../../../plugins/services/dropbox/index.ts';
import { FakeDropbox } from '../../fakes/dropbox/index.ts';
import { completeSetupVia, createTestApp, form, ORIGIN, signIn, type TestApp } from '../../helpers/kernel.ts';

let fake: FakeDropbox;
let t: TestApp;
let cookie: string;

beforeAll(async () => {
  fake = await new FakeDropbox({ teamName: 'Acme Dropbox team', seed: 7 }).start();
  fake.team.addMember({ email: 'admin@acme.example', givenName: 'Ada', surname: 'Admin', role: 'team_admin' });
  t = await createTestApp({
    HOLDFAST_DROPBOX_APP_KEY: fake.appKey,
    HOLDFAST_DROPBOX_APP_SECRET: fake.appSecret,
    HOLDFAST_DROPBOX_API_BASE: fake.url,
  });
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

async function startAdding(name: string): Promise<{ authorize: URL; oauthCookie: string }> {
  const res = await t.app.request('/tasks/new', {
    ...form({ service: 'dropbox', name, frequency: 'daily', backupHour: '4' }),
    headers: { ...form({}).headers, cookie },
  });
  // A page that moves on by itself (a form's answer may not redirect to another site).
  expect(res.status).toBe(200);
  const html = await res.text();
  const refresh = html.match(/<meta http-equiv="refresh" content="0;url=([^"]+)">/)?.[1] ?? '';
  return { authorize: new URL(refresh.replaceAll('&amp;', '&')), oauthCookie: cookiesOf(res) };
}

/** What the stand-in's sign-in sends the browser back with. */
async function approve(authorize: URL): Promise<URL> {
  const res = await fetch(authorize, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location') as string);
}

async function callback(back: URL, cookies: string): Promise<Response> {
  return t.app.request(`${back.pathname}${back.search}`, { headers: { cookie: cookies, origin: ORIGIN } });
}

describe('connecting Dropbox from the add-task page', () => {
  it('asks only for the task settings, then sends the browser to sign in with a PKCE challenge', async () => {
    const page = await t.app.request('/tasks/new?service=dropbox', { headers: { cookie } });
    const html = await page.text();
    expect(html).toContain('Continue to Dropbox');
    expect(html).not.toContain('conn_refreshToken');
    const { authorize, oauthCookie } = await startAdding('Acme Dropbox');
    expect(`${authorize.origin}${authorize.pathname}`).toBe(`${fake.url}/oauth2/authorize`);
    expect(authorize.searchParams.get('client_id')).toBe(fake.appKey);
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe('http://localhost/tasks/oauth/callback');
    expect(oauthCookie).toMatch(/^holdfast_oauth=/);
    expect(oauthCookie).not.toContain(authorize.searchParams.get('state') as string);
  });

  it('adds the task on the way back and queues discovery; the token is stored sealed', async () => {
    const { authorize, oauthCookie } = await startAdding('Acme Dropbox (connected)');
    const back = await approve(authorize);
    const res = await callback(back, `${cookie}; ${oauthCookie}`);
    expect(res.status).toBe(303);
    const location = res.headers.get('location') as string;
    expect(location).toMatch(/^\/tasks\/[0-9a-f-]{36}$/);
    const id = location.slice('/tasks/'.length);
    const em = t.kernel.orm.em.fork();
    const task = await em.findOneOrFail(BackupTask, { id });
    expect([task.service, task.name, task.backupHour, task.connectionState]).toEqual([
      'dropbox',
      'Acme Dropbox (connected)',
      4,
      'connected',
    ]);
    const [row] = (await em.getConnection().execute('select connection from backup_tasks where id = ?', [id])) as {
      connection: string;
    }[];
    expect(row?.connection).toMatch(/^hf1\./);
    expect(await em.count(Job, { task: id, kind: 'maintenance' })).toBe(1);
    // The cookie was spent: the same return cannot add a second task.
    expect(res.headers.getSetCookie().some((c) => c.startsWith('holdfast_oauth=;'))).toBe(true);
  });

  it('adds nothing for a forged state, a missing cookie or a declined sign-in', async () => {
    const before = await t.kernel.orm.em.fork().count(BackupTask, {});
    const { authorize, oauthCookie } = await startAdding('Never added');
    const back = await approve(authorize);
    const forged = new URL(back);
    forged.searchParams.set('state', 'x'.repeat(32));
    const wrongState = await callback(forged, `${cookie}; ${oauthCookie}`);
    expect(wrongState.status).toBe(400);
    expect(await wrongState.text()).toContain('The answer from the service does not belong to this sign-in.');
    const noCookie = await callback(back, cookie);
    expect(noCookie.status).toBe(400);
    const declined = new URL(back);
    declined.search = new URLSearchParams({
      state: back.searchParams.get('state') as string,
      error: 'access_denied',
      error_description: 'The user chose not to give your app access to their Dropbox account.',
    }).toString();
    const refused = await callback(declined, `${cookie}; ${oauthCookie}`);
    expect(refused.status).toBe(422);
    expect(await refused.text()).toContain(
      'Dropbox did not grant access: The user chose not to give your app access to their Dropbox account.',
    );
    expect(await t.kernel.orm.em.fork().count(BackupTask, {})).toBe(before);
  });

  it('shows a revoked task as Disconnected and authenticates it again through Dropbox, with the same team only', async () => {
    const { authorize, oauthCookie } = await startAdding('Acme Dropbox (revoked)');
    const created = await callback(await approve(authorize), `${cookie}; ${oauthCookie}`);
    const id = (created.headers.get('location') as string).slice('/tasks/'.length);
    const em = t.kernel.orm.em.fork();
    const task = await em.findOneOrFail(BackupTask, { id });
    const first = openConnectionSettings(t.kernel.credentials, task) as DropboxSettings;
    // The admin unlinks the app at Dropbox; the next connection finds out and says so.
    fake.oauth.revokeRefreshToken(first.refreshToken);
    await expect(
      connectTask(
        em,
        task,
        servicePlugin('dropbox') as never,
        t.kernel.credentials,
        AbortSignal.timeout(10_000),
        t.kernel.deps.log,
      ),
    ).rejects.toThrow(/no longer accepts this task's authorization/);
    const home = await (await t.app.request('/', { headers: { cookie } })).text();
    expect(home).toContain(`href="/tasks/${id}/reconnect" title="Authenticate again">Disconnected</a>`);
    const page = await (await t.app.request(`/tasks/${id}`, { headers: { cookie } })).text();
    expect(page).toContain('The service refused the stored credentials.');
    expect(page).toContain('Disconnected · authenticate again');

    const reconnect = async () => {
      const res = await t.app.request(`/tasks/${id}/reconnect`, {
        ...form({}),
        headers: { ...form({}).headers, cookie },
      });
      expect(res.status).toBe(200);
      const refresh = (await res.text()).match(/<meta http-equiv="refresh" content="0;url=([^"]+)">/)?.[1] ?? '';
      const back = await approve(new URL(refresh.replaceAll('&amp;', '&')));
      return callback(back, `${cookie}; ${cookiesOf(res)}`);
    };

    // Signing in to another Dropbox team is refused: the task's members belong to this one.
    const ownTeam = { id: fake.team.id, name: fake.team.name };
    fake.team.id = 'dbtid:AnotherTeam0000000000';
    fake.team.name = 'Globex';
    try {
      const refused = await reconnect();
      expect(refused.status).toBe(422);
      expect(await refused.text()).toContain(
        'You signed in to the Dropbox team “Globex”, but this task backs up the Dropbox team “Acme Dropbox team”.',
      );
    } finally {
      fake.team.id = ownTeam.id;
      fake.team.name = ownTeam.name;
    }
    expect((await t.kernel.orm.em.fork().findOneOrFail(BackupTask, { id })).connectionState).toBe('disconnected');

    const again = await reconnect();
    expect([again.status, again.headers.get('location')]).toEqual([303, `/tasks/${id}`]);
    const stored = await t.kernel.orm.em.fork().findOneOrFail(BackupTask, { id });
    expect([stored.connectionState, stored.connectionProblem]).toEqual(['connected', null]);
    const second = openConnectionSettings(t.kernel.credentials, stored) as DropboxSettings;
    expect(second.teamId).toBe(first.teamId);
    expect(second.refreshToken).not.toBe(first.refreshToken);
  });

  // Last: a second appliance without a Dropbox app reconfigures the (process-wide) plugin.
  it('says the operator must register a Dropbox app when the appliance has none', async () => {
    const bare = await createTestApp();
    try {
      await completeSetupVia(bare.app);
      const session = await signIn(bare.app);
      // Up front, before any form is filled: what to set, and the redirect URI to register.
      const page = await bare.app.request('/tasks/new?service=dropbox', { headers: { cookie: session } });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('Dropbox is not configured on this appliance yet');
      expect(html).toContain('HOLDFAST_DROPBOX_APP_KEY');
      expect(html).toContain('HOLDFAST_DROPBOX_APP_SECRET');
      expect(html).not.toContain('HOLDFAST_DROPBOX_API_BASE');
      expect(html).toContain('<code>http://localhost/tasks/oauth/callback</code>');
      expect(html).not.toContain('Continue to Dropbox');
      const res = await bare.app.request('/tasks/new', {
        ...form({ service: 'dropbox', name: 'No app', frequency: 'daily', backupHour: '4' }),
        headers: { ...form({}).headers, cookie: session },
      });
      expect(res.status).toBe(422);
      expect(await res.text()).toContain(
        'Dropbox is not configured on this appliance yet: the operator sets HOLDFAST_DROPBOX_APP_KEY and HOLDFAST_DROPBOX_APP_SECRET.',
      );
      expect(await bare.kernel.orm.em.fork().count(BackupTask, {})).toBe(0);
    } finally {
      await bare.close();
    }
  });
});
