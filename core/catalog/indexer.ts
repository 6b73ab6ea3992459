// Fills the catalog from a repository: one snapshot at a time, in time order per entity, storing
// only what changed since the entity's previous snapshot (via the tree diff, which skips what is
// identical). `reindexRepository` rebuilds a repository's catalog from the repository alone.
import type { EntityManager } from '@mikro-orm/core';
import type { Repository, SnapshotManifest } from '../../storage/repository.ts';
import { diffSnapshots, snapshotItems } from '../../storage/snapshot-state.ts';
import type { ItemChange, ItemEntry } from '../../storage/tree.ts';
import {
  catalogBatchWriter,
  hasDocuments,
  type ItemRow,
  indexRepositoryDocuments,
  rebuildAllDocuments,
  removeRepositoryItems,
  type VersionRow,
  withoutForeignKeyChecks,
} from '../db/sqlite-catalog.ts';
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

/**
 * Indexes one snapshot (no-op when already indexed). `previous` is the entity's prior snapshot.
 * `documents: false` skips the full-text documents (a reindex adds them all at the end).
 */
export async function indexSnapshot(
  em: EntityManager,
  repo: Repository,
  snapshot: { id: string; manifest: SnapshotManifest },
  previous: { id: string; manifest: SnapshotManifest } | undefined,
  report: IndexReport = { snapshots: 0, versions: 0, items: 0 },
  options: { documents: boolean } = { documents: true },
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
    // A first snapshot's items are all additions (made here: a wrapping generator costs each an async hop).
    const changes: AsyncIterable<ItemChange | ItemEntry> = previous
      ? diffSnapshots(repo, previous.manifest, manifest)
      : snapshotItems(repo, manifest);
    const writer = await catalogBatchWriter(
      tx,
      { repository: repo.id, task: manifest.task, entity: manifest.entity },
      options,
    );
    // The entity's first snapshot into an empty scope: no item can exist yet, skip the lookups.
    const emptyScope = !previous && writer.isEmpty();
    let batch: ItemChange[] = [];
    // One pass per batch and ids by position (a million items make every per-item object count).
    const flush = () => {
      if (batch.length === 0) return;
      const current = batch;
      batch = [];
      const known = emptyScope ? undefined : writer.itemIds(current.map((c) => c.key));
      const fields: CatalogFields[] = new Array(current.length);
      const itemIds: (number | undefined)[] = new Array(current.length);
      const rows: ItemRow[] = [];
      const rowAt: number[] = [];
      for (let i = 0; i < current.length; i++) {
        const c = current[i] as ItemChange;
        const f = catalogFields((c.after ?? c.before) as ItemEntry);
        fields[i] = f;
        const id = known?.get(c.key);
        itemIds[i] = id;
        if (!c.after) continue;
        if (id === undefined) {
          rows.push({ key: c.key, kind: c.after.kind, name: f.name, path: f.path, author: f.author });
          rowAt.push(i);
          continue;
        }
        // A modified item whose name, path or author changed is re-indexed for search.
        // So is an item that comes back under a key the catalog already knows.
        if (c.change === 'modified' && c.before) {
          const a = catalogFields(c.before);
          if (a.name === f.name && a.path === f.path && a.author === f.author) continue;
        } else if (c.change !== 'added') continue;
        writer.updateItem(id, f);
      }
      if (rows.length) {
        writer.insertItems(rows).forEach((id, j) => {
          itemIds[rowAt[j] as number] = id;
        });
        report.items += rows.length;
      }
      const versions: VersionRow[] = [];
      for (let i = 0; i < current.length; i++) {
        const itemId = itemIds[i];
        if (itemId === undefined) continue;
        const c = current[i] as ItemChange;
        const f = fields[i] as CatalogFields;
        versions.push({
          itemId,
          snapshotId: snapshot.id,
          size: ((c.after ?? c.before) as ItemEntry).size,
          modified: f.modified,
          author: f.author,
          deleted: c.change === 'removed',
        });
      }
      writer.insertVersions(versions);
      report.versions += versions.length;
    };
    for await (const next of changes) {
      batch.push(previous ? (next as ItemChange) : { key: next.key, change: 'added', after: next as ItemEntry });
      if (batch.length >= BATCH) flush();
    }
    flush();
  });
  report.snapshots++;
  return report;
}

/**
 * Rebuilds the catalog of one repository from the repository alone. Items are written without
 * full-text documents and the documents added in one statement at the end, with `indexed_at`; until
 * then the repository's items are browsable but not searchable. A reindex that stops half-way
 * (crash, kill) leaves `indexed_at` empty, and the next reindex repairs the full-text index before
 * starting over.
 */
export async function reindexRepository(em: EntityManager, repo: Repository, location: string): Promise<IndexReport> {
  const report: IndexReport = { snapshots: 0, versions: 0, items: 0 };
  await em.transactional(async (tx) => {
    const existing = await tx.findOne(CatalogRepository, { id: repo.id });
    if (existing) {
      const indexed = await hasDocuments(tx, repo.id);
      await removeRepositoryItems(tx, repo.id, { documents: indexed });
      // An unfinished reindex (possibly by an older version that wrote documents as it went):
      // the index's state for these items is unknown, so it is rebuilt from the items' text.
      if (!indexed) await rebuildAllDocuments(tx);
      await tx.nativeDelete(CatalogSnapshot, { repository: repo.id });
      existing.location = location;
      existing.indexedAt = null;
    } else {
      tx.create(CatalogRepository, { id: repo.id, location, indexedAt: null });
    }
  });
  const previous = new Map<string, { id: string; manifest: SnapshotManifest }>();
  await withoutForeignKeyChecks(em, async () => {
    for (const snapshot of await repo.listSnapshots()) {
      const group = JSON.stringify([snapshot.manifest.task, snapshot.manifest.entity]);
      await indexSnapshot(em, repo, snapshot, previous.get(group), report, { documents: false });
      previous.set(group, snapshot);
    }
  });
  await em.transactional(async (tx) => {
    await indexRepositoryDocuments(tx, repo.id);
    const record = await tx.findOneOrFail(CatalogRepository, { id: repo.id });
    record.indexedAt = new Date();
  });
  return report;
}
