// A repository object kept open between jobs (a job worker's backups) is brought up to date by
// `refresh`: it reads the index files another process wrote since (their blobs are then reused,
// not stored again), starts its counters again, and refuses — so the pool opens afresh — when an
// index file it read is gone (the index was rewritten) or it is not idle. The pool keeps one per
// key, closes one past its age, and closes one given back busy. Trees an object stored are read
// back from it, not from the store.
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RepositoryPool } from '../../../core/storage-locations/repository-pool.ts';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { backupDirectory } from '../../../storage/filesystem.ts';
import { RepositoryLock, withLock } from '../../../storage/locks.ts';
import { rebuildIndex } from '../../../storage/rebuild-index.ts';
import { Repository } from '../../../storage/repository.ts';
import { snapshotItems } from '../../../storage/snapshot-state.ts';
import { PASSPHRASE, SMALL } from '../../helpers/repository.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'holdfast-refresh-'));
  dirs.push(d);
  return d;
}

/** A folder of 20 files of random bytes (past the size stored inline: each is its own blobs). */
function source(base: string, name: string): string {
  const dir = join(base, name);
  mkdirSync(dir);
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, `f${i}.bin`), randomBytes(40_000));
  return dir;
}

async function backup(repo: Repository, dir: string): Promise<string> {
  const { id } = await withLock(
    repo.sink,
    'shared',
    { purpose: 'test' },
    () => backupDirectory(repo, dir, { task: 't', entity: dir }),
    repo,
  );
  return id;
}

async function setup() {
  const base = temp();
  const sink = new LocalSink({ path: join(base, 'repo') });
  const first = await Repository.init(sink, { passphrase: PASSPHRASE, ...SMALL });
  first.close();
  const open = () => Repository.open(sink, { passphrase: PASSPHRASE });
  return { base, sink, open };
}

describe('Repository.refresh', () => {
  it('reads the index files written elsewhere since, so their blobs are reused, and counts from zero again', async () => {
    const { base, open } = await setup();
    const kept = await open();
    await backup(kept, source(base, 'a'));
    expect(kept.stats.blobsAdded).toBeGreaterThan(0);

    // Not refreshed, an object that loaded its index before stores folder b's blobs again.
    const stale = await open();
    await stale.loadIndex();
    // Another process backs up folder b meanwhile.
    const other = await open();
    const b = source(base, 'b');
    await backup(other, b);
    other.close();

    expect(await kept.refresh()).toBe(true);
    expect(kept.stats).toEqual({
      blobsAdded: 0,
      blobsReused: 0,
      rawBytesAdded: 0,
      packsWritten: 0,
      bytesUploaded: 0,
      bytesRead: 0,
    });
    // Folder b again through the kept object: every blob is known, none is stored twice.
    await backup(kept, b);
    expect([kept.stats.blobsAdded, kept.stats.packsWritten]).toEqual([0, 0]);
    kept.close();
    await backup(stale, b);
    expect(stale.stats.blobsAdded).toBeGreaterThanOrEqual(20);
    stale.close();
  });

  it('refuses when the index was rewritten (an index file it read is gone) or while it is busy', async () => {
    const { base, sink, open } = await setup();
    const kept = await open();
    await backup(kept, source(base, 'a'));

    const lock = await RepositoryLock.acquire(sink, 'shared', { purpose: 'test' });
    kept.holdLock(lock);
    expect(await kept.refresh()).toBe(false);
    kept.holdLock(undefined);
    await lock.release();
    expect(await kept.refresh()).toBe(true);

    const rebuilder = await open();
    await withLock(sink, 'exclusive', { purpose: 'rebuild' }, () => rebuildIndex(rebuilder), rebuilder);
    rebuilder.close();
    expect(await kept.refresh()).toBe(false);
    kept.close();
  });
});

describe('RepositoryPool', () => {
  it('gives the kept object back brought up to date, opens afresh past its age, and closes one given back busy', async () => {
    const { base, sink, open } = await setup();
    let now = 1_000;
    const pool = new RepositoryPool({ idleMs: 60_000, maxAgeMs: 10_000, now: () => now });
    const repo = await open();
    await backup(repo, source(base, 'a'));
    await pool.give('k', { repo, sink, openedAt: now });
    expect(pool.size).toBe(1);
    expect(await pool.take('other key')).toBeUndefined();
    const taken = await pool.take('k');
    expect(taken?.repo).toBe(repo);
    expect(pool.size).toBe(0);

    // Past its age: closed, not reused.
    await pool.give('k', { repo, sink, openedAt: now });
    now += 10_000;
    expect(await pool.take('k')).toBeUndefined();

    // Given back while it holds a lock (a job that stopped half-way): closed at once.
    const busy = await open();
    const lock = await RepositoryLock.acquire(sink, 'shared', { purpose: 'test' });
    busy.holdLock(lock);
    await pool.give('k', { repo: busy, sink, openedAt: now });
    expect(pool.size).toBe(0);
    await lock.release();
    await pool.closeAll();
  });
});

describe('trees a repository object stored', () => {
  it('are read back from the object, not the store; another object reads them from the store', async () => {
    const sinkPath = join(temp(), 'repo');
    const reads: string[] = [];
    /** The sink, with every read of a pack recorded. */
    const counted = (sink: LocalSink) =>
      new Proxy(sink, {
        get(target, prop) {
          const value = Reflect.get(target, prop, target);
          if (prop !== 'get' || typeof value !== 'function')
            return typeof value === 'function' ? value.bind(target) : value;
          return (key: string, range?: unknown) => {
            if (key.startsWith('data/')) reads.push(key);
            return value.call(target, key, range);
          };
        },
      });
    const repo = await Repository.init(counted(new LocalSink({ path: sinkPath })), {
      passphrase: PASSPHRASE,
      ...SMALL,
    });
    const id = await backup(repo, source(temp(), 'src'));
    const manifest = await repo.loadSnapshot(id);
    const listed = async (r: Repository) => {
      const keys: string[] = [];
      for await (const item of snapshotItems(r, manifest)) keys.push(item.key);
      return keys;
    };
    const items = await listed(repo);
    expect(items).toHaveLength(20);
    expect(reads).toEqual([]);

    const other = await Repository.open(counted(new LocalSink({ path: sinkPath })), { passphrase: PASSPHRASE });
    expect(await listed(other)).toEqual(items);
    expect(reads.length).toBeGreaterThan(0);
    repo.close();
    other.close();
  });
});
