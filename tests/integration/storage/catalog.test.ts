import { afterEach, describe, expect, it } from 'vitest';
import { CatalogItem, CatalogSnapshot, CatalogVersion } from '../../../core/catalog/entities.ts';
import { forgetMissingSnapshots } from '../../../core/catalog/forget.ts';
import { reindexRepository } from '../../../core/catalog/indexer.ts';
import { searchCatalog } from '../../../core/catalog/search.ts';
import { onPostgres, runSql } from '../../../core/db/run-sql.ts';
import { toMatchQuery } from '../../../core/db/sqlite-catalog.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { createTestApp, type TestApp } from '../../helpers/kernel.ts';
import { createTestRepo, type TestRepo } from '../../helpers/repository.ts';

/**
 * FTS5's own check of its index against the items' text (rank 1: external content); it throws
 * when they differ. PostgreSQL's index is over a stored column of the rows: nothing to drift.
 */
async function checkFullTextIndex(em: Parameters<typeof runSql>[0]): Promise<void> {
  if (onPostgres(em)) return;
  await runSql(em, `insert into catalog_items_fts (catalog_items_fts, rank) values ('integrity-check', 1)`);
}

/** The items' metadata keys, as a service's searchFields would name them. */
const fields = () => ({ name: 'name', path: 'path', author: 'author', modified: 'modified' });
let t: TestApp;
let r: TestRepo;
afterEach(async () => {
  await t?.close();
  r?.cleanup();
});

async function history(repo: TestRepo['repo']) {
  const w1 = new SnapshotWriter(repo, { task: 'dropbox', entity: 'ana@example.com' });
  await w1.add(
    {
      key: '/Finance/Überweisung März.pdf',
      kind: 'file',
      meta: { author: 'Ana Lima', modified: '2026-03-01T10:00:00Z' },
    },
    Buffer.from('pdf v1'),
  );
  await w1.add({ key: '/Finance/budget-2026.xlsx', kind: 'file', meta: { author: 'Ana Lima' } }, Buffer.from('budget'));
  await w1.add({ key: '/Photos/beach.jpg', kind: 'file', meta: { author: 'Bo Chen' } }, Buffer.from('jpg'));
  const s1 = await w1.commit();
  const w2 = new SnapshotWriter(repo, {
    task: 'dropbox',
    entity: 'ana@example.com',
    parent: s1.id,
    mode: 'incremental',
  });
  await w2.add(
    {
      key: '/Finance/Überweisung März.pdf',
      kind: 'file',
      meta: { author: 'Ana Lima', modified: '2026-03-05T10:00:00Z' },
    },
    Buffer.from('pdf v2!'),
  );
  await w2.delete('/Photos/beach.jpg');
  const s2 = await w2.commit();
  return { s1: s1.id, s2: s2.id };
}

describe('catalog', () => {
  it('rebuilds from the repository alone: items once, a version per change, searchable by word and prefix', async () => {
    t = await createTestApp();
    r = await createTestRepo();
    const { s1, s2 } = await history(r.repo);
    const em = t.kernel.orm.em.fork();
    const report = await reindexRepository(em, await r.reopen(), r.sink.description, fields);
    expect(report).toEqual({ snapshots: 2, items: 3, versions: 5 });
    expect(await em.count(CatalogSnapshot, {})).toBe(2);
    expect(await em.count(CatalogItem, {})).toBe(3);
    expect(await em.count(CatalogVersion, { snapshot: s2 })).toBe(2);

    const hits = await searchCatalog(em.fork(), { text: 'uberweisung' });
    expect(hits.map((h) => h.key)).toEqual(['/Finance/Überweisung März.pdf']);
    expect(hits[0]?.latest).toMatchObject({
      snapshot: s2,
      size: 7,
      deleted: false,
      modified: new Date('2026-03-05T10:00:00Z'),
    });
    expect((await searchCatalog(em.fork(), { text: 'budg' })).map((h) => h.name)).toEqual(['budget-2026.xlsx']);
    expect((await searchCatalog(em.fork(), { text: 'ana lima' })).map((h) => h.name).sort()).toEqual([
      'budget-2026.xlsx',
      'Überweisung März.pdf',
    ]);
    const beach = await searchCatalog(em.fork(), { text: 'beach' });
    expect(beach[0]?.latest).toMatchObject({ snapshot: s2, deleted: true });
    expect(await searchCatalog(em.fork(), { text: 'beach', repositories: ['another-repo'] })).toEqual([]);
    expect(await searchCatalog(em.fork(), { text: '"' })).toEqual([]);

    // Reindexing again gives the same catalog, not duplicates.
    expect(await reindexRepository(em.fork(), await r.reopen(), r.sink.description, fields)).toEqual(report);
    expect(await em.fork().count(CatalogItem, {})).toBe(3);
    expect(s1).not.toBe(s2);
  });

  it('forgets snapshots the repository lost, ending as a reindex of what is left would', async () => {
    t = await createTestApp();
    r = await createTestRepo();
    const { s1, s2 } = await history(r.repo);
    const w3 = new SnapshotWriter(r.repo, {
      task: 'dropbox',
      entity: 'ana@example.com',
      parent: s2,
      mode: 'incremental',
    });
    await w3.add({ key: '/Finance/new.txt', kind: 'file' }, Buffer.from('new'));
    const s3 = (await w3.commit()).id;
    const em = t.kernel.orm.em.fork();
    await reindexRepository(em, r.repo, r.sink.description, fields);
    const state = async () =>
      (
        await em
          .fork()
          .find(
            CatalogVersion,
            {},
            { populate: ['item'], orderBy: { item: { key: 'asc' }, snapshot: { time: 'asc' } } },
          )
      ).map((v) => `${v.item.key} ${v.snapshot.id.slice(0, 6)} ${v.deleted ? 'deleted' : v.size}`);
    const reindexed = async () => {
      const fresh = await createTestApp();
      try {
        await reindexRepository(fresh.kernel.orm.em.fork(), await r.reopen(), r.sink.description, fields);
        return (
          await fresh.kernel.orm.em
            .fork()
            .find(
              CatalogVersion,
              {},
              { populate: ['item'], orderBy: { item: { key: 'asc' }, snapshot: { time: 'asc' } } },
            )
        ).map((v) => `${v.item.key} ${v.snapshot.id.slice(0, 6)} ${v.deleted ? 'deleted' : v.size}`);
      } finally {
        await fresh.close();
      }
    };

    // Retention forgets the first snapshot: the budget (unchanged since s1) now first appears in
    // s2, the PDF keeps its s2 change, and the photo deleted in s2 was never in what is left.
    await r.repo.forgetSnapshot(s1);
    expect(await forgetMissingSnapshots(em.fork(), r.repo.id, new Set([s2, s3]))).toBe(1);
    expect(await forgetMissingSnapshots(em.fork(), r.repo.id, new Set([s2, s3]))).toBe(0);
    expect(await em.fork().count(CatalogVersion, { snapshot: s1 })).toBe(0);
    expect((await searchCatalog(em.fork(), { text: 'budg' }))[0]?.latest).toMatchObject({
      snapshot: s2,
      deleted: false,
    });
    expect(await searchCatalog(em.fork(), { text: 'beach' })).toEqual([]);
    expect(await state()).toHaveLength(3);
    expect(await state()).toEqual(await reindexed());

    // Then the second: everything hands on to s3.
    await r.repo.forgetSnapshot(s2);
    expect(await forgetMissingSnapshots(em.fork(), r.repo.id, new Set([s3]))).toBe(1);
    expect((await searchCatalog(em.fork(), { text: 'uberweisung' }))[0]?.latest).toMatchObject({
      snapshot: s3,
      size: 7,
    });
    expect(await state()).toEqual(await reindexed());
    expect(await em.fork().count(CatalogSnapshot, {})).toBe(1);
  });

  it('after a reindex that stopped half-way, the next one leaves a sound full-text index', async () => {
    t = await createTestApp();
    r = await createTestRepo();
    await history(r.repo);
    const em = t.kernel.orm.em.fork();
    await reindexRepository(em, r.repo, r.sink.description, fields);
    // The second reindex fails at a snapshot whose tree cannot be read: items written, no documents yet.
    const snapshots = await r.repo.listSnapshots();
    const last = snapshots.at(-1) as (typeof snapshots)[number];
    const broken = {
      id: 'f'.repeat(64),
      manifest: { ...last.manifest, time: '2099-01-01T00:00:00Z', tree: '0'.repeat(64) },
    };
    const failing = Object.assign(Object.create(r.repo), { listSnapshots: async () => [...snapshots, broken] });
    await expect(reindexRepository(em.fork(), failing, r.sink.description, fields)).rejects.toThrow();
    expect(await searchCatalog(em.fork(), { text: 'budget' })).toEqual([]);
    await checkFullTextIndex(em.fork());

    const report = await reindexRepository(em.fork(), r.repo, r.sink.description, fields);
    expect(report).toEqual({ snapshots: 2, items: 3, versions: 5 });
    await checkFullTextIndex(em.fork());
    expect((await searchCatalog(em.fork(), { text: 'budget' })).map((h) => h.name)).toEqual(['budget-2026.xlsx']);
    expect(await em.fork().count(CatalogItem, {})).toBe(3);
  });

  it('turns typed text into a safe full-text query', () => {
    expect(toMatchQuery('Überweisung  März')).toBe('"Überweisung" "März"*');
    expect(toMatchQuery('a" OR b NEAR(')).toBe('"a" "OR" "b" "NEAR"*');
    expect(toMatchQuery('  ')).toBeUndefined();
  });
});
