// The snapshot writer under overlapping calls (a connector downloading several files at once):
// operations are recorded one at a time even while the item list spills to disk, the last call
// per key wins, and addExisting reuses stored content without reading it.
import { afterAll, describe, expect, it } from 'vitest';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { createTestRepo, type TestRepo } from '../../helpers/repository.ts';

const repos: TestRepo[] = [];
afterAll(() => {
  for (const r of repos) r.cleanup();
});

// Above the inline limit, so each add uploads its content and finishes at its own time.
const body = (i: number) => Buffer.from(`content ${i};`.repeat(600));

describe('SnapshotWriter with overlapping calls', () => {
  it('keeps every item when adds overlap a spill, and reuses content with addExisting', async () => {
    const t = await createTestRepo();
    repos.push(t);
    // A tiny sort budget: the item list spills to disk many times while adds are in flight.
    const first = new SnapshotWriter(t.repo, { task: 't', entity: 'e', sortMemoryBytes: 2048 });
    await Promise.all(
      Array.from({ length: 400 }, (_, i) =>
        first.add({ key: `k${String(i).padStart(4, '0')}`, kind: 'file' }, body(i)),
      ),
    );
    const s1 = await first.commit();
    expect(s1.manifest.stats.items).toBe(400);

    const second = new SnapshotWriter(t.repo, {
      task: 't',
      entity: 'e',
      parent: s1.id,
      mode: 'incremental',
      sortMemoryBytes: 2048,
    });
    const reader1 = await SnapshotReader.open(t.repo, s1.id);
    const source = await reader1.item('k0007');
    await Promise.all([
      second.addExisting({ key: 'moved/k0007', kind: 'file', meta: { path: '/moved' } }, source as never),
      second.delete('k0007'),
      second.add({ key: 'k0001', kind: 'file' }, Buffer.from('first write')),
    ]);
    await second.add({ key: 'k0001', kind: 'file' }, Buffer.from('last write'));
    const s2 = await second.commit();
    const reader = await SnapshotReader.open(t.repo, s2.id);
    const text = async (key: string) => {
      const item = await reader.item(key);
      if (!item) return undefined;
      const parts: Buffer[] = [];
      for await (const c of reader.content(item)) parts.push(c as Buffer);
      return Buffer.concat(parts).toString();
    };
    expect(await text('moved/k0007')).toBe(body(7).toString());
    expect(await text('k0007')).toBeUndefined();
    expect(await text('k0001')).toBe('last write');
    expect(s2.manifest.stats.items).toBe(400);
  });
});
