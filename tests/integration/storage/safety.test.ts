// Failure paths that must never cost a committed snapshot: a failed pack upload, an init that
// failed halfway, a damaged key object, a lost lock, and restores that try to leave their folder.

import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { restoreSnapshot } from '../../../storage/filesystem.ts';
import { RepositoryLock } from '../../../storage/locks.ts';
import { Repository } from '../../../storage/repository.ts';
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

  it('a lost lock stops the commit', async () => {
    t = await createTestRepo();
    const lock = await RepositoryLock.acquire(t.sink, 'shared', { purpose: 'backup' });
    t.repo.commitGuard = () => lock.assertHeld();
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
