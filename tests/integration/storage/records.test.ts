// Record collections (the Salesforce shape): many small rows, a few changed or deleted per run.
// Layered snapshots store only the changes, yet every snapshot's full state and any two
// snapshots' difference read out exactly. (bench/records.ts runs the same at 1M records.)
import { afterEach, describe, expect, it } from 'vitest';
import type { SnapshotManifest } from '../../../storage/repository.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { diffSnapshots } from '../../../storage/snapshot-state.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { treeNodeIds } from '../../../storage/tree.ts';
import { verifyRepository } from '../../../storage/verify.ts';
import { pickChanges, recordId, recordRow } from '../../fixtures/records.ts';
import { createTestRepo, readAll, type TestRepo } from '../../helpers/repository.ts';

let t: TestRepo;
afterEach(() => t?.cleanup());

const N = 20_000;
const idOf = recordId;
const row = recordRow;

async function state(repo: TestRepo['repo'], id: string): Promise<Map<string, number>> {
  const reader = await SnapshotReader.open(repo, id);
  const out = new Map<string, number>();
  for await (const item of reader.items())
    out.set(item.key, JSON.parse((await readAll(reader.content(item))).toString()).v);
  return out;
}

describe('layered record snapshots', () => {
  it('store a 0.5% change in far less than 5% of the first run, and read out every state and diff exactly', async () => {
    t = await createTestRepo();
    const opts = { task: 'salesforce', entity: 'Account', mode: 'incremental' as const, layered: true };
    const w1 = new SnapshotWriter(t.repo, opts);
    for (let i = 0; i < N; i++) await w1.add({ key: idOf(i), kind: 'record' }, row(i, 0));
    const s1 = await w1.commit();
    const firstBytes = t.repo.stats.bytesUploaded;
    expect(s1.manifest.layers).toBeUndefined();

    const { changed, deleted } = pickChanges(N, 0.005, 0.001);
    const repo2 = await t.reopen();
    const w2 = new SnapshotWriter(repo2, { ...opts, parent: s1.id });
    for (const i of changed) await w2.add({ key: idOf(i), kind: 'record' }, row(i, 1));
    for (const i of deleted) await w2.delete(idOf(i));
    await w2.add({ key: idOf(N + 1), kind: 'record' }, row(N + 1, 1));
    const s2 = await w2.commit();
    expect(s2.manifest.tree).toBe(s1.manifest.tree);
    expect(s2.manifest.layers).toHaveLength(1);
    expect(s2.manifest.stats.items).toBe(N - deleted.size + 1);
    expect(repo2.stats.bytesUploaded / firstBytes).toBeLessThan(0.05);

    const before = await state(repo2, s1.id);
    const after = await state(repo2, s2.id);
    expect(before.size).toBe(N);
    expect(after.size).toBe(N - deleted.size + 1);
    for (const i of changed) expect(after.get(idOf(i))).toBe(1);
    for (const i of deleted) expect(after.has(idOf(i))).toBe(false);

    const r1 = await SnapshotReader.open(repo2, s1.id);
    const r2 = await SnapshotReader.open(repo2, s2.id);
    const diff = { added: [] as string[], removed: [] as string[], modified: [] as string[] };
    for await (const c of r1.diff(r2)) diff[c.change].push(c.key);
    expect(diff.added).toEqual([idOf(N + 1)]);
    expect(diff.removed.sort()).toEqual([...deleted].map(idOf).sort());
    expect(diff.modified.sort()).toEqual([...changed].map(idOf).sort());
    expect(await r2.item(idOf([...deleted][0] as number))).toBeUndefined();
    expect(
      JSON.parse((await readAll(r2.content((await r2.item(idOf([...changed][0] as number))) as never))).toString()).v,
    ).toBe(1);

    // A third run builds on the second's delta (one delta layer, always against the base).
    const repo3 = await t.reopen();
    const w3 = new SnapshotWriter(repo3, { ...opts, parent: s2.id });
    await w3.add({ key: idOf(5), kind: 'record' }, row(5, 3));
    const s3 = await w3.commit();
    expect(s3.manifest.tree).toBe(s1.manifest.tree);
    const third = await state(repo3, s3.id);
    expect(third.get(idOf(5))).toBe(3);
    expect(third.size).toBe(after.size);
    expect((await verifyRepository(repo3, { readDataPercent: 100 })).problems).toEqual([]);
  });

  it('commit and diff of a later run read the base only on the changed keys’ paths', async () => {
    t = await createTestRepo();
    const opts = { task: 'salesforce', entity: 'Account', mode: 'incremental' as const, layered: true };
    const w1 = new SnapshotWriter(t.repo, opts);
    for (let i = 0; i < N; i++) await w1.add({ key: idOf(i), kind: 'record' }, row(i, 0));
    const s1 = await w1.commit();
    let baseNodes = 0;
    for await (const _ of treeNodeIds(t.repo, s1.manifest.tree)) baseNodes++;

    // Blobs read by the later runs' commits and by the diffs a backup job makes of them.
    const repo = await t.reopen();
    let reads = 0;
    const readBlobs = repo.readBlobs.bind(repo);
    repo.readBlobs = (ids: string[]) => {
      reads += ids.length;
      return readBlobs(ids);
    };
    const run = async (
      parent: { id: string; manifest: SnapshotManifest },
      edit: (w: SnapshotWriter) => Promise<void>,
    ) => {
      const w = new SnapshotWriter(repo, { ...opts, parent: parent.id });
      await edit(w);
      const next = await w.commit();
      const changes: string[] = [];
      for await (const c of diffSnapshots(repo, parent.manifest, next.manifest)) changes.push(`${c.change} ${c.key}`);
      return { next, changes };
    };
    const second = await run(s1, async (w) => {
      for (const i of [10, 4000, 9000]) await w.add({ key: idOf(i), kind: 'record' }, row(i, 1));
      await w.delete(idOf(15000));
      await w.add({ key: idOf(N + 1), kind: 'record' }, row(N + 1, 1));
    });
    expect(second.changes).toEqual(
      [
        `modified ${idOf(10)}`,
        `removed ${idOf(15000)}`,
        `added ${idOf(N + 1)}`,
        `modified ${idOf(4000)}`,
        `modified ${idOf(9000)}`,
      ].sort((a, b) => ((a.split(' ')[1] as string) < (b.split(' ')[1] as string) ? -1 : 1)),
    );
    // A third run over the second's delta: one row back to its base version (it leaves the delta),
    // another changed (it joins it).
    const third = await run(second.next, async (w) => {
      await w.add({ key: idOf(10), kind: 'record' }, row(10, 0));
      await w.add({ key: idOf(12000), kind: 'record' }, row(12000, 2));
    });
    expect(third.changes).toEqual([`modified ${idOf(10)}`, `modified ${idOf(12000)}`]);
    expect(third.next.manifest.stats).toMatchObject({ items: N, deltaItems: 5 });
    // The base holds hundreds of nodes; each run read a few paths of it and the small deltas.
    expect(baseNodes).toBeGreaterThan(200);
    expect(reads).toBeLessThan(baseNodes / 4);
    // And the states read out as a full listing would have them.
    const final = await state(repo, third.next.id);
    expect(final.size).toBe(N);
    expect([final.get(idOf(10)), final.get(idOf(12000)), final.has(idOf(15000)), final.get(idOf(N + 1))]).toEqual([
      0,
      2,
      false,
      1,
    ]);
  });

  it('writes a fresh base when the delta grows past the compaction threshold', async () => {
    t = await createTestRepo();
    const opts = { task: 'salesforce', entity: 'Contact', mode: 'incremental' as const, layered: { compactAt: 0.1 } };
    const w1 = new SnapshotWriter(t.repo, opts);
    for (let i = 0; i < 1000; i++) await w1.add({ key: idOf(i), kind: 'record' }, row(i, 0));
    const s1 = await w1.commit();
    const w2 = new SnapshotWriter(t.repo, { ...opts, parent: s1.id });
    for (let i = 0; i < 50; i++) await w2.add({ key: idOf(i), kind: 'record' }, row(i, 2));
    const s2 = await w2.commit();
    expect(s2.manifest.layers).toHaveLength(1);
    const w3 = new SnapshotWriter(t.repo, { ...opts, parent: s2.id });
    for (let i = 500; i < 560; i++) await w3.add({ key: idOf(i), kind: 'record' }, row(i, 3));
    const s3 = await w3.commit();
    expect(s3.manifest.layers).toBeUndefined();
    expect(s3.manifest.tree).not.toBe(s1.manifest.tree);
    const final = await state(t.repo, s3.id);
    expect(final.size).toBe(1000);
    expect(final.get(idOf(10))).toBe(2);
    expect(final.get(idOf(510))).toBe(3);
    expect(final.get(idOf(900))).toBe(0);
  });
});
