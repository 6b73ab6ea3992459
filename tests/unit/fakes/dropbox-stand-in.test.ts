// The Dropbox stand-in driven through the real `dropbox` SDK: OAuth (PKCE, refresh, revoke),
// team members and team folders with paging, list_folder cursors over the change log (changes
// only, deleted entries, reset), downloads with Dropbox-API-Result, uploads and upload sessions,
// conflicts as 409 route errors, Select-User, Path-Root, and injected 429s and 5xx.
import { createHash, randomBytes } from 'node:crypto';
import { Dropbox, DropboxAuth, DropboxResponseError, readerUpload, uploadFile } from 'dropbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contentHash, FakeDropbox, sdkOptions } from '../../fakes/dropbox/index.ts';
import type { Member, TeamFolder } from '../../fakes/dropbox/model.ts';

let fake: FakeDropbox;
let admin: Member;
let ann: Member;
let team: TeamFolder;

function client(options: { selectUser?: string; selectAdmin?: string; pathRoot?: string } = {}): Dropbox {
  const { refreshToken } = fake.grant();
  const auth = new DropboxAuth({
    clientId: fake.appKey,
    clientSecret: fake.appSecret,
    refreshToken,
    ...sdkOptions(fake.url),
  });
  return new Dropbox({ auth, ...options });
}

async function routeError(promise: Promise<unknown>): Promise<{ status: number; error: unknown }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof DropboxResponseError)) throw new Error(`expected a DropboxResponseError, got ${String(err)}`);
  return { status: err.status, error: err.error };
}

beforeAll(async () => {
  fake = await new FakeDropbox({ teamName: 'Acme' }).start();
  admin = fake.team.addMember({ email: 'admin@acme.example', givenName: 'Ada', surname: 'Admin', role: 'team_admin' });
  ann = fake.team.addMember({ email: 'ann@acme.example', givenName: 'Ann', surname: 'Lee' });
  fake.team.addMember({ email: 'sam@acme.example', status: 'suspended' });
  fake.team.addMember({ email: 'rex@acme.example', status: 'removed' });
  team = fake.team.addTeamFolder('Finance');
});
afterAll(async () => {
  await fake.stop();
});

describe('content_hash', () => {
  it('hashes 4 MiB blocks, then the concatenated block hashes', () => {
    const data = randomBytes(4 * 1024 * 1024 + 10);
    const blocks = [data.subarray(0, 4 * 1024 * 1024), data.subarray(4 * 1024 * 1024)].map((b) =>
      createHash('sha256').update(b).digest(),
    );
    expect(contentHash(data)).toBe(createHash('sha256').update(Buffer.concat(blocks)).digest('hex'));
    expect(contentHash(Buffer.alloc(0))).toBe(createHash('sha256').digest('hex'));
  });
});

describe('OAuth', () => {
  it('runs the code flow with PKCE through the SDK, refreshes, and revokes', async () => {
    const verifier = randomBytes(48).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const authorize = new URL(`${fake.url}/oauth2/authorize`);
    for (const [k, v] of Object.entries({
      client_id: fake.appKey,
      response_type: 'code',
      redirect_uri: 'http://127.0.0.1:9/callback',
      state: 's-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      token_access_type: 'offline',
    }))
      authorize.searchParams.set(k, v);
    const redirect = await fetch(authorize, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    const back = new URL(redirect.headers.get('location') as string);
    expect(`${back.origin}${back.pathname}`).toBe('http://127.0.0.1:9/callback');
    expect(back.searchParams.get('state')).toBe('s-1');

    // A public client (no secret) must send the verifier: the SDK does when it has one.
    const pkce = new DropboxAuth({ clientId: fake.appKey, ...sdkOptions(fake.url) });
    pkce.setCodeVerifier('wrong');
    const wrong = await routeError(
      pkce.getAccessTokenFromCode('http://127.0.0.1:9/callback', back.searchParams.get('code') as string),
    );
    expect(wrong).toEqual({
      status: 400,
      error: { error: 'invalid_grant', error_description: 'invalid code verifier' },
    });

    const redirect2 = await fetch(authorize, { redirect: 'manual' });
    const code = new URL(redirect2.headers.get('location') as string).searchParams.get('code') as string;
    pkce.setCodeVerifier(verifier);
    const tokens = (await pkce.getAccessTokenFromCode('http://127.0.0.1:9/callback', code)).result as Record<
      string,
      unknown
    >;
    expect(Object.keys(tokens).sort()).toEqual([
      'access_token',
      'expires_in',
      'refresh_token',
      'scope',
      'team_id',
      'token_type',
    ]);
    expect(tokens.team_id).toBe(fake.team.id);
    const reused = await routeError(pkce.getAccessTokenFromCode('http://127.0.0.1:9/callback', code));
    expect(reused.error).toEqual({ error: 'invalid_grant', error_description: "code doesn't exist or has expired" });

    const auth = new DropboxAuth({
      clientId: fake.appKey,
      clientSecret: fake.appSecret,
      refreshToken: tokens.refresh_token as string,
      ...sdkOptions(fake.url),
    });
    const dbx = new Dropbox({ auth });
    expect((await dbx.teamGetInfo()).result.name).toBe('Acme');
    expect((await dbx.teamTokenGetAuthenticatedAdmin()).result.admin_profile.email).toBe('admin@acme.example');
    await dbx.authTokenRevoke();
    expect(await routeError(dbx.teamGetInfo())).toEqual({
      status: 401,
      error: { error_summary: 'invalid_access_token/..', error: { '.tag': 'invalid_access_token' } },
    });
    // The refresh token went with it.
    const again = await routeError(auth.refreshAccessToken());
    expect(again).toEqual({
      status: 400,
      error: { error: 'invalid_grant', error_description: 'refresh token is invalid or revoked' },
    });
  });

  it('answers expired_access_token once a token expired', async () => {
    const dbx = client();
    await dbx.teamGetInfo();
    fake.oauth.expireAccessTokens();
    const err = await routeError(dbx.teamGetInfo());
    expect(err.status).toBe(401);
    expect((err.error as { error: unknown }).error).toEqual({ '.tag': 'expired_access_token' });
  });
});

describe('team', () => {
  it('lists members with paging, removed ones only when asked, and team folders', async () => {
    const dbx = client();
    const first = (await dbx.teamMembersList({ limit: 2 })).result;
    expect(first.members.map((m) => m.profile.email)).toEqual(['admin@acme.example', 'ann@acme.example']);
    expect(first.has_more).toBe(true);
    const rest = (await dbx.teamMembersListContinue({ cursor: first.cursor })).result;
    expect(rest.members.map((m) => [m.profile.email, m.profile.status['.tag']])).toEqual([
      ['sam@acme.example', 'suspended'],
    ]);
    expect(rest.has_more).toBe(false);
    const all = (await dbx.teamMembersList({ include_removed: true })).result;
    expect(all.members.map((m) => m.profile.status['.tag'])).toEqual(['active', 'active', 'suspended', 'removed']);
    expect(all.members[1]?.profile.name.display_name).toBe('Ann Lee');
    const folders = (await dbx.teamTeamFolderList({})).result;
    expect(folders.team_folders.map((f) => [f.name, f.team_folder_id, f.status['.tag']])).toEqual([
      ['Finance', team.id, 'active'],
    ]);
    const bad = await routeError(dbx.teamMembersListContinue({ cursor: 'nonsense' }));
    expect(bad.error).toEqual({ error_summary: 'invalid_cursor/..', error: { '.tag': 'invalid_cursor' } });
  });
});

describe('files', () => {
  it('needs Select-User with a team token and refuses suspended or removed members', async () => {
    const noUser = await routeError(client().filesListFolder({ path: '' }));
    expect(noUser.status).toBe(400);
    expect(String(noUser.error)).toContain('Dropbox-API-Select-User');
    const suspended = fake.team.members[2] as Member;
    expect(
      (await routeError(client({ selectUser: suspended.teamMemberId }).filesListFolder({ path: '' }))).error,
    ).toEqual({
      error_summary: 'user_suspended/..',
      error: { '.tag': 'user_suspended' },
    });
    const removed = fake.team.members[3] as Member;
    expect((await routeError(client({ selectUser: removed.teamMemberId }).filesListFolder({ path: '' }))).status).toBe(
      401,
    );
  });

  it('lists recursively in pages, then returns only changes, with deleted entries', async () => {
    const ns = ann.namespace;
    ns.writeFile('/Docs/Plan.txt', Buffer.from('plan v1'));
    ns.writeFile('/Docs/Sub/Deep.md', Buffer.from('deep'));
    ns.writeFile('/Top.txt', Buffer.from('top'));
    ns.mkdir('/Empty');
    const dbx = client({ selectUser: ann.teamMemberId });
    const seen: string[] = [];
    let page = (await dbx.filesListFolder({ path: '', recursive: true, limit: 2 })).result;
    seen.push(...page.entries.map((e) => `${e['.tag']}:${e.path_display}`));
    while (page.has_more) {
      page = (await dbx.filesListFolderContinue({ cursor: page.cursor })).result;
      seen.push(...page.entries.map((e) => `${e['.tag']}:${e.path_display}`));
    }
    expect(seen).toEqual([
      'folder:/Docs',
      'file:/Docs/Plan.txt',
      'folder:/Docs/Sub',
      'file:/Docs/Sub/Deep.md',
      'folder:/Empty',
      'file:/Top.txt',
    ]);
    const unchanged = (await dbx.filesListFolderContinue({ cursor: page.cursor })).result;
    expect(unchanged.entries).toEqual([]);

    ns.writeFile('/docs/plan.txt', Buffer.from('plan v2'), { mode: 'overwrite' });
    ns.remove('/Docs/Sub');
    ns.writeFile('/New.txt', Buffer.from('new'));
    // The cursor keeps the listing's limit (2): the third change comes on the next page.
    const changes = (await dbx.filesListFolderContinue({ cursor: unchanged.cursor })).result;
    expect(changes.has_more).toBe(true);
    const next = (await dbx.filesListFolderContinue({ cursor: changes.cursor })).result;
    expect([...changes.entries, ...next.entries].map((e) => `${e['.tag']}:${e.path_display}`)).toEqual([
      'file:/Docs/Plan.txt',
      'deleted:/Docs/Sub',
      'file:/New.txt',
    ]);
    const plan = changes.entries[0] as { content_hash: string; size: number; rev: string };
    expect(plan.content_hash).toBe(contentHash(Buffer.from('plan v2')));
    expect(plan.size).toBe(7);

    fake.invalidateCursors();
    expect((await routeError(dbx.filesListFolderContinue({ cursor: next.cursor }))).error).toEqual({
      error_summary: 'reset/..',
      error: { '.tag': 'reset' },
    });
  });

  it('downloads with the metadata in Dropbox-API-Result, counting downloads per path', async () => {
    ann.namespace.writeFile('/Ünïcödé 😀.txt', Buffer.from('emoji'));
    const dbx = client({ selectUser: ann.teamMemberId });
    const before = fake.downloadCount('/ünïcödé 😀.txt');
    const got = (await dbx.filesDownload({ path: '/ünïcödé 😀.TXT' })).result as unknown as {
      name: string;
      fileBinary: Buffer;
    };
    expect(got.name).toBe('Ünïcödé 😀.txt');
    expect(got.fileBinary.toString()).toBe('emoji');
    expect(fake.downloadCount('/ünïcödé 😀.txt')).toBe(before + 1);
    expect((await routeError(dbx.filesDownload({ path: '/missing.txt' }))).error).toEqual({
      error_summary: 'path/not_found/..',
      error: { '.tag': 'path', path: { '.tag': 'not_found' } },
    });
    fake.failPath('/top.txt', { times: 1 });
    expect((await routeError(dbx.filesDownload({ path: '/Top.txt' }))).error).toEqual({
      error_summary: 'path/restricted_content/..',
      error: { '.tag': 'path', path: { '.tag': 'restricted_content' } },
    });
    expect(
      (
        (await dbx.filesDownload({ path: '/Top.txt' })).result as unknown as { fileBinary: Buffer }
      ).fileBinary.toString(),
    ).toBe('top');
  });

  it('uploads (with the SDK content_hash), answers conflicts, autorenames, and keeps identical content', async () => {
    const dbx = client({ selectUser: ann.teamMemberId });
    const meta = (
      await dbx.filesUpload({
        path: '/Up/A.txt',
        contents: Buffer.from('one'),
        client_modified: '2020-01-02T03:04:05Z',
      })
    ).result;
    expect([meta.path_display, meta.client_modified, meta.content_hash]).toEqual([
      '/Up/A.txt',
      '2020-01-02T03:04:05Z',
      contentHash(Buffer.from('one')),
    ]);
    const conflict = await routeError(dbx.filesUpload({ path: '/up/a.txt', contents: Buffer.from('two') }));
    expect(conflict.error).toEqual({
      error_summary: 'path/conflict/file/..',
      error: { '.tag': 'path', reason: { '.tag': 'conflict', conflict: { '.tag': 'file' } }, upload_session_id: '' },
    });
    const renamed = (await dbx.filesUpload({ path: '/up/a.txt', contents: Buffer.from('two'), autorename: true }))
      .result;
    expect(renamed.path_display).toBe('/Up/a (1).txt');
    const same = (await dbx.filesUpload({ path: '/Up/A.txt', contents: Buffer.from('one') })).result;
    expect(same.rev).toBe(meta.rev);
    const mismatch = await routeError(
      dbx.filesUpload({ path: '/Up/B.txt', contents: Buffer.from('x'), content_hash: contentHash(Buffer.from('y')) }),
    );
    expect(mismatch.error).toEqual({
      error_summary: 'content_hash_mismatch/..',
      error: { '.tag': 'content_hash_mismatch' },
    });
    const folder = (await dbx.filesCreateFolderV2({ path: '/Up/New Folder' })).result.metadata;
    expect(folder.path_display).toBe('/Up/New Folder');
    expect((await routeError(dbx.filesCreateFolderV2({ path: '/up/new folder' }))).error).toEqual({
      error_summary: 'path/conflict/folder/..',
      error: { '.tag': 'path', path: { '.tag': 'conflict', conflict: { '.tag': 'folder' } } },
    });
    expect((await dbx.filesGetMetadata({ path: '/UP/NEW FOLDER' })).result.name).toBe('New Folder');
  });

  it('assembles upload sessions (the SDK uploader) and checks offsets', async () => {
    const dbx = client({ selectUser: ann.teamMemberId });
    const data = randomBytes(3 * 1024 * 1024 + 5);
    async function* chunks() {
      for (let at = 0; at < data.byteLength; at += 1024 * 1024) yield data.subarray(at, at + 1024 * 1024);
    }
    fake.resetCounters();
    const { metadata } = await uploadFile(
      dbx,
      readerUpload(chunks()),
      { path: '/Big/big.bin' },
      { chunkSize: 1024 * 1024 },
    );
    expect([metadata.size, metadata.content_hash]).toEqual([data.byteLength, contentHash(data)]);
    expect(fake.requests.get('files/upload_session/append_v2')).toBe(3);
    const start = (await dbx.filesUploadSessionStart({ contents: Buffer.from('abc') })).result;
    const wrong = await routeError(
      dbx.filesUploadSessionAppendV2({
        cursor: { session_id: start.session_id, offset: 1 },
        contents: Buffer.from('d'),
      }),
    );
    expect(wrong.error).toEqual({
      error_summary: 'incorrect_offset/..',
      error: { '.tag': 'incorrect_offset', correct_offset: 3 },
    });
  });

  it('reaches a team folder as an admin through Dropbox-API-Path-Root, with modified_by', async () => {
    team.namespace.writeFile('/Q1/report.xlsx', Buffer.from('numbers'), { modifiedBy: ann.accountId });
    const adminId = admin.teamMemberId;
    const dbx = client({
      selectAdmin: adminId,
      pathRoot: JSON.stringify({ '.tag': 'namespace_id', namespace_id: team.id }),
    });
    const list = (await dbx.filesListFolder({ path: '', recursive: true })).result;
    expect(list.entries.map((e) => e.path_display)).toEqual(['/Q1', '/Q1/report.xlsx']);
    const file = list.entries[1] as { sharing_info?: { modified_by?: string } };
    expect(file.sharing_info?.modified_by).toBe(ann.accountId);
    const notAdmin = client({ selectAdmin: ann.teamMemberId });
    expect((await routeError(notAdmin.filesListFolder({ path: '' }))).error).toEqual({
      error_summary: 'invalid_select_admin/..',
      error: { '.tag': 'invalid_select_admin' },
    });
  });
});

describe('moves, deletes and names', () => {
  it('deletes a file or a folder with delete_v2, and list_folder/continue reports it deleted', async () => {
    const dbx = client({ selectUser: ann.teamMemberId });
    await dbx.filesUpload({ path: '/Gone/one.txt', contents: 'one' });
    await dbx.filesUpload({ path: '/Gone/two.txt', contents: 'two' });
    await dbx.filesUpload({ path: '/single.txt', contents: 'single' });
    const { result: first } = await dbx.filesListFolder({ path: '', recursive: true });
    const file = await dbx.filesDeleteV2({ path: '/SINGLE.txt' });
    expect(file.result.metadata).toMatchObject({ '.tag': 'file', path_display: '/single.txt' });
    const folder = await dbx.filesDeleteV2({ path: '/gone' });
    expect(folder.result.metadata).toMatchObject({ '.tag': 'folder', path_display: '/Gone' });
    const { result } = await dbx.filesListFolderContinue({ cursor: first.cursor });
    expect(result.entries.map((e) => [e['.tag'], e.path_lower])).toEqual([
      ['deleted', '/single.txt'],
      ['deleted', '/gone'],
    ]);
    const missing = await routeError(dbx.filesDeleteV2({ path: '/single.txt' }));
    expect(missing.status).toBe(409);
    expect(missing.error).toMatchObject({ error: { '.tag': 'path_lookup', path_lookup: { '.tag': 'not_found' } } });
  });

  it('moves with move_v2 keeping ids, reported as deleted plus the entries at their new paths', async () => {
    const dbx = client({ selectUser: ann.teamMemberId });
    const a = await dbx.filesUpload({ path: '/Src/Inner/a.txt', contents: 'a' });
    const { result: first } = await dbx.filesListFolder({ path: '', recursive: true });
    const moved = await dbx.filesMoveV2({ from_path: '/src', to_path: '/Archive/2026/Src moved' });
    expect(moved.result.metadata).toMatchObject({ '.tag': 'folder', path_display: '/Archive/2026/Src moved' });
    const { result } = await dbx.filesListFolderContinue({ cursor: first.cursor });
    const entries = result.entries.map((e) => [e['.tag'], e.path_display]);
    expect(entries).toContainEqual(['deleted', '/Src']);
    expect(entries).toContainEqual(['file', '/Archive/2026/Src moved/Inner/a.txt']);
    const after = await dbx.filesGetMetadata({ path: '/archive/2026/src moved/inner/a.txt' });
    expect((after.result as { id: string }).id).toBe(a.result.id);
    expect((after.result as { rev: string }).rev).toBe(a.result.rev);

    // A case-only rename keeps path_lower: only the new spelling is reported.
    const { result: before } = await dbx.filesListFolder({ path: '', recursive: true });
    await dbx.filesMoveV2({
      from_path: '/Archive/2026/Src moved/Inner/a.txt',
      to_path: '/Archive/2026/Src moved/Inner/A.TXT',
    });
    const { result: renamed } = await dbx.filesListFolderContinue({ cursor: before.cursor });
    expect(renamed.entries.map((e) => [e['.tag'], e.path_display])).toEqual([
      ['file', '/Archive/2026/Src moved/Inner/A.TXT'],
    ]);

    await dbx.filesUpload({ path: '/taken.txt', contents: 'taken' });
    await dbx.filesUpload({ path: '/mover.txt', contents: 'mover' });
    const conflict = await routeError(dbx.filesMoveV2({ from_path: '/mover.txt', to_path: '/TAKEN.txt' }));
    expect(conflict.error).toMatchObject({
      error: { '.tag': 'to', to: { '.tag': 'conflict', conflict: { '.tag': 'file' } } },
    });
    const auto = await dbx.filesMoveV2({ from_path: '/mover.txt', to_path: '/taken.txt', autorename: true });
    expect(auto.result.metadata.path_display).toBe('/taken (1).txt');
    const into = await routeError(dbx.filesMoveV2({ from_path: '/Archive', to_path: '/Archive/inside' }));
    expect(into.error).toMatchObject({ error: { '.tag': 'cant_move_folder_into_itself' } });
    const gone = await routeError(dbx.filesMoveV2({ from_path: '/nothing.txt', to_path: '/x.txt' }));
    expect(gone.error).toMatchObject({ error: { '.tag': 'from_lookup', from_lookup: { '.tag': 'not_found' } } });
  });

  it('refuses the names Dropbox refuses, and keeps NFC and NFD spellings apart', async () => {
    const dbx = client({ selectUser: ann.teamMemberId });
    for (const path of [
      '/back\\slash.txt',
      '/trailing space ',
      '/trailing dot.',
      `/${'x'.repeat(256)}`,
      '/dir. /a.txt',
    ]) {
      const refused = await routeError(dbx.filesUpload({ path, contents: 'x' }));
      expect({ path, status: refused.status, error: refused.error }).toMatchObject({
        path,
        status: 409,
        error: { error: { '.tag': 'path', reason: { '.tag': 'malformed_path' } } },
      });
    }
    const system = await routeError(dbx.filesUpload({ path: '/Thumbs.db', contents: 'x' }));
    expect(system.error).toMatchObject({ error: { '.tag': 'path', reason: { '.tag': 'disallowed_name' } } });
    const folder = await routeError(dbx.filesCreateFolderV2({ path: '/ends with space ' }));
    expect(folder.error).toMatchObject({ error: { '.tag': 'path', path: { '.tag': 'malformed_path' } } });
    await dbx.filesUpload({ path: '/ok.txt', contents: 'x' });
    const move = await routeError(dbx.filesMoveV2({ from_path: '/ok.txt', to_path: '/ok.txt.' }));
    expect(move.error).toMatchObject({ error: { '.tag': 'to', to: { '.tag': 'malformed_path' } } });

    const nfc = await dbx.filesUpload({ path: '/caf\u00e9.txt', contents: 'nfc' });
    const nfd = await dbx.filesUpload({ path: '/cafe\u0301.txt', contents: 'nfd' });
    expect(nfc.result.id).not.toBe(nfd.result.id);
    expect(nfd.result.path_display).toBe('/cafe\u0301.txt');
    const leading = await dbx.filesUpload({ path: '/ leading space.txt', contents: 'x' });
    expect(leading.result.name).toBe(' leading space.txt');
  });
});

describe('faults', () => {
  it('answers 429 with Retry-After and the rate-limit body, and 5xx, at the configured rate', async () => {
    const dbx = client();
    fake.faults.rateLimitRate = 1;
    fake.faults.retryAfterSeconds = 7;
    const limited = await routeError(dbx.teamGetInfo());
    const err = (await dbx.teamGetInfo().catch((e: unknown) => e)) as DropboxResponseError<unknown>;
    expect(limited).toEqual({
      status: 429,
      error: {
        error_summary: 'too_many_requests/..',
        error: { reason: { '.tag': 'too_many_requests' }, retry_after: 7 },
      },
    });
    expect((err.headers as unknown as Headers).get('retry-after')).toBe('7');
    fake.faults.rateLimitRate = 0;
    fake.faults.failNext = 1;
    expect((await routeError(dbx.teamGetInfo())).status).toBe(503);
    expect((await dbx.teamGetInfo()).result.name).toBe('Acme');
    fake.faults.serverErrorRate = 0.5;
    const statuses: number[] = [];
    for (let i = 0; i < 40; i++)
      statuses.push(
        await dbx.teamGetInfo().then(
          () => 200,
          (e: DropboxResponseError<unknown>) => e.status,
        ),
      );
    fake.faults.serverErrorRate = 0;
    expect(statuses.filter((s) => s !== 200).every((s) => s === 500 || s === 503)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(5);
    expect(statuses.filter((s) => s !== 200).length).toBeGreaterThan(5);
  });
});
