// Failure paths that must never cost a committed snapshot: a failed pack upload, an init that
// failed halfway, a damaged key object, a backup without a lock or with a lost one, and restores that try to leave their folder.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { backupDirectory, restoreSnapshot } from '../../../storage/filesystem.ts';
import { RepositoryLock, withLock } from '../../../storage/locks.ts';
import { LockRequiredError, Repository } from '../../../storage/repository.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { FaultySink } from '../../conformance/faulty-sink.ts';
import { createTestRepo, PASSPHRASE, readAll, SMALL, type TestRepo } from '../../helpers/repository.ts';

let t: TestRepo | undefined;
const dirs: string[] = [];
afterEach(() => {
  t?.cleanup();
  t = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('storage failure paths', () => {
  it('a failed pack upload poisons the repository object; a reopened one stores and restores', async () => {
    t = await createTestRepo();
    const faulty = new FaultySink(t.sink, (key, attempt) =>
      key.startsWith('data/') && attempt === 1 ? { kind: 'fail-before' } : undefined,
    );
    const repo = await Repository.open(faulty, { passphrase: PASSPHRASE });
    const body = randomBytes(3 * 1024 * 1024);
    const backUp = async () => {
      const w = new SnapshotWriter(repo, { task: 't', entity: 'e' });
      await w.add({ key: 'f', kind: 'file' }, body);
      await w.commit();
    };
    await expect(backUp()).rejects.toThrow(/injected fault/);
    // The same object refuses to commit anything that could refer to the lost blobs.
    await expect(backUp()).rejects.toThrow(/injected fault/);
    expect(await repo.listSnapshots()).toEqual([]);

    const fresh = await t.reopen();
    const w3 = new SnapshotWriter(fresh, { task: 't', entity: 'e' });
    await w3.add({ key: 'f', kind: 'file' }, body);
    const { id } = await w3.commit();
    const reader = await SnapshotReader.open(await t.reopen(), id);
    expect((await readAll(reader.content((await reader.item('f')) as never))).equals(body)).toBe(true);
  });

  it('an init that failed halfway leaves a location a second init can use', async () => {
    const root = mkdtempSync(join(tmpdir(), 'holdfast-init-'));
    dirs.push(root);
    const sink = new LocalSink({ path: root });
    const faulty = new FaultySink(sink, (key, attempt) =>
      key === 'config' && attempt === 1 ? { kind: 'fail-before' } : undefined,
    );
    await expect(Repository.init(faulty, { passphrase: PASSPHRASE })).rejects.toThrow(/injected fault/);
    const repo = await Repository.init(faulty, { passphrase: PASSPHRASE, ...SMALL });
    expect((await Repository.open(sink, { passphrase: PASSPHRASE })).id).toBe(repo.id);
  });

  it('a damaged or foreign key object does not keep the right passphrase out', async () => {
    t = await createTestRepo();
    await t.sink.put('keys/0000-damaged', Buffer.from('not an OpenPGP message'));
    expect((await t.reopen()).id).toBe(t.repo.id);
  });

  it('a backup is committed only under a repository lock', async () => {
    t = await createTestRepo();
    const unlocked = await Repository.open(t.sink, { passphrase: PASSPHRASE });
    const w = new SnapshotWriter(unlocked, { task: 't', entity: 'e' });
    await w.add({ key: 'a', kind: 'record' }, Buffer.from('x'));
    await expect(w.commit()).rejects.toThrow(LockRequiredError);
    const source = mkdtempSync(join(tmpdir(), 'holdfast-unlocked-'));
    dirs.push(source);
    await expect(backupDirectory(unlocked, source, { task: 't', entity: 'dir' })).rejects.toThrow(
      /only under a shared or exclusive repository lock/,
    );
    // A lock of another repository does not count.
    const other = await createTestRepo();
    dirs.push(other.root);
    expect(() => unlocked.holdLock(other.lock)).toThrow(LockRequiredError);
    await other.lock.release();
    // Under a lock (as the CLI takes one) the same backup commits, and the lock is let go after.
    const id = await withLock(
      t.sink,
      'shared',
      { purpose: 'backup' },
      async () => (await backupDirectory(unlocked, source, { task: 't', entity: 'dir' })).id,
      unlocked,
    );
    expect((await unlocked.listSnapshots()).map((s) => s.id)).toEqual([id]);
    const again = new SnapshotWriter(unlocked, { task: 't', entity: 'e' });
    await expect(again.commit()).rejects.toThrow(LockRequiredError);
    expect(await unlocked.listSnapshots()).toHaveLength(1);
  });

  it('a lost lock stops the commit', async () => {
    t = await createTestRepo();
    const lock = await RepositoryLock.acquire(t.sink, 'shared', { purpose: 'backup' });
    t.repo.holdLock(lock);
    await t.sink.delete(lock.key); // another process judged it stale
    await lock.refresh();
    const w = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    await w.add({ key: 'a', kind: 'record' }, Buffer.from('x'));
    await expect(w.commit()).rejects.toThrow(/lock .* was lost: another process removed it as stale/);
    await lock.release();
  });

  it('restore never writes outside its folder, even through a restored symlink', async () => {
    t = await createTestRepo();
    const outside = mkdtempSync(join(tmpdir(), 'holdfast-outside-'));
    dirs.push(outside);
    const w = new SnapshotWriter(t.repo, { task: 't', entity: 'e' });
    await w.add({ key: 'link', kind: 'symlink', meta: { target: outside, mode: 0o777, mtimeMs: 0 } });
    await w.add({ key: 'link/', kind: 'folder', meta: { mode: 0o777, mtimeMs: 0 } });
    await w.add({ key: 'link/x', kind: 'file' }, Buffer.from('escaped'));
    const { id } = await w.commit();
    const target = join(t.root, 'restore');
    await expect(restoreSnapshot(t.repo, id, target)).rejects.toThrow(/refusing to restore "link\/" outside/);
    expect(existsSync(join(outside, 'x'))).toBe(false);
    await expect(restoreSnapshot(t.repo, id, target)).rejects.toThrow(/is not empty/);
  });
});
