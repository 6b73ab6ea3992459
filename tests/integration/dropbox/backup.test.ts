// Dropbox backups through the kernel's backup jobs against the stand-in: first and incremental
// runs (downloads counted at the stand-in), content reused by content_hash, deletions, the
// cursor reset fallback, team folders with authors, throttling and server errors, a file that
// keeps failing, a revoked authorization, and finding what was backed up through the catalog.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ItemQuery, searchEntityItems } from '../../../core/catalog/browse.ts';
import { BackupTask, TaskEntity } from '../../../core/tasks/entities.ts';
import type { Member } from '../../fakes/dropbox/index.ts';
import {
  backup,
  createDropboxHarness,
  type DropboxHarness,
  discover,
  dropboxTask,
  entity,
  snapshotFiles,
} from '../../helpers/dropbox.ts';

let d: DropboxHarness;
beforeAll(async () => {
  d = await createDropboxHarness();
});
afterAll(async () => {
  await d.close();
});

function member(email: string): Member {
  return d.fake.team.addMember({ email, givenName: email.split('@')[0] as string, surname: 'Test' });
}

describe('discovery', () => {
  it('finds active members and team folders, suspended members as unavailable; removed ones are not listed', async () => {
    member('kim@acme.example');
    d.fake.team.addMember({ email: 'sus@acme.example', status: 'suspended' });
    d.fake.team.addMember({ email: 'gone@acme.example', status: 'removed' });
    d.fake.team.addMember({ email: 'new@acme.example', status: 'invited' });
    d.fake.team.addTeamFolder('Legal');
    d.fake.team.addTeamFolder('Old', 'archived');
    const task = await dropboxTask(d);
    const report = await discover(d, task.id);
    expect(report.found).toBe(4);
    const found = await d.h.em().find(TaskEntity, { task: task.id }, { orderBy: { name: 'asc' } });
    expect(found.map((e) => [e.name, e.kind, e.status, e.unavailableReason])).toEqual([
      ['Legal', 'team_folder', 'scheduled', null],
      ['admin@acme.example', 'member', 'scheduled', null],
      ['kim@acme.example', 'member', 'scheduled', null],
      [
        'sus@acme.example',
        'member',
        'unavailable',
        'Suspended at Dropbox: their files cannot be read until reactivated.',
      ],
    ]);
    const stored = await d.h.em().findOneOrFail(BackupTask, { id: task.id });
    expect(stored.connectionState).toBe('connected');
  });
});

describe('member backups', () => {
  it('downloads everything first, then only what changed; reuses content by content_hash; records deletions', async () => {
    const ann = member('ann@acme.example');
    const ns = ann.namespace;
    for (let i = 0; i < 40; i++) ns.writeFile(`/Projects/P${i % 4}/file-${i}.txt`, Buffer.from(`content ${i}`));
    ns.writeFile('/Big/video.bin', Buffer.alloc(3 * 1024 * 1024 + 17, 7));
    ns.mkdir('/Empty Folder');
    const task = await dropboxTask(d);
    await discover(d, task.id);
    d.fake.resetCounters();
    const [first] = await backup(d, task.id, ['ann@acme.example']);
    expect(first?.state).toBe('succeeded');
    expect(d.fake.downloadCount()).toBe(41);
    const files1 = await snapshotFiles(d, task.id, 'ann@acme.example');
    expect(files1.get('/projects/p1/file-5.txt')).toMatchObject({
      kind: 'file',
      content: 'content 5',
      meta: { name: 'file-5.txt', path: '/Projects/P1/file-5.txt', size: 9, author: 'ann@acme.example' },
    });
    expect(files1.get('/empty folder')).toEqual({
      kind: 'folder',
      meta: expect.objectContaining({ path: '/Empty Folder' }),
      content: '',
    });
    expect(files1.get('/big/video.bin')?.content.length).toBe(3 * 1024 * 1024 + 17);

    // Changes: two edits, one new file, a copy of existing content, a deleted folder, a deleted file.
    ns.writeFile('/Projects/P0/file-0.txt', Buffer.from('edited 0'), { mode: 'overwrite' });
    ns.writeFile('/Projects/P1/file-1.txt', Buffer.from('edited 1'), { mode: 'overwrite' });
    ns.writeFile('/New/new.txt', Buffer.from('brand new'));
    ns.writeFile('/Copies/copy-of-7.txt', Buffer.from('content 7'));
    ns.remove('/Projects/P3');
    ns.remove('/Projects/P2/file-2.txt');
    d.fake.resetCounters();
    const [second] = await backup(d, task.id, ['ann@acme.example']);
    expect(second?.state).toBe('succeeded');
    expect([...d.fake.downloads.keys()].map((k) => k.split(':')[1]).sort()).toEqual([
      '/new/new.txt',
      '/projects/p0/file-0.txt',
      '/projects/p1/file-1.txt',
    ]);
    expect(d.fake.requests.get('files/list_folder')).toBeUndefined();
    const files2 = await snapshotFiles(d, task.id, 'ann@acme.example');
    expect(files2.get('/projects/p0/file-0.txt')?.content).toBe('edited 0');
    expect(files2.get('/copies/copy-of-7.txt')?.content).toBe('content 7');
    expect([...files2.keys()].filter((k) => k.startsWith('/projects/p3'))).toEqual([]);
    expect(files2.has('/projects/p2/file-2.txt')).toBe(false);
    expect(files2.get('/projects/p2/file-6.txt')?.content).toBe('content 6');
    const e = await entity(d, task.id, 'ann@acme.example');
    expect([e.lastAdded, e.lastUpdated, e.lastDeleted, e.status]).toEqual([4, 2, 12, 'success']);
    // P3 held 10 files and the folder itself; plus file-2.
  });
});

describe('cursor reset', () => {
  it('lists everything again when Dropbox resets the cursor, downloading only changed files and deleting what is gone', async () => {
    const bo = member('bo@acme.example');
    for (let i = 0; i < 10; i++) bo.namespace.writeFile(`/Docs/d${i}.txt`, Buffer.from(`doc ${i}`));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    await backup(d, task.id, ['bo@acme.example']);
    d.fake.invalidateCursors();
    bo.namespace.writeFile('/Docs/d3.txt', Buffer.from('doc 3 changed'), { mode: 'overwrite' });
    bo.namespace.remove('/Docs/d4.txt');
    d.fake.resetCounters();
    const [job] = await backup(d, task.id, ['bo@acme.example']);
    expect(job?.state).toBe('succeeded');
    expect(d.fake.requests.get('files/list_folder')).toBe(1);
    expect([...d.fake.downloads.keys()].map((k) => k.split(':')[1])).toEqual(['/docs/d3.txt']);
    const files = await snapshotFiles(d, task.id, 'bo@acme.example');
    expect(files.get('/docs/d3.txt')?.content).toBe('doc 3 changed');
    expect(files.has('/docs/d4.txt')).toBe(false);
    expect([...files.keys()].filter((k) => k.startsWith('/docs/')).length).toBe(9);
    // The next run continues from the new cursor.
    d.fake.resetCounters();
    await backup(d, task.id, ['bo@acme.example']);
    expect([d.fake.requests.get('files/list_folder'), d.fake.downloadCount()]).toEqual([undefined, 0]);
  });
});

describe('team folders', () => {
  it('backs up a team folder as the connecting admin, with who modified each file as author', async () => {
    const cy = member('cy@acme.example');
    const folder = d.fake.team.addTeamFolder('Finance');
    folder.namespace.writeFile('/2024/Q1.xlsx', Buffer.from('q1'), { modifiedBy: cy.accountId });
    folder.namespace.writeFile('/2024/Q2.xlsx', Buffer.from('q2'), { modifiedBy: d.admin.accountId });
    const task = await dropboxTask(d);
    await discover(d, task.id);
    const [job] = await backup(d, task.id, ['Finance']);
    expect(job?.state).toBe('succeeded');
    const files = await snapshotFiles(d, task.id, 'Finance');
    expect([...files].map(([k, v]) => [k, v.kind, v.meta.author ?? null, v.content])).toEqual([
      ['/2024', 'folder', null, ''],
      ['/2024/q1.xlsx', 'file', 'cy@acme.example', 'q1'],
      ['/2024/q2.xlsx', 'file', 'admin@acme.example', 'q2'],
    ]);
  });

  it('finds backed-up files by words, author, file name and date range (the catalog of the Recovery search)', async () => {
    const eve = member('eve.auditor@acme.example');
    const folder = d.fake.team.addTeamFolder('Legal Department');
    const at = (day: string) => ({
      serverModified: `2026-0${day}T10:00:00Z`,
      clientModified: `2026-0${day}T09:00:00Z`,
    });
    folder.namespace.writeFile('/Contracts/Supplier agreement.pdf', Buffer.from('a'), {
      modifiedBy: eve.accountId,
      ...at('3-02'),
    });
    folder.namespace.writeFile('/Contracts/Lease agreement.pdf', Buffer.from('b'), {
      modifiedBy: d.admin.accountId,
      ...at('5-10'),
    });
    folder.namespace.writeFile('/Minutes/Board minutes.docx', Buffer.from('c'), {
      modifiedBy: eve.accountId,
      ...at('6-20'),
    });
    const task = await dropboxTask(d);
    await discover(d, task.id);
    const [job] = await backup(d, task.id, ['Legal Department']);
    expect(job?.state).toBe('succeeded');
    const legal = await entity(d, task.id, 'Legal Department');
    const search = async (query: ItemQuery) =>
      (await searchEntityItems(d.h.em(), { task: task.id, entity: legal.externalId }, query)).map((h) => h.path).sort();
    expect(await search({ text: 'agreement' })).toEqual([
      '/Contracts/Lease agreement.pdf',
      '/Contracts/Supplier agreement.pdf',
    ]);
    expect(await search({ text: 'supplier agree' })).toEqual(['/Contracts/Supplier agreement.pdf']);
    expect(await search({ contains: { author: 'eve.auditor' } })).toEqual([
      '/Contracts/Supplier agreement.pdf',
      '/Minutes/Board minutes.docx',
    ]);
    // Folders are items too: the folder of the same name is found with its file.
    expect(await search({ contains: { name: 'minutes' } })).toEqual(['/Minutes', '/Minutes/Board minutes.docx']);
    expect(
      await search({ modifiedFrom: new Date('2026-04-01T00:00:00Z'), modifiedTo: new Date('2026-05-31T23:59:59Z') }),
    ).toEqual(['/Contracts/Lease agreement.pdf']);
  });
});

describe('failures', () => {
  it('completes through random 429s and 5xx with nothing failed', async () => {
    const di = member('di@acme.example');
    for (let i = 0; i < 60; i++) di.namespace.writeFile(`/F/f${i}.txt`, Buffer.from(`f ${i}`));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    d.fake.resetCounters();
    d.fake.faults.rateLimitRate = 0.15;
    d.fake.faults.serverErrorRate = 0.1;
    try {
      const [job] = await backup(d, task.id, ['di@acme.example']);
      expect(job?.state).toBe('succeeded');
      expect(d.fake.injected.rateLimited).toBeGreaterThan(3);
      expect(d.fake.injected.serverErrors).toBeGreaterThan(3);
      di.namespace.writeFile('/F/f1.txt', Buffer.from('changed'), { mode: 'overwrite' });
      const [again] = await backup(d, task.id, ['di@acme.example']);
      expect(again?.state).toBe('succeeded');
    } finally {
      d.fake.faults.rateLimitRate = 0;
      d.fake.faults.serverErrorRate = 0;
    }
    const files = await snapshotFiles(d, task.id, 'di@acme.example');
    expect([...files.keys()].filter((k) => k.startsWith('/f/')).length).toBe(60);
    expect(files.get('/f/f1.txt')?.content).toBe('changed');
  });

  it('reports a file that keeps failing (the entity is Partial, the file named) and reads it again next run', async () => {
    const ed = member('ed@acme.example');
    ed.namespace.writeFile('/ok.txt', Buffer.from('fine'));
    ed.namespace.writeFile('/Locked/blocked.pdf', Buffer.from('blocked'));
    ed.namespace.writeFile('/flaky.bin', Buffer.from('flaky'));
    d.fake.failPath('/locked/blocked.pdf');
    d.fake.failPath('/flaky.bin', { status: 500 });
    const task = await dropboxTask(d);
    await discover(d, task.id);
    const [job] = await backup(d, task.id, ['ed@acme.example']);
    expect(job?.state).toBe('partially_succeeded');
    expect(job?.result).toMatchObject({ failedItems: 2 });
    const e = await entity(d, task.id, 'ed@acme.example');
    expect(e.status).toBe('partial');
    expect(e.lastError).toMatch(
      /^2 item\(s\) could not be read: \/(Locked\/blocked\.pdf: Dropbox answered path\/restricted_content|flaky\.bin: Dropbox answered 500 repeatedly)/,
    );
    const files = await snapshotFiles(d, task.id, 'ed@acme.example');
    expect([...files.keys()]).toEqual(['/locked', '/ok.txt']);

    d.fake.failPath('/locked/blocked.pdf', { times: 0 });
    d.fake.failPath('/flaky.bin', { times: 0 });
    d.fake.resetCounters();
    const [next] = await backup(d, task.id, ['ed@acme.example']);
    expect(next?.state).toBe('succeeded');
    expect(d.fake.downloadCount()).toBe(2);
    const after = await snapshotFiles(d, task.id, 'ed@acme.example');
    expect(after.get('/locked/blocked.pdf')?.content).toBe('blocked');
    expect(after.get('/flaky.bin')?.content).toBe('flaky');
    expect((await entity(d, task.id, 'ed@acme.example')).status).toBe('success');
  });

  it('marks the task Disconnected when the authorization is revoked, keeping the snapshots', async () => {
    const fi = member('fi@acme.example');
    fi.namespace.writeFile('/keep.txt', Buffer.from('keep'));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    await backup(d, task.id, ['fi@acme.example']);
    const before = await entity(d, task.id, 'fi@acme.example');
    // The admin unlinks the app at Dropbox: the task's refresh token stops working.
    const sealed = await d.h.em().findOneOrFail(BackupTask, { id: task.id });
    const { openConnectionSettings } = await import('../../../core/tasks/connection.ts');
    const settings = openConnectionSettings(d.h.ctx.credentials, sealed) as { refreshToken: string };
    d.fake.oauth.revokeRefreshToken(settings.refreshToken);
    fi.namespace.writeFile('/more.txt', Buffer.from('more'));
    const [job] = await backup(d, task.id, ['fi@acme.example']);
    expect(job?.state).toBe('failed');
    const stored = await d.h.em().findOneOrFail(BackupTask, { id: task.id });
    expect(stored.connectionState).toBe('disconnected');
    expect(stored.connectionProblem).toBe(
      "Dropbox no longer accepts this task's authorization (it was revoked or expired): reconnect the backup task to Dropbox.",
    );
    const after = await entity(d, task.id, 'fi@acme.example');
    expect(after.lastSnapshotId).toBe(before.lastSnapshotId);
    expect((await snapshotFiles(d, task.id, 'fi@acme.example')).get('/keep.txt')?.content).toBe('keep');
  });

  it('treats 401s on API calls after connecting as Disconnected too', async () => {
    const gu = member('gu@acme.example');
    gu.namespace.writeFile('/a.txt', Buffer.from('a'));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    await backup(d, task.id, ['gu@acme.example']);
    // Every access token Dropbox hands out is already expired: connect works, each API call answers 401.
    const sealed = await d.h.em().findOneOrFail(BackupTask, { id: task.id });
    const { openConnectionSettings } = await import('../../../core/tasks/connection.ts');
    const settings = openConnectionSettings(d.h.ctx.credentials, sealed) as { refreshToken: string };
    const original = d.fake.oauth.accessTokenTtlSeconds;
    d.fake.oauth.accessTokenTtlSeconds = -10;
    try {
      const [job] = await backup(d, task.id, ['gu@acme.example']);
      expect(job?.state).toBe('failed');
    } finally {
      d.fake.oauth.accessTokenTtlSeconds = original;
    }
    const stored = await d.h.em().findOneOrFail(BackupTask, { id: task.id });
    expect([stored.connectionState, stored.connectionProblem]).toEqual([
      'disconnected',
      "Dropbox refused the task's access token (expired_access_token): reconnect the backup task to Dropbox.",
    ]);
    expect(settings.refreshToken.length).toBeGreaterThan(10);
  });
});
