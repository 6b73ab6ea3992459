// Fills the catalog from a repository: one snapshot at a time, in time order per entity, storing
// only what changed since the entity's previous snapshot (via the tree diff, which skips what is
// identical). `reindexRepository` rebuilds a repository's catalog from the repository alone.

import { Worker } from 'node:worker_threads';
import type { EntityManager } from '@mikro-orm/core';
import { isDamage } from '../../storage/damaged-items.ts';
import type { DamagedSnapshot, Repository, SnapshotManifest } from '../../storage/repository.ts';
import { diffSnapshots, snapshotItems } from '../../storage/snapshot-state.ts';
import {
  catalogBatchWriter,
  hasDocuments,
  indexRepositoryDocuments,
  onPostgres,
  rebuildAllDocuments,
  refreshCatalogStatistics,
  removeRepositoryItems,
  withoutForeignKeyChecks,
} from '../db/catalog-sql.ts';
import { CatalogRepository, CatalogSnapshot } from './entities.ts';
import type { FromWriter, SnapshotRow, ToWriter } from './index-worker.ts';
import { type CompactChange, compactAdded, compactChange, type WriteCounts, writeChanges } from './index-writer.ts';
import type { ItemFieldMap } from './item-fields.ts';

/**
 * The SQLite database file under an EntityManager, or undefined for an in-memory database and
 * for PostgreSQL (whose server writes concurrently already: no writer thread of our own).
 */
function databaseFile(em: EntityManager): string | undefined {
  if (onPostgres(em)) return undefined;
  const name = em.config.get('dbName');
  return name && name !== ':memory:' && !name.startsWith('file::memory:') ? name : undefined;
}

const BATCH = 1000;
/** Batches sent to the writer thread and not yet written (each about 1000 rows). */
const BATCHES_AHEAD = 4;

export { type CatalogFields, catalogFields, type ItemFieldMap, itemFieldMap } from './item-fields.ts';

/** Where the service of a snapshot's task keeps its items' name, path, author and date. */
export type FieldsOfTask = (task: string) => ItemFieldMap | Promise<ItemFieldMap>;

/** A snapshot's changes since the entity's previous one, by kind (a backup's added/updated/deleted). */
export interface ChangeCounts {
  added: number;
  updated: number;
  deleted: number;
}

export interface IndexReport {
  snapshots: number;
  versions: number;
  items: number;
}

/**
 * Indexes one snapshot (no-op when already indexed). `previous` is the entity's prior snapshot;
 * `fields` where its service keeps the catalog's fields (`itemFieldMap(plugin.searchFields)`).
 * `documents: false` skips the full-text documents (a reindex adds them all at the end).
 * `changes`, when given, is filled with the counts of the changes indexed (nothing when the
 * snapshot was indexed already: `report.snapshots` does not grow then).
 */
export async function indexSnapshot(
  em: EntityManager,
  repo: Repository,
  snapshot: { id: string; manifest: SnapshotManifest },
  previous: { id: string; manifest: SnapshotManifest } | undefined,
  fields: ItemFieldMap,
  report: IndexReport = { snapshots: 0, versions: 0, items: 0 },
  options: { documents: boolean; changes?: ChangeCounts } = { documents: true },
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
    const writer = await catalogBatchWriter(
      tx,
      { repository: repo.id, task: manifest.task, entity: manifest.entity },
      options,
    );
    // The entity's first snapshot into an empty scope: no item can exist yet, skip the lookups.
    const emptyScope = !previous && (await writer.isEmpty());
    for await (const batch of changeBatches(repo, snapshot.manifest, previous?.manifest, fields, options.changes))
      await writeChanges(writer, batch, snapshot.id, emptyScope, report);
  });
  report.snapshots++;
  return report;
}

/** A snapshot's changes since the entity's previous one, as compact rows in batches. */
async function* changeBatches(
  repo: Repository,
  manifest: SnapshotManifest,
  previous: SnapshotManifest | undefined,
  fields: ItemFieldMap,
  counts?: ChangeCounts,
): AsyncIterable<CompactChange[]> {
  let batch: CompactChange[] = [];
  if (previous) {
    for await (const change of diffSnapshots(repo, previous, manifest)) {
      if (counts) {
        if (change.change === 'added') counts.added++;
        else if (change.change === 'removed') counts.deleted++;
        else counts.updated++;
      }
      batch.push(compactChange(change, fields));
      if (batch.length >= BATCH) {
        yield batch;
        batch = [];
      }
    }
  } else {
    if (counts) counts.added += manifest.stats.items;
    // A first snapshot's items are all additions (made here: a wrapping generator costs each an async hop).
    for await (const entry of snapshotItems(repo, manifest)) {
      batch.push(compactAdded(entry, fields));
      if (batch.length >= BATCH) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length) yield batch;
}

/**
 * The reindex's writer thread (index-worker.ts): snapshots are written there, one transaction
 * each, while this thread reads the next batches from the repository.
 */
class WriterThread {
  readonly #worker: Worker;
  #acks: (() => void)[] = [];
  #committed: ((counts: WriteCounts) => void) | undefined;
  #failure: Error | undefined;
  #pending = 0;

  constructor(path: string, busyTimeoutMs: number) {
    this.#worker = new Worker(new URL('./index-worker.ts', import.meta.url), { workerData: { path, busyTimeoutMs } });
    this.#worker.on('message', (m: FromWriter) => {
      if (m.type === 'ack') {
        this.#pending--;
        this.#acks.shift()?.();
      } else if (m.type === 'committed') this.#committed?.(m.counts);
      else this.#fail(new Error(`catalog writer: ${m.message}`));
    });
    this.#worker.on('error', (err) => this.#fail(err));
    this.#worker.on('exit', (code) => this.#fail(new Error(`catalog writer stopped (exit code ${code})`)));
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    for (const wake of this.#acks.splice(0)) wake();
    this.#committed?.({ versions: 0, items: 0 });
  }

  #send(message: ToWriter): void {
    if (this.#failure) throw this.#failure;
    this.#worker.postMessage(message);
  }

  begin(snapshot: SnapshotRow, firstOfEntity: boolean): void {
    this.#send({ type: 'begin', snapshot, firstOfEntity, documents: false });
  }

  /** Sends a batch; waits while BATCHES_AHEAD are unwritten (memory stays bounded). */
  async write(changes: CompactChange[]): Promise<void> {
    this.#send({ type: 'batch', changes });
    this.#pending++;
    while (this.#pending > BATCHES_AHEAD && !this.#failure) await new Promise<void>((r) => this.#acks.push(r));
    if (this.#failure) throw this.#failure;
  }

  /** Drops the snapshot begun last, with everything sent for it. */
  rollback(): void {
    this.#send({ type: 'rollback' });
  }

  async commit(): Promise<WriteCounts> {
    const counts = new Promise<WriteCounts>((resolve) => {
      this.#committed = resolve;
    });
    this.#send({ type: 'commit' });
    const result = await counts;
    this.#committed = undefined;
    if (this.#failure) throw this.#failure;
    return result;
  }

  /** Ends the thread; what it has not committed is rolled back. */
  async close(): Promise<void> {
    this.#worker.removeAllListeners('exit');
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    this.#worker.postMessage({ type: 'close' } satisfies ToWriter);
    await exited;
  }
}

/**
 * Rebuilds the catalog of one repository from the repository alone (and, per task, where its
 * service keeps the catalog's fields: `fieldsOf`). Items are written without
 * full-text documents and the documents added in one statement at the end, with `indexed_at`; until
 * then the repository's items are browsable but not searchable. A reindex that stops half-way
 * (crash, kill) leaves `indexed_at` empty, and the next reindex repairs the full-text index before
 * starting over. A snapshot whose manifest or tree cannot be read is left out (passed to
 * `onDamaged`); the entity's next snapshot is then compared with the one before it.
 */
export async function reindexRepository(
  em: EntityManager,
  repo: Repository,
  location: string,
  fieldsOf: FieldsOfTask,
  options: { onDamaged?: (damaged: DamagedSnapshot) => void } = {},
): Promise<IndexReport> {
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
  const onDamaged = options.onDamaged ?? (() => undefined);
  const snapshots = await repo.listSnapshots({ onDamaged });
  const path = databaseFile(em);
  if (path) {
    // A database file: rows are written by a thread of their own while this one reads the trees.
    const writer = new WriterThread(path, em.config.get('driverOptions')?.timeout ?? 5000);
    try {
      for (const snapshot of snapshots) {
        const group = JSON.stringify([snapshot.manifest.task, snapshot.manifest.entity]);
        const before = previous.get(group);
        const { manifest } = snapshot;
        writer.begin(
          {
            id: snapshot.id,
            repository: repo.id,
            task: manifest.task,
            entity: manifest.entity,
            time: new Date(manifest.time).getTime(),
            parent: manifest.parent ?? null,
            items: manifest.stats.items,
            bytes: manifest.stats.bytes,
          },
          !before,
        );
        const fields = await fieldsOf(manifest.task);
        try {
          for await (const batch of changeBatches(repo, manifest, before?.manifest, fields)) await writer.write(batch);
        } catch (err) {
          if (!isDamage(err)) throw err;
          writer.rollback();
          onDamaged({ id: snapshot.id, reason: err.message });
          continue;
        }
        const counts = await writer.commit();
        report.items += counts.items;
        report.versions += counts.versions;
        report.snapshots++;
        previous.set(group, snapshot);
      }
    } finally {
      await writer.close();
    }
  } else {
    await withoutForeignKeyChecks(em, async () => {
      for (const snapshot of snapshots) {
        const group = JSON.stringify([snapshot.manifest.task, snapshot.manifest.entity]);
        const fields = await fieldsOf(snapshot.manifest.task);
        try {
          await indexSnapshot(em, repo, snapshot, previous.get(group), fields, report, { documents: false });
        } catch (err) {
          if (!isDamage(err)) throw err;
          onDamaged({ id: snapshot.id, reason: err.message });
          continue;
        }
        previous.set(group, snapshot);
      }
    });
  }
  await em.transactional(async (tx) => {
    await indexRepositoryDocuments(tx, repo.id);
    const record = await tx.findOneOrFail(CatalogRepository, { id: repo.id });
    record.indexedAt = new Date();
  });
  await refreshCatalogStatistics(em);
  return report;
}
