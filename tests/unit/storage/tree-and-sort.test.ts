import { randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ExternalSorter } from '../../../storage/external-sort.ts';
import { findItem, TreeBuilder, TreeNodeCache, treeItems, treeNodeIds } from '../../../storage/tree.ts';
import { createTestRepo, type TestRepo } from '../../helpers/repository.ts';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe('external sorter', () => {
  it('sorts more records than its memory budget through spilled runs, keeping insertion order on ties, and cleans up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sort-test-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const sorter = new ExternalSorter<{ key: string; n: number }>({ memoryBytes: 20_000, tmpDir: dir });
    const input = Array.from({ length: 5000 }, (_, n) => ({
      key: `k${randomInt(1000).toString().padStart(4, '0')}`,
      n,
    }));
    for (const r of input) await sorter.add(r);
    expect(sorter.spilledRuns).toBeGreaterThan(3);
    const out: { key: string; n: number }[] = [];
    for await (const r of sorter.sorted()) out.push(r);
    const expected = [...input].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.n - b.n));
    expect(out).toEqual(expected);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('returns input given in key order through spilled runs, values crossing read pieces intact', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sort-test-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const sorter = new ExternalSorter<{ key: string; text: string }>({ memoryBytes: 100_000, tmpDir: dir });
    // Values of odd lengths with multi-byte characters, some longer than a run file's read piece (256 KiB).
    const input = Array.from({ length: 40 }, (_, n) => ({
      key: `k${String(n).padStart(3, '0')}`,
      text: `é${'ü€'.repeat(n % 7 === 0 ? 70_000 + n : 1_000 + n * 37)}`,
    }));
    for (const r of input) await sorter.add(r);
    expect(sorter.spilledRuns).toBeGreaterThan(3);
    const out: { key: string; text: string }[] = [];
    for await (const r of sorter.sorted()) out.push(r);
    expect(out).toEqual(input);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('sorts in memory when it fits', async () => {
    const sorter = new ExternalSorter<{ key: string }>();
    for (const key of ['b', 'c', 'a']) await sorter.add({ key });
    const out: string[] = [];
    for await (const r of sorter.sorted()) out.push(r.key);
    expect(out).toEqual(['a', 'b', 'c']);
    expect(sorter.spilledRuns).toBe(0);
  });
});

describe('item trees', () => {
  let t: TestRepo;
  afterEach(() => t?.cleanup());

  async function build(keys: string[]): Promise<string> {
    const b = new TreeBuilder(t.repo);
    for (const key of keys)
      await b.add({ key, kind: 'record', size: key.length, inline: Buffer.from(key).toString('base64') });
    return b.finish();
  }

  it('stores an empty tree and a large one, iterates in order, seeks and finds', async () => {
    t = await createTestRepo();
    const empty = await build([]);
    const none: string[] = [];
    for await (const i of treeItems(t.repo, empty)) none.push(i.key);
    expect(none).toEqual([]);

    const keys = Array.from({ length: 20_000 }, (_, i) => `rec-${String(i).padStart(6, '0')}`);
    const root = await build(keys);
    const seen: string[] = [];
    for await (const i of treeItems(t.repo, root)) seen.push(i.key);
    expect(seen).toEqual(keys);
    const fromMiddle: string[] = [];
    for await (const i of treeItems(t.repo, root, 'rec-012345')) fromMiddle.push(i.key);
    expect(fromMiddle).toEqual(keys.slice(12345));
    expect((await findItem(t.repo, root, 'rec-019999'))?.size).toBe(10);
    expect(await findItem(t.repo, root, 'rec-5')).toBeUndefined();
    let nodes = 0;
    for await (const _ of treeNodeIds(t.repo, root)) nodes++;
    expect(nodes).toBeGreaterThan(20_000 / 2048);
  });

  it('rewrites only the nodes on the path of a change', async () => {
    t = await createTestRepo();
    const keys = Array.from({ length: 20_000 }, (_, i) => `rec-${String(i).padStart(6, '0')}`);
    await build(keys);
    const before = t.repo.stats.blobsAdded;
    await build(keys.map((k) => (k === 'rec-010000' ? 'rec-010000x' : k)));
    expect(t.repo.stats.blobsAdded - before).toBeLessThanOrEqual(4);
  });

  it('finds keys in any order through a node cache, reading each node on their paths once', async () => {
    t = await createTestRepo();
    const keys = Array.from({ length: 20_000 }, (_, i) => `rec-${String(i).padStart(6, '0')}`);
    const root = await build(keys);
    const wanted = ['rec-019999', 'rec-000001', 'rec-019998', 'rec-010000', 'rec-000002', 'rec-5'];
    const reads: string[] = [];
    const readBlob = t.repo.readBlob.bind(t.repo);
    t.repo.readBlob = (id: string) => {
      reads.push(id);
      return readBlob(id);
    };
    const cache = new TreeNodeCache();
    const found = [];
    for (const key of wanted) found.push((await findItem(t.repo, root, key, cache))?.key);
    expect(found).toEqual(['rec-019999', 'rec-000001', 'rec-019998', 'rec-010000', 'rec-000002', undefined]);
    // Every node read once: the root and the inner nodes every path shares are not read again.
    expect(new Set(reads).size).toBe(reads.length);
    const uncached = reads.length;
    reads.length = 0;
    for (const key of wanted) await findItem(t.repo, root, key);
    expect(reads.length).toBeGreaterThan(uncached);
  });

  it('refuses keys out of order', async () => {
    t = await createTestRepo();
    await expect(build(['b', 'a'])).rejects.toThrow(/out of order/);
    await expect(build(['a', 'a'])).rejects.toThrow(/out of order/);
  });
});
