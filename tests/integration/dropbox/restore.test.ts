// Backup → restore round trips through the plugin against the stand-in: awkward names (unicode,
// emoji, case-only differences, 255-byte names), empty folders and 0-byte files come back exactly;
// non-destructive restores go into a "Restored <date>" folder, in-place restores never overwrite
// (a changed file gets a suffixed copy, an identical one is skipped); restores to another member;
// large files go up through upload sessions.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  backup,
  createDropboxHarness,
  type DropboxHarness,
  discover,
  dropboxTask,
  entity,
  LONG_NAME,
  restore,
  seedAwkwardNames,
  tree,
} from '../../helpers/dropbox.ts';

let d: DropboxHarness;
beforeAll(async () => {
  d = await createDropboxHarness(7);
});
afterAll(async () => {
  await d.close();
});

const RESTORED_AT = '2026-03-01T14:05:09.000Z';

describe('restore', () => {
  it('brings names, empty folders and 0-byte files back exactly into a "Restored <date>" folder', async () => {
    expect(Buffer.byteLength(LONG_NAME)).toBe(255);
    const m = seedAwkwardNames(d.fake, 'una@acme.example');
    const original = tree(m.namespace);
    const task = await dropboxTask(d);
    await discover(d, task.id);
    const [job] = await backup(d, task.id, ['una@acme.example']);
    expect(job?.state).toBe('succeeded');
    const outcome = await restore(d, task.id, 'una@acme.example', { mode: 'non_destructive', restoredAt: RESTORED_AT });
    expect(outcome).toEqual({ restored: original.size, skipped: 0 });
    const restored = tree(m.namespace, '/Restored 2026-03-01 14.05 UTC');
    expect(restored).toEqual(original);
    // Modified times come back as client_modified.
    const src = m.namespace.get('/Reports/Q1.TXT');
    const copy = m.namespace.get('/Restored 2026-03-01 14.05 UTC/Reports/Q1.TXT');
    expect(copy?.tag === 'file' && src?.tag === 'file' && copy.clientModified === src.clientModified).toBe(true);

    // A second restore at the same time gets its own folder.
    const again = await restore(d, task.id, 'una@acme.example', { restoredAt: RESTORED_AT });
    expect(again.restored).toBe(original.size);
    expect(tree(m.namespace, '/Restored 2026-03-01 14.05 UTC (1)')).toEqual(original);
  });

  it('restores in place without overwriting: changed files get a suffixed copy, identical ones are skipped', async () => {
    const m = d.fake.team.addMember({ email: 'vic@acme.example' });
    const ns = m.namespace;
    ns.writeFile('/Plans/a.txt', Buffer.from('a v1'));
    ns.writeFile('/Plans/b.txt', Buffer.from('b v1'));
    ns.writeFile('/Plans/c.txt', Buffer.from('c v1'));
    const task = await dropboxTask(d);
    await discover(d, task.id);
    await backup(d, task.id, ['vic@acme.example']);
    ns.writeFile('/Plans/a.txt', Buffer.from('a v2'), { mode: 'overwrite' });
    ns.remove('/Plans/c.txt');
    const outcome = await restore(d, task.id, 'vic@acme.example', { mode: 'in_place' });
    // Folder /Plans exists (skipped), b identical (skipped), a changed (copy), c gone (restored).
    expect(outcome).toEqual({ restored: 2, skipped: 2 });
    expect(tree(ns)).toEqual(
      new Map([
        ['/Plans', '/'],
        ['/Plans/a (1).txt', 'a v1'],
        ['/Plans/a.txt', 'a v2'],
        ['/Plans/b.txt', 'b v1'],
        ['/Plans/c.txt', 'c v1'],
      ]),
    );
  });

  it('restores selected items to another member and a team folder', async () => {
    const from = d.fake.team.addMember({ email: 'wes@acme.example' });
    from.namespace.writeFile('/Keep/one.txt', Buffer.from('one'));
    from.namespace.writeFile('/Skip/two.txt', Buffer.from('two'));
    const to = d.fake.team.addMember({ email: 'xia@acme.example' });
    const folder = d.fake.team.addTeamFolder('Shared Restore');
    const task = await dropboxTask(d);
    await discover(d, task.id);
    await backup(d, task.id, ['wes@acme.example']);
    const target = await entity(d, task.id, 'xia@acme.example');
    const onlyKeep = (key: string) => key.startsWith('/keep');
    const toMember = await restore(
      d,
      task.id,
      'wes@acme.example',
      { mode: 'in_place' },
      { externalId: target.externalId, name: target.name, kind: target.kind },
      onlyKeep,
    );
    expect(toMember).toEqual({ restored: 2, skipped: 0 });
    expect(tree(to.namespace)).toEqual(
      new Map([
        ['/Keep', '/'],
        ['/Keep/one.txt', 'one'],
      ]),
    );
    const tf = await entity(d, task.id, 'Shared Restore');
    const toFolder = await restore(
      d,
      task.id,
      'wes@acme.example',
      { mode: 'non_destructive', restoredAt: RESTORED_AT },
      { externalId: tf.externalId, name: tf.name, kind: tf.kind },
      onlyKeep,
    );
    expect(toFolder).toEqual({ restored: 2, skipped: 0 });
    expect(tree(folder.namespace)).toEqual(
      new Map([
        ['/Restored 2026-03-01 14.05 UTC', '/'],
        ['/Restored 2026-03-01 14.05 UTC/Keep', '/'],
        ['/Restored 2026-03-01 14.05 UTC/Keep/one.txt', 'one'],
      ]),
    );
  });

  it('streams a large file in and uploads it back through an upload session', async () => {
    const m = d.fake.team.addMember({ email: 'yan@acme.example' });
    const big = Buffer.alloc(9 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    m.namespace.writeFile('/Media/big.mov', big);
    const task = await dropboxTask(d);
    await discover(d, task.id);
    const [job] = await backup(d, task.id, ['yan@acme.example']);
    expect(job?.state).toBe('succeeded');
    d.fake.resetCounters();
    const outcome = await restore(d, task.id, 'yan@acme.example', { restoredAt: RESTORED_AT });
    expect(outcome).toEqual({ restored: 2, skipped: 0 });
    expect(d.fake.requests.get('files/upload')).toBeUndefined();
    expect(d.fake.requests.get('files/upload_session/start')).toBe(1);
    expect(d.fake.requests.get('files/upload_session/finish')).toBe(1);
    const back = m.namespace.get('/Restored 2026-03-01 14.05 UTC/Media/big.mov');
    expect(back?.tag === 'file' && back.content.equals(big)).toBe(true);
  });
});
