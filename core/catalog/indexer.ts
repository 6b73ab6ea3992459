// Fills the catalog from a repository: one snapshot at a time, in time order per entity, storing
// only what changed since the entity's previous snapshot (via the tree diff, which skips what is
// identical). `reindexRepository` rebuilds a repository's catalog from the repository alone.
import type { EntityManager } from '@mikro-orm/core';
import type { Repository, SnapshotManifest } from '../../storage/repository.ts';
import { diffItemStreams, snapshotItems } from '../../storage/snapshot-state.ts';
import { diffTrees, type ItemChange, type ItemEntry } from '../../storage/tree.ts';
import { indexDocuments, removeDocuments, runSql } from '../db/search-index.ts';
import { CatalogRepository, CatalogSnapshot } from './entities.ts';

const BATCH = 1000;

export interface CatalogFields {
  name: string;
  path: string;
  author: string | null;
  modified: Date | null;
}

/** What the catalog shows of an item: services put path/name/author/modified in the metadata. */
export function catalogFields(entry: ItemEntry): CatalogFields {
  const meta = entry.meta ?? {};
  const key = entry.key.endsWith('/') ? entry.key.slice(0, -1) : entry.key;
  const path = typeof meta.path === 'string' ? meta.path : key;
  const name = typeof meta.name === 'string' ? meta.name : (path.split('/').pop() ?? path);
  const author = typeof meta.author === 'string' ? meta.author : null;
  const modifiedValue =
    typeof meta.modified === 'string'
      ? Date.parse(meta.modified)
      : typeof meta.mtimeMs === 'number'
        ? meta.mtimeMs
        : Number.NaN;
  return { name, path, author, modified: Number.isNaN(modifiedValue) ? null : new Date(modifiedValue) };
}

export interface IndexReport {
  snapshots: number;
  versions: number;
  items: number;
}

function diffSnapshots(repo: Repository, before: SnapshotManifest, after: SnapshotManifest): AsyncIterable<ItemChange> {
  if (!before.layers?.length && !after.layers?.length) return diffTrees(repo, before.tree, after.tree);
  return diffItemStreams(snapshotItems(repo, before), snapshotItems(repo, after));
}

async function* asChanges(items: AsyncIterable<ItemEntry>): AsyncIterable<ItemChange> {
  for await (const item of items) yield { key: item.key, change: 'added', after: item };
}

/** Indexes one snapshot (no-op when already indexed). `previous` is the entity's prior snapshot. */
export async function indexSnapshot(
  em: EntityManager,
  repo: Repository,
  snapshot: { id: string; manifest: SnapshotManifest },
  previous: { id: string; manifest: SnapshotManifest } | undefined,
  report: IndexReport = { snapshots: 0, versions: 0, items: 0 },
): Promise<IndexReport> {
  if (await em.count(CatalogSnapshot, { id: snapshot.id })) return report;
  const { manifest } = snapshot;
  await em.transactional(async (tx) => {
    tx.create(CatalogSnapshot, {
      id: snapshot.id,
      repository: tx.getReference(CatalogRepository, repo.id),
      task: manifest.task,
      entity: manifest.entity,
      time: new Date(manifest.time),
      parent: manifest.parent ?? null,
      items: manifest.stats.items,
      bytes: manifest.stats.bytes,
    });
    await tx.flush();
    const changes = previous
      ? diffSnapshots(repo, previous.manifest, manifest)
      : asChanges(snapshotItems(repo, manifest));
    let batch: ItemChange[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const current = batch;
      batch = [];
      const keys = current.map((c) => c.key);
      const existing = new Map<string, number>();
      const rows = await runSql<{ id: number; key: string }[]>(
        tx,
        `select id, key from catalog_items where repository_id = ? and task = ? and entity = ? and key in (${keys.map(() => '?').join(', ')})`,
        [repo.id, manifest.task, manifest.entity, ...keys],
      );
      for (const r of rows) existing.set(r.key, Number(r.id));

      const fresh = current.filter((c) => c.after && !existing.has(c.key));
      if (fresh.length) {
        const inserted = await runSql<{ id: number; key: string }[]>(
          tx,
          `insert into catalog_items (repository_id, task, entity, key, kind, name, path, author) values ${fresh
            .map(() => '(?, ?, ?, ?, ?, ?, ?, ?)')
            .join(', ')} returning id, key`,
          fresh.flatMap((c) => {
            const f = catalogFields(c.after as ItemEntry);
            return [
              repo.id,
              manifest.task,
              manifest.entity,
              c.key,
              (c.after as ItemEntry).kind,
              f.name,
              f.path,
              f.author,
            ];
          }),
        );
        for (const r of inserted) existing.set(r.key, Number(r.id));
        await indexDocuments(
          tx,
          fresh.map((c) => ({ id: existing.get(c.key) as number, ...catalogFields(c.after as ItemEntry) })),
        );
        report.items += fresh.length;
      }
      // A modified item whose name, path or author changed is re-indexed for search.
      const renamed = current.filter((c) => {
        if (c.change !== 'modified' || !c.before || !c.after) return false;
        const a = catalogFields(c.before);
        const b = catalogFields(c.after);
        return a.name !== b.name || a.path !== b.path || a.author !== b.author;
      });
      for (const c of renamed) {
        const f = catalogFields(c.after as ItemEntry);
        const id = existing.get(c.key) as number;
        await runSql(tx, 'update catalog_items set name = ?, path = ?, author = ? where id = ?', [
          f.name,
          f.path,
          f.author,
          id,
        ]);
        await removeDocuments(tx, [id]);
        await indexDocuments(tx, [{ id, ...f }]);
      }
      const versions = current.filter((c) => existing.has(c.key));
      await runSql(
        tx,
        `insert into catalog_versions (item_id, snapshot_id, size, modified, author, deleted) values ${versions.map(() => '(?, ?, ?, ?, ?, ?)').join(', ')}`,
        versions.flatMap((c) => {
          const entry = (c.after ?? c.before) as ItemEntry;
          const f = catalogFields(entry);
          return [existing.get(c.key), snapshot.id, entry.size, f.modified, f.author, c.change === 'removed'];
        }),
      );
      report.versions += versions.length;
    };
    for await (const change of changes) {
      batch.push(change);
      if (batch.length >= BATCH) await flush();
    }
    await flush();
  });
  report.snapshots++;
  return report;
}

/** Rebuilds the catalog of one repository from the repository alone. */
export async function reindexRepository(em: EntityManager, repo: Repository, location: string): Promise<IndexReport> {
  const report: IndexReport = { snapshots: 0, versions: 0, items: 0 };
  const existing = await em.findOne(CatalogRepository, { id: repo.id });
  if (existing) {
    const ids = await runSql<{ id: number }[]>(em, 'select id from catalog_items where repository_id = ?', [repo.id]);
    await removeDocuments(
      em,
      ids.map((r) => Number(r.id)),
    );
    await em.nativeDelete(CatalogSnapshot, { repository: repo.id });
    await runSql(
      em,
      'delete from catalog_versions where item_id in (select id from catalog_items where repository_id = ?)',
      [repo.id],
    );
    await runSql(em, 'delete from catalog_items where repository_id = ?', [repo.id]);
    existing.location = location;
  } else {
    em.create(CatalogRepository, { id: repo.id, location, indexedAt: null });
  }
  await em.flush();
  const previous = new Map<string, { id: string; manifest: SnapshotManifest }>();
  for (const snapshot of await repo.listSnapshots()) {
    const group = JSON.stringify([snapshot.manifest.task, snapshot.manifest.entity]);
    await indexSnapshot(em, repo, snapshot, previous.get(group), report);
    previous.set(group, snapshot);
  }
  const record = await em.findOneOrFail(CatalogRepository, { id: repo.id });
  record.indexedAt = new Date();
  await em.flush();
  return report;
}
