// The reindex's SQLite writer thread. A reindex is CPU-bound in two halves of similar cost:
// reading and decoding the snapshot trees, and SQLite inserting rows. The main thread does the
// first and sends each batch of compact changes here, where a connection of this thread's own
// writes them, so the two overlap on two cores. Each snapshot is one transaction here, as it is in
// process: a crash rolls it back, and the catalog file is never left half-written.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { batchWriterOn, type CatalogBatchWriter } from '../db/sqlite-catalog.ts';
import { type CompactChange, type WriteCounts, writeChanges } from './index-writer.ts';

export interface SnapshotRow {
  id: string;
  repository: string;
  task: string;
  entity: string;
  /** Epoch milliseconds (how the ORM stores datetimes in SQLite). */
  time: number;
  parent: string | null;
  items: number;
  bytes: number;
}

export type ToWriter =
  | { type: 'begin'; snapshot: SnapshotRow; firstOfEntity: boolean; documents: boolean }
  | { type: 'batch'; changes: CompactChange[] }
  | { type: 'commit' }
  /** Drops the snapshot being written (its tree turned out to be damaged). */
  | { type: 'rollback' }
  /** Rolls back what is not committed, closes the connection and ends the thread. */
  | { type: 'close' };

export type FromWriter =
  | { type: 'ack' }
  | { type: 'committed'; counts: WriteCounts }
  | { type: 'error'; message: string };

if (parentPort) {
  const port = parentPort;
  const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number };
  const db = new Database(path, { timeout: busyTimeoutMs });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  // As in process (withoutForeignKeyChecks): only rows whose parents were just written are inserted.
  db.pragma('foreign_keys = off');
  let open: { writer: CatalogBatchWriter; snapshotId: string; emptyScope: boolean; counts: WriteCounts } | undefined;
  let failed = false;
  const rollback = () => {
    if (db.inTransaction) db.exec('rollback');
    open = undefined;
  };
  // The writer's calls answer at once (prepared statements): a message is done before the next.
  port.on('message', async (message: ToWriter) => {
    if (message.type === 'close') {
      try {
        rollback();
      } finally {
        db.close();
        port.close();
      }
      return;
    }
    if (failed) return;
    try {
      if (message.type === 'begin') {
        const s = message.snapshot;
        db.exec('begin immediate');
        db.prepare(
          'insert into catalog_snapshots (id, repository_id, task, entity, time, parent, items, bytes) values (?, ?, ?, ?, ?, ?, ?, ?)',
        ).run(s.id, s.repository, s.task, s.entity, s.time, s.parent, s.items, s.bytes);
        const writer = batchWriterOn(db, s, { documents: message.documents });
        open = {
          writer,
          snapshotId: s.id,
          emptyScope: message.firstOfEntity && (await writer.isEmpty()),
          counts: { versions: 0, items: 0 },
        };
      } else if (message.type === 'batch') {
        if (!open) throw new Error('a batch outside a snapshot');
        await writeChanges(open.writer, message.changes, open.snapshotId, open.emptyScope, open.counts);
        port.postMessage({ type: 'ack' } satisfies FromWriter);
      } else if (message.type === 'rollback') {
        rollback();
      } else {
        if (!open) throw new Error('a commit outside a snapshot');
        db.exec('commit');
        const { counts } = open;
        open = undefined;
        port.postMessage({ type: 'committed', counts } satisfies FromWriter);
      }
    } catch (err) {
      failed = true;
      try {
        rollback();
      } catch {
        // The transaction is gone with the error.
      }
      port.postMessage({ type: 'error', message: (err as Error).message } satisfies FromWriter);
    }
  });
}
