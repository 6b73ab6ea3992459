// Dropbox backups through the kernel's backup jobs against the stand-in: first and incremental
// runs (downloads counted at the stand-in), content reused by content_hash, deletions, the
// cursor reset fallback, team folders with authors, throttling and server errors, a file that
// keeps failing, and a revoked authorization.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
  it('finds active and suspended members and active team folders; removed ones are not listed', async () => {
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
    expect(found.map((e) => [e.name, e.kind])).toEqual([
      ['Legal', 'team_folder'],
      ['admin@acme.example', 'member'],
      ['kim@acme.example', 'member'],
      ['sus@acme.example', 'member'],
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
