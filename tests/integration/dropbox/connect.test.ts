// Connecting Dropbox: the OAuth helpers the add-task flow calls (authorization URL with PKCE,
// code exchange) against the stand-in, the connection check, and the plugin's registration.
import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { servicePlugin } from '../../../core/plugins/registry.ts';
import { ServiceAuthError } from '../../../core/plugins/service.ts';
import { createDropboxPlugin, type DropboxSettings } from '../../../plugins/services/dropbox/index.ts';
import { FakeDropbox } from '../../fakes/dropbox/index.ts';
import { createJobsHarness, type JobsHarness } from '../../helpers/jobs.ts';

let fake: FakeDropbox;
let h: JobsHarness;
const log = { info: () => undefined, debug: () => undefined, warn: () => undefined } as never;
const REDIRECT = 'http://127.0.0.1:9/tasks/oauth/callback?x=1';

beforeAll(async () => {
  fake = await new FakeDropbox({ teamName: 'Globex' }).start();
  fake.team.addMember({ email: 'boss@globex.example', role: 'team_admin' });
  h = await createJobsHarness({
    HOLDFAST_DROPBOX_APP_KEY: fake.appKey,
    HOLDFAST_DROPBOX_APP_SECRET: fake.appSecret,
    HOLDFAST_DROPBOX_API_BASE: fake.url,
  });
});
afterAll(async () => {
  await h.close();
  await fake.stop();
});

async function approve(url: string): Promise<URL> {
  const res = await fetch(url, { redirect: 'manual' });
  expect(res.status).toBe(302);
  return new URL(res.headers.get('location') as string);
}

describe('the Dropbox plugin', () => {
  it('is built in, with member and team folder entities, incremental snapshots and the oauth section', () => {
    const plugin = servicePlugin('dropbox');
    expect(plugin?.label).toBe('Dropbox');
    expect(plugin?.entityKinds).toEqual([
      { kind: 'member', label: 'Team members' },
      { kind: 'team_folder', label: 'Team folders' },
    ]);
    expect(plugin?.snapshots).toEqual({ mode: 'incremental' });
    expect(plugin?.secretSettings).toEqual(['refreshToken']);
    expect(plugin?.searchFields.map((f) => f.name)).toEqual(['name', 'path', 'author', 'modified']);
    expect(typeof plugin?.oauth?.exchangeCode).toBe('function');
  });

  it('runs the code flow with PKCE: authorization URL, approval, code exchange → settings that connect', async () => {
    const plugin = servicePlugin('dropbox');
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const url = plugin?.oauth?.authorizationUrl({
      redirectUri: REDIRECT,
      state: 'st-9',
      codeChallenge: challenge,
    }) as string;
    const parsed = new URL(url);
    expect(`${parsed.origin}${parsed.pathname}`).toBe(`${fake.url}/oauth2/authorize`);
    expect(Object.fromEntries(parsed.searchParams)).toMatchObject({
      client_id: fake.appKey,
      response_type: 'code',
      redirect_uri: REDIRECT,
      state: 'st-9',
      code_challenge_method: 'S256',
      token_access_type: 'offline',
    });
    expect(parsed.searchParams.get('scope')?.split(' ')).toContain('team_data.member');
    const back = await approve(url);
    expect(back.searchParams.get('state')).toBe('st-9');
    const code = back.searchParams.get('code') as string;

    const wrong = await plugin?.oauth
      ?.exchangeCode(
        { code, redirectUri: REDIRECT, codeVerifier: 'not-it' },
        { signal: AbortSignal.timeout(5000), log },
      )
      .catch((e: unknown) => e);
    expect(wrong).toBeInstanceOf(ServiceAuthError);
    expect((wrong as Error).message).toBe(
      'Dropbox did not accept the authorization (invalid code verifier): connect again.',
    );

    const code2 = (await approve(url)).searchParams.get('code') as string;
    const settings = (await plugin?.oauth?.exchangeCode(
      { code: code2, redirectUri: REDIRECT, codeVerifier: verifier },
      { signal: AbortSignal.timeout(5000), log },
    )) as DropboxSettings;
    expect([settings.teamId, settings.teamName]).toEqual([fake.team.id, 'Globex']);
    expect(fake.oauth.refreshTokens.has(settings.refreshToken)).toBe(true);

    const connection = await plugin?.connect(settings as never, { signal: AbortSignal.timeout(5000), log });
    expect(await connection?.check(AbortSignal.timeout(5000))).toEqual({ ok: true, account: 'Globex' });
    fake.oauth.revokeAll();
    expect(await connection?.check(AbortSignal.timeout(5000))).toEqual({
      ok: false,
      reason: "Dropbox refused the task's access token (invalid_access_token): reconnect the backup task to Dropbox.",
    });
    const refused = await plugin
      ?.connect(settings as never, { signal: AbortSignal.timeout(5000), log })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ServiceAuthError);
  });

  it('says what to configure when the appliance has no Dropbox app', async () => {
    const bare = createDropboxPlugin({});
    const err = await bare
      .connect({ refreshToken: 'r', teamId: 't', teamName: '' }, { signal: AbortSignal.timeout(1000), log })
      .catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      'Dropbox is not set up on this appliance: the operator sets HOLDFAST_DROPBOX_APP_KEY and HOLDFAST_DROPBOX_APP_SECRET.',
    );
    expect(() => bare.oauth?.authorizationUrl({ redirectUri: REDIRECT, state: 's', codeChallenge: 'c' })).toThrow(
      'Dropbox is not set up on this appliance',
    );
  });
});
