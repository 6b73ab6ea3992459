// A blob with a good copy anywhere in the repository is readable, whatever order the index files
// are loaded in: a Repository object that found a blob damaged stores a fresh copy, and every
// later process reads that copy (and verify and prune keep it) even when the damaged copy's
// location is the one its blob index holds — another index file's, a pack trailer's, or one in a
// pack that is missing or truncated.

import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GetOptions, ObjectInfo, Sink } from '../../../core/plugins/sink.ts';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { IntegrityError } from '../../../storage/crypto.ts';
import { backupDirectory, restoreSnapshot } from '../../../storage/filesystem.ts';
import { withLock } from '../../../storage/locks.ts';
import { pruneRepository } from '../../../storage/prune.ts';
import { Repository } from '../../../storage/repository.ts';
import { findItem } from '../../../storage/tree.ts';
import { verifyRepository } from '../../../storage/verify.ts';
import { damageBlob, openLocal } from '../../helpers/damage.ts';
import { PASSPHRASE, SMALL } from '../../helpers/repository.ts';
import { describeTree } from '../../helpers/source-tree.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

interface Copies {
  base: string;
  src: string;
  sinkPath: string;
  snapshot: string;
  blob: string;
  plain: Buffer;
  damagedPack: string;
  freshPack: string;
  /** The index file naming the fresh copy's pack (written by the object that found the damage). */
  freshIndex: string;
}

/**
 * A backup of a folder; then one content blob damaged in its pack, and a fresh copy of it stored
 * in a pack of its own by a Repository object that found the damage (as a later backup does).
 */
async function damagedWithFreshCopy(): Promise<Copies> {
  const base = mkdtempSync(join(tmpdir(), 'holdfast-blob-copies-'));
  dirs.push(base);
  const src = join(base, 'src');
  mkdirSync(src);
  writeFileSync(join(src, 'data.bin'), randomBytes(40_000));
  writeFileSync(join(src, 'other.bin'), randomBytes(300_000));
  const sinkPath = join(base, 'repo');
  const sink = new LocalSink({ path: sinkPath });
  const repo = await Repository.init(sink, { passphrase: PASSPHRASE, ...SMALL });
  const { id: snapshot } = await withLock(
    sink,
    'shared',
    { purpose: 'test' },
    () => backupDirectory(repo, src, { task: 't', entity: 'src' }),
    repo,
  );
  repo.close();

  const reader = await openLocal(sinkPath);
  const item = await findItem(reader, (await reader.loadSnapshot(snapshot)).tree, 'data.bin');
  const blob = item?.content?.[0] as string;
  const plain = await reader.readBlob(blob);
  await reader.loadIndex();
  const damagedPack = reader.locate(blob)?.pack as string;
  reader.close();
  await damageBlob(sinkPath, blob);

  const finder = await openLocal(sinkPath);
  await expect(finder.readBlob(blob)).rejects.toThrow(IntegrityError);
  expect((await finder.saveBlob('data', plain)).added).toBe(true);
  await finder.flush();
  const freshPack = finder.locate(blob)?.pack as string;
  const freshIndex = finder.indexFilesWritten[0] as string;
  finder.close();
  expect(freshPack).not.toBe(damagedPack);
  return { base, src, sinkPath, snapshot, blob, plain, damagedPack, freshPack, freshIndex };
}

type Order = 'fresh copy listed first' | 'fresh copy listed last';
const ORDERS: Order[] = ['fresh copy listed first', 'fresh copy listed last'];

/**
 * The repository's local sink, listing the index file that names the fresh copy first or last
 * (index files are loaded in listing order, and their names are random), and recording the
 * packs read.
 */
function orderedSink(c: Copies, order: Order, packsRead: string[] = []): Sink {
  const inner = new LocalSink({ path: c.sinkPath });
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'list')
        return async function* (prefix: string): AsyncIterable<ObjectInfo> {
          const all: ObjectInfo[] = [];
          for await (const info of target.list(prefix)) all.push(info);
          if (prefix === 'index/') {
            const rest = all.filter((i) => i.key !== c.freshIndex);
            const fresh = all.filter((i) => i.key === c.freshIndex);
            yield* order === 'fresh copy listed first' ? [...fresh, ...rest] : [...rest, ...fresh];
          } else yield* all;
        };
      if (prop === 'get')
        return (key: string, options?: GetOptions) => {
          if (key.startsWith('data/')) packsRead.push(key.slice(key.lastIndexOf('/') + 1));
          return target.get(key, options);
        };
      const value = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

const packPath = (c: Copies, pack: string) => join(c.sinkPath, 'data', pack.slice(0, 2), pack);
const open = (sink: Sink) => Repository.open(sink, { passphrase: PASSPHRASE }, { onWarning: () => undefined });

describe('a damaged blob with a good copy elsewhere', () => {
  for (const order of ORDERS) {
    it(`is read from the good copy, and then straight from it (${order})`, { timeout: 120_000 }, async () => {
      const c = await damagedWithFreshCopy();
      const packsRead: string[] = [];
      const repo = await open(orderedSink(c, order, packsRead));
      expect((await repo.readBlob(c.blob)).equals(c.plain)).toBe(true);
      expect(repo.locate(c.blob)?.pack).toBe(c.freshPack);
      packsRead.length = 0;
      expect((await repo.readBlob(c.blob)).equals(c.plain)).toBe(true);
      expect(packsRead).toEqual([c.freshPack]);

      const target = join(c.base, 'restored');
      const result = await restoreSnapshot(await open(orderedSink(c, order)), c.snapshot, target);
      expect(result.failed).toEqual([]);
      expect(describeTree(target)).toEqual(describeTree(c.src));
    });

    it(`is read from the good copy when the damaged copy's pack is missing or truncated (${order})`, {
      timeout: 120_000,
    }, async () => {
      const c = await damagedWithFreshCopy();
      truncateSync(packPath(c, c.damagedPack), 1000);
      expect((await (await open(orderedSink(c, order))).readBlob(c.blob)).equals(c.plain)).toBe(true);
      rmSync(packPath(c, c.damagedPack));
      expect((await (await open(orderedSink(c, order))).readBlob(c.blob)).equals(c.plain)).toBe(true);
    });

    it(`is not reported lost by verify, which names the damaged copy and the good one (${order})`, {
      timeout: 120_000,
    }, async () => {
      const c = await damagedWithFreshCopy();
      const report = await verifyRepository(await open(orderedSink(c, order)), { readDataPercent: 100 });
      expect(report.problems).toEqual([
        {
          object: `blob ${c.blob}`,
          message: expect.stringMatching(
            new RegExp(
              `^in pack ${c.damagedPack}: .*failed authentication.*; a good copy in pack ${c.freshPack} is used`,
            ),
          ),
        },
      ]);
    });

    it(`is kept by prune, which drops no pack holding the only good copy (${order})`, {
      timeout: 120_000,
    }, async () => {
      const c = await damagedWithFreshCopy();
      const repo = await open(orderedSink(c, order));
      await withLock(repo.sink, 'exclusive', { purpose: 'prune' }, () => pruneRepository(repo, { graceMs: 0 }), repo);
      expect(() => readFileSync(packPath(c, c.freshPack))).not.toThrow();
      const target = join(c.base, 'restored');
      const result = await restoreSnapshot(await open(orderedSink(c, order)), c.snapshot, target);
      expect(result.failed).toEqual([]);
      expect(describeTree(target)).toEqual(describeTree(c.src));
    });
  }

  it('is read from a pack that no index file names, through its trailer', { timeout: 120_000 }, async () => {
    const c = await damagedWithFreshCopy();
    rmSync(join(c.sinkPath, c.freshIndex));
    const repo = await open(new LocalSink({ path: c.sinkPath }));
    expect((await repo.readBlob(c.blob)).equals(c.plain)).toBe(true);
    expect(repo.locate(c.blob)?.pack).toBe(c.freshPack);
  });

  it('without a good copy, reading it fails naming the damaged copy', { timeout: 120_000 }, async () => {
    const c = await damagedWithFreshCopy();
    rmSync(join(c.sinkPath, c.freshIndex));
    rmSync(packPath(c, c.freshPack));
    const repo = await open(new LocalSink({ path: c.sinkPath }));
    await expect(repo.readBlob(c.blob)).rejects.toThrow(
      new RegExp(`blob ${c.blob} in pack ${c.damagedPack} failed authentication`),
    );
    // Asked again (a restore reads a damaged group blob by blob), it fails the same way.
    await expect(repo.readBlob(c.blob)).rejects.toThrow(IntegrityError);
  });
});
