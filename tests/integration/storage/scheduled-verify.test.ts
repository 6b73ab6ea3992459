// Scheduled verification (storage/scheduled-verify.ts) on a local repository: the rotating sample
// reads every pack once per cycle; a flipped byte in a pack (in the run whose share holds it), a
// truncated index file and a missing pack are each found by one run, which names the lost items
// of each snapshot and the repair that fits; the next full backup of the same content heals what
// it can re-supply, and rebuild-index heals the index.
import { randomBytes } from 'node:crypto';
import { readdirSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { withLock } from '../../../storage/locks.ts';
import { rebuildIndex } from '../../../storage/rebuild-index.ts';
import type { Repository } from '../../../storage/repository.ts';
import { cycleOf, rotatingSample, verifyOnSchedule } from '../../../storage/scheduled-verify.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { findItem } from '../../../storage/tree.ts';
import { damageBlob, openLocal } from '../../helpers/damage.ts';
import { createTestRepo, type TestRepo } from '../../helpers/repository.ts';

let t: TestRepo | undefined;
afterEach(() => {
  t?.cleanup();
  t = undefined;
});

const files: Record<string, Buffer> = {};
for (let i = 0; i < 6; i++) files[`docs/file-${i}.bin`] = randomBytes(400_000);

async function backup(repo: Repository, entity = 'mailbox'): Promise<string> {
  const w = new SnapshotWriter(repo, { task: 'task-1', entity });
  for (const [key, body] of Object.entries(files)) await w.add({ key, kind: 'file' }, body);
  return (await w.commit()).id;
}

async function backedUp(): Promise<{ t: TestRepo; sinkPath: string; snapshot: string }> {
  t = await createTestRepo();
  const snapshot = await backup(t.repo);
  return { t, sinkPath: join(t.root, 'sink'), snapshot };
}

const run = async (sinkPath: string, samplePercent: number, number: number) =>
  verifyOnSchedule(await openLocal(sinkPath), { samplePercent, run: number });

describe('the rotating sample', () => {
  it('reads every pack exactly once per cycle, whatever packs are added', () => {
    const ids = Array.from({ length: 500 }, (_, i) => `pack-${i}`);
    expect(cycleOf(20)).toBe(5);
    const reads = new Map<string, number>();
    for (let r = 0; r < 5; r++) for (const id of rotatingSample(ids, 20, r)) reads.set(id, (reads.get(id) ?? 0) + 1);
    expect([...reads.keys()].sort()).toEqual([...ids].sort());
    expect(new Set(reads.values())).toEqual(new Set([1]));
    // A pack's turn does not move when others come: run 7 reads what run 2 read, plus new ones.
    const more = [...ids, 'pack-new-1', 'pack-new-2'];
    expect(rotatingSample(more, 20, 7).filter((id) => ids.includes(id))).toEqual(rotatingSample(ids, 20, 2));
  });
});

describe('a scheduled verification run', () => {
  it('passes on a healthy repository, reading its share of the packs', async () => {
    const { sinkPath } = await backedUp();
    const first = await run(sinkPath, 50, 0);
    const second = await run(sinkPath, 50, 1);
    expect([first.verify.problems, second.verify.problems, first.lost, first.repairs]).toEqual([[], [], [], []]);
    expect(first.verify.packsRead + second.verify.packsRead).toBe(first.verify.packs);
  });

  it('finds a flipped byte in a pack in the run that reads it, names the lost item, and the next backup heals it', async () => {
    const { t, sinkPath, snapshot } = await backedUp();
    const big = await findItem(t.repo, (await t.repo.loadSnapshot(snapshot)).tree, 'docs/file-3.bin');
    const blob = big?.content?.[0] as string;
    const pack = t.repo.locate(blob)?.pack as string;
    await damageBlob(sinkPath, blob);
    // The run whose share holds the pack (of the 4 runs of a 25% cycle).
    const turn = [0, 1, 2, 3].find((r) => rotatingSample([pack], 25, r).length === 1) as number;
    const found = await run(sinkPath, 25, turn);
    expect(found.verify.problems.map((p) => p.object)).toEqual([`blob ${blob}`]);
    expect(found.lost).toEqual([
      { snapshot, task: 'task-1', entity: 'mailbox', time: expect.any(String), items: ['docs/file-3.bin'], ranges: [] },
    ]);
    expect(found.repairs).toEqual(['repair snapshots']);

    // The next backup of the same content stores the damaged blob again (the damage is recorded).
    const repo = await openLocal(sinkPath);
    await withLock(repo.sink, 'shared', { purpose: 'backup' }, () => backup(repo), repo);
    const after = await run(sinkPath, 100, 0);
    expect(after.lost).toEqual([]);
    expect(after.verify.problems.map((p) => p.message)).toEqual([
      expect.stringMatching(/a good copy in pack \w+ is used$/),
    ]);
  });

  it('finds a truncated index file in any run; rebuild-index heals it and nothing is lost', async () => {
    const { t, sinkPath } = await backedUp();
    await t.lock.release(); // rebuild-index takes the exclusive lock
    const [indexFile] = readdirSync(join(sinkPath, 'index'));
    truncateSync(join(sinkPath, 'index', indexFile as string), 100);
    const found = await run(sinkPath, 10, 3);
    // The index file, and each pack it named, which snapshots use but no index file names now.
    const [first, ...packs] = found.verify.problems;
    expect(first?.object).toBe(`index/${indexFile}`);
    const stored = readdirSync(join(sinkPath, 'data')).flatMap((d) => readdirSync(join(sinkPath, 'data', d)));
    expect(packs.map((p) => p.object).sort()).toEqual(stored.map((id) => `pack ${id}`).sort());
    for (const p of packs) expect(p.message).toMatch(/holds blobs snapshots use, but no index file names it/);
    expect([found.lost, found.repairs]).toEqual([[], ['rebuild-index']]);
    const repo = await openLocal(sinkPath);
    await withLock(repo.sink, 'exclusive', { purpose: 'rebuild-index' }, () => rebuildIndex(repo), repo);
    expect((await run(sinkPath, 10, 4)).verify.problems).toEqual([]);
  });

  it('finds a missing pack in any run, names the items it held, and the next backup re-supplies them', async () => {
    const { t, sinkPath, snapshot } = await backedUp();
    const item = await findItem(t.repo, (await t.repo.loadSnapshot(snapshot)).tree, 'docs/file-1.bin');
    const pack = t.repo.locate(item?.content?.[0] as string)?.pack as string;
    rmSync(join(sinkPath, 'data', pack.slice(0, 2), pack));
    const found = await run(sinkPath, 10, 0);
    expect(found.verify.missingPacks).toEqual([pack]);
    const lostItems = found.lost.flatMap((l) => l.items);
    expect(lostItems).toContain('docs/file-1.bin');
    expect(found.lost.map((l) => l.snapshot)).toEqual([snapshot]);
    expect(found.repairs).toContain('repair snapshots');

    const repo = await openLocal(sinkPath);
    const healed = await withLock(repo.sink, 'shared', { purpose: 'backup' }, () => backup(repo), repo);
    const after = await verifyOnSchedule(await openLocal(sinkPath), { samplePercent: 100, run: 0 });
    // The new snapshot is whole; the old one now reads its content from the re-supplied copies.
    expect(after.lost.filter((l) => l.snapshot === healed)).toEqual([]);
    expect(after.lost).toEqual([]);
  });
});
