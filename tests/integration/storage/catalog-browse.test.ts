// The Recovery pages' catalog queries: snapshots in a date range, the folder tree as it was at a
// snapshot (not as it is now), the keys below chosen folders, and item search with the snapshot
// each hit is recovered from.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  browseSnapshot,
  entitySnapshot,
  entitySnapshots,
  keysBelow,
  searchEntityItems,
  snapshotSpans,
} from '../../../core/catalog/browse.ts';
import { reindexRepository } from '../../../core/catalog/indexer.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { createTestApp, type TestApp } from '../../helpers/kernel.ts';
import { createTestRepo, type TestRepo } from '../../helpers/repository.ts';

/** The items' metadata keys, as a service's searchFields would name them. */
const fields = () => ({ name: 'name', path: 'path', author: 'author', modified: 'modified' });
let t: TestApp;
let r: TestRepo;
let s1: string;
let s2: string;
const scope = { task: 'task-1', entity: 'ana@example.com' };

beforeAll(async () => {
  t = await createTestApp();
  r = await createTestRepo();
  const w1 = new SnapshotWriter(r.repo, { ...scope, mode: 'incremental' });
  const file = (path: string, author: string, modified: string) => ({
    key: path,
    kind: 'file',
    meta: { path, author, modified },
  });
  await w1.add(file('/Finance/2026/budget.xlsx', 'Ana Lima', '2026-03-01T10:00:00Z'), Buffer.from('budget v1'));
  await w1.add(file('/Finance/Überweisung März.pdf', 'Ana Lima', '2026-03-02T10:00:00Z'), Buffer.from('pdf'));
  await w1.add(file('/Photos/beach.jpg', 'Bo Chen', '2025-08-01T10:00:00Z'), Buffer.from('jpeg'));
  await w1.add({ key: '/Empty', kind: 'folder', meta: { path: '/Empty' } });
  await w1.add(file('/readme.txt', 'Ana Lima', '2026-01-01T00:00:00Z'), Buffer.from('hello'));
  s1 = (await w1.commit()).id;
  // The second snapshot must be later than the first (snapshot times have millisecond precision).
  await new Promise((resolve) => setTimeout(resolve, 5));
  const w2 = new SnapshotWriter(r.repo, { ...scope, parent: s1, mode: 'incremental' });
  await w2.add(file('/Finance/2026/budget.xlsx', 'Ana Lima', '2026-03-09T10:00:00Z'), Buffer.from('budget v2 bigger'));
  await w2.delete('/Photos/beach.jpg');
  await w2.add(file('/Photos/mountain.jpg', 'Bo Chen', '2026-03-10T10:00:00Z'), Buffer.from('jpeg 2'));
  s2 = (await w2.commit()).id;
  // Another entity of the same task: never mixed in.
  const other = new SnapshotWriter(r.repo, { task: 'task-1', entity: 'bo@example.com' });
  await other.add(file('/Finance/other.pdf', 'Bo Chen', '2026-03-03T10:00:00Z'), Buffer.from('x'));
  await other.commit();
  await reindexRepository(t.kernel.orm.em.fork(), await r.reopen(), r.sink.description, fields);
});

afterAll(async () => {
  await t?.close();
  r?.cleanup();
});

const em = () => t.kernel.orm.em.fork();

describe('catalog browsing for recovery', () => {
  it('lists the entity’s snapshots newest first, within a date range, and finds one by id only in its entity', async () => {
    const all = await entitySnapshots(em(), scope);
    expect(all.map((s) => s.id)).toEqual([s2, s1]);
    expect(all[1]).toMatchObject({ items: 5 });
    const first = all[1]?.time as Date;
    expect((await entitySnapshots(em(), scope, { to: first })).map((s) => s.id)).toEqual([s1]);
    expect((await entitySnapshots(em(), scope, { from: new Date(first.getTime() + 1) })).map((s) => s.id)).toEqual([
      s2,
    ]);
    expect((await entitySnapshot(em(), scope, s1))?.id).toBe(s1);
    expect(await entitySnapshot(em(), { task: 'task-1', entity: 'bo@example.com' }, s1)).toBeUndefined();
    const spans = await snapshotSpans(em(), 'task-1');
    expect(spans.get('ana@example.com')?.count).toBe(2);
    expect(spans.get('bo@example.com')?.count).toBe(1);
  });

  it('shows the tree as it was at each snapshot: folders first, sizes and counts summed', async () => {
    const snap1 = { ...(await entitySnapshot(em(), scope, s1)), ...scope } as Parameters<typeof browseSnapshot>[1];
    const root1 = await browseSnapshot(em(), snap1, '/', { limit: 50, offset: 0 });
    expect(root1.total).toBe(4);
    expect(root1.entries.map((e) => [e.name, e.folder, e.items, e.size])).toEqual([
      ['Empty', true, 0, 0],
      ['Finance', true, 2, 12],
      ['Photos', true, 1, 4],
      ['readme.txt', false, 1, 5],
    ]);
    expect(root1.entries[3]).toMatchObject({
      key: '/readme.txt',
      kind: 'file',
      path: 'readme.txt',
      author: 'Ana Lima',
    });

    const snap2 = { ...(await entitySnapshot(em(), scope, s2)), ...scope } as Parameters<typeof browseSnapshot>[1];
    const photos2 = await browseSnapshot(em(), snap2, 'Photos', { limit: 50, offset: 0 });
    expect(photos2.entries.map((e) => e.name)).toEqual(['mountain.jpg']);
    const photos1 = await browseSnapshot(em(), snap1, '/Photos/', { limit: 50, offset: 0 });
    expect(photos1.entries.map((e) => e.name)).toEqual(['beach.jpg']);
    const finance2 = await browseSnapshot(em(), snap2, 'Finance', { limit: 1, offset: 1 });
    expect(finance2.total).toBe(2);
    expect(finance2.entries.map((e) => e.name)).toEqual(['Überweisung März.pdf']);
    const year = await browseSnapshot(em(), snap2, 'Finance/2026', { limit: 50, offset: 0 });
    expect(year.entries.map((e) => [e.name, e.size, e.modified?.toISOString()])).toEqual([
      ['budget.xlsx', 16, '2026-03-09T10:00:00.000Z'],
    ]);
    expect((await browseSnapshot(em(), snap2, 'Nowhere', { limit: 50, offset: 0 })).total).toBe(0);

    expect(await keysBelow(em(), snap1, ['Finance', 'Empty'])).toEqual([
      '/Empty',
      '/Finance/2026/budget.xlsx',
      '/Finance/Überweisung März.pdf',
    ]);
    expect(await keysBelow(em(), snap2, ['Photos'])).toEqual(['/Photos/mountain.jpg']);
  });

  it('searches one entity’s items by words, author, name and date, naming the snapshot to recover from', async () => {
    const byWord = await searchEntityItems(em(), scope, { text: 'budget' });
    expect(byWord.map((h) => [h.key, h.size, h.deleted, h.snapshot?.id])).toEqual([
      ['/Finance/2026/budget.xlsx', 16, false, s2],
    ]);
    // The other entity's Finance file is not found here.
    expect((await searchEntityItems(em(), scope, { text: 'finance' })).map((h) => h.name).sort()).toEqual([
      'budget.xlsx',
      'Überweisung März.pdf',
    ]);
    const beach = await searchEntityItems(em(), scope, { contains: { name: 'BEACH' } });
    expect(beach.map((h) => [h.name, h.deleted, h.snapshot?.id])).toEqual([['beach.jpg', true, s1]]);
    expect((await searchEntityItems(em(), scope, { contains: { author: 'bo ch' } })).map((h) => h.name).sort()).toEqual(
      ['beach.jpg', 'mountain.jpg'],
    );
    const march = await searchEntityItems(em(), scope, {
      modifiedFrom: new Date('2026-03-01T00:00:00Z'),
      modifiedTo: new Date('2026-03-05T00:00:00Z'),
    });
    expect(march.map((h) => h.name)).toEqual(['Überweisung März.pdf']);
    expect(await searchEntityItems(em(), scope, { contains: { name: '100%_' } })).toEqual([]);
    expect(await searchEntityItems(em(), scope, { text: '"' })).toEqual([]);
  });
});
