// `rebuild-index`: replaces every index file with index files made from the packs' own trailers
// (each pack's sealed blob list, read with a ranged read of its last 64 KiB). Heals an index file
// that fails to decrypt or parse, a deleted one, and packs no index names (a crashed backup's).
// New index files are written before the old ones are removed, so the repository always has an
// index. A pack whose trailer is unreadable keeps the entry a readable old index file has for it;
// without one it is reported (its blobs are then unindexed, and verify names what needs them).
// The caller holds the exclusive lock; the Repository object is stale afterwards (reopen it).
import { IntegrityError } from './crypto.ts';
import { type IndexedPack, listPacks, type Repository } from './repository.ts';

export interface RebuildIndexReport {
  /** Packs now indexed. */
  packs: number;
  blobs: number;
  indexFilesWritten: number;
  indexFilesRemoved: number;
  /** Packs that could not be indexed, with the reason. */
  problems: { object: string; message: string }[];
}

export interface RebuildIndexOptions {
  onProgress?: (message: string) => void;
}

/** Blobs listed per new index file (~200 bytes each as JSON: index files of a few MiB). */
const BLOBS_PER_INDEX_FILE = 20_000;
const TRAILER_READS_AT_ONCE = 8;

export async function rebuildIndex(repo: Repository, options: RebuildIndexOptions = {}): Promise<RebuildIndexReport> {
  const say = options.onProgress ?? (() => undefined);
  const report: RebuildIndexReport = { packs: 0, blobs: 0, indexFilesWritten: 0, indexFilesRemoved: 0, problems: [] };
  const oldIndexFiles: string[] = [];
  for await (const info of repo.sink.list('index/')) oldIndexFiles.push(info.key);
  const packs = [...(await listPacks(repo.sink))].sort((a, b) => a[0].localeCompare(b[0]));
  say(`reading the trailers of ${packs.length} packs`);

  const unreadable: [string, number, string][] = [];
  let batch: IndexedPack[] = [];
  let batchBlobs = 0;
  const written = new Set<string>();
  const add = async (pack: IndexedPack) => {
    batch.push(pack);
    batchBlobs += pack.blobs.length;
    report.packs++;
    report.blobs += pack.blobs.length;
    if (batchBlobs >= BLOBS_PER_INDEX_FILE) await writeBatch();
  };
  const writeBatch = async () => {
    if (batch.length === 0) return;
    const packsOfFile = batch;
    batch = [];
    batchBlobs = 0;
    written.add(await repo.writeIndexFile({ version: 1, packs: packsOfFile }));
  };

  let next = 0;
  const worker = async () => {
    while (next < packs.length) {
      const [id, size] = packs[next++] as [string, number];
      try {
        await add({ id, size, blobs: await repo.readPackIndex(id, size) });
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        unreadable.push([id, size, err.message]);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TRAILER_READS_AT_ONCE, packs.length) }, worker));

  if (unreadable.length) {
    // Keep what a readable old index file says about a pack whose trailer is damaged.
    const fromOld = new Map<string, IndexedPack>();
    for (const key of oldIndexFiles) {
      try {
        for (const pack of (await repo.readIndexFile(key)).packs) fromOld.set(pack.id, pack);
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
      }
    }
    for (const [id, size, message] of unreadable) {
      const old = fromOld.get(id);
      if (old && old.size === size) await add(old);
      else report.problems.push({ object: `pack ${id}`, message: `not indexed: ${message}` });
    }
  }
  await writeBatch();
  report.indexFilesWritten = written.size;

  say(`removing ${oldIndexFiles.filter((k) => !written.has(k)).length} old index files`);
  for (const key of oldIndexFiles) {
    if (written.has(key)) continue;
    await repo.sink.delete(key);
    report.indexFilesRemoved++;
  }
  return report;
}
