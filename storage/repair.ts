// `repair snapshots`, after restic's: a snapshot whose manifest cannot be read is named, and
// removed with `forget`; a snapshot whose tree nodes or content blobs are damaged is written again
// without the items they held — everything else kept as it was, the manifest's time, task and
// entity unchanged, tagged "repaired" and naming the original — and the original is removed only
// with `forget`. Content blobs are checked against the index; with `readData` they are also read
// and authenticated. The caller holds the exclusive lock (and has this Repository hold it).

import { releaseBuffer } from './buffers.ts';
import {
  contentLengths,
  type DamagedRange,
  describeRange,
  isDamage,
  itemsPastDamage,
  readPastDamage,
} from './damaged-items.ts';
import type { Repository, SnapshotManifest } from './repository.ts';
import type { RestoreResult } from './restore.ts';
import { TreeBuilder } from './tree.ts';

export const REPAIRED_TAG = 'repaired';

export interface RepairOptions {
  /** Remove unreadable manifests, and the originals of rewritten snapshots. */
  forget?: boolean;
  /** Also read and authenticate every content blob (else: check that an index names it). */
  readData?: boolean;
  onProgress?: (message: string) => void;
}

export interface RepairReport {
  checked: number;
  intact: number;
  unreadable: { id: string; reason: string; removed: boolean }[];
  rewritten: {
    id: string;
    newId: string;
    /** Items dropped, counting those of damaged tree nodes (unknown for a damaged root). */
    droppedItems: number;
    dropped: RestoreResult['failed'];
    originalRemoved: boolean;
  }[];
}

export async function repairSnapshots(repo: Repository, options: RepairOptions = {}): Promise<RepairReport> {
  const report: RepairReport = { checked: 0, intact: 0, unreadable: [], rewritten: [] };
  const say = options.onProgress ?? (() => undefined);
  await repo.loadIndex();
  for (const id of await repo.snapshotIds()) {
    report.checked++;
    let manifest: SnapshotManifest;
    try {
      manifest = await repo.loadSnapshot(id);
    } catch (err) {
      if (!isDamage(err)) throw err;
      if (options.forget) await repo.forgetSnapshot(id);
      report.unreadable.push({ id, reason: err.message, removed: options.forget === true });
      continue;
    }
    say(`checking snapshot ${id}`);
    // First pass: find what is damaged, writing nothing.
    const ranges: DamagedRange[] = [];
    const badItems = new Map<string, string>();
    for await (const item of itemsPastDamage(repo, manifest, (r) => ranges.push(r))) {
      const problem = await contentProblem(repo, item.content ?? [], item, options.readData === true);
      if (problem) badItems.set(item.key, problem);
    }
    if (ranges.length === 0 && badItems.size === 0) {
      report.intact++;
      continue;
    }
    // Second pass: the same walk, keeping what is readable, as one plain tree.
    const builder = new TreeBuilder(repo);
    for await (const item of itemsPastDamage(repo, manifest, () => undefined)) {
      if (!badItems.has(item.key)) await builder.add(item);
    }
    const { layers: _layers, ...rest } = manifest;
    const repaired: SnapshotManifest = {
      ...rest,
      tree: await builder.finish(),
      stats: { ...manifest.stats, items: builder.items, bytes: builder.bytes },
      tags: [...(manifest.tags ?? []).filter((t) => t !== REPAIRED_TAG), REPAIRED_TAG],
      original: id,
    };
    const newId = await repo.saveSnapshot(repaired);
    if (options.forget) await repo.forgetSnapshot(id);
    report.rewritten.push({
      id,
      newId,
      droppedItems: manifest.stats.items - builder.items,
      dropped: [
        ...ranges.map((r) => ({ key: r.from, reason: describeRange(r) })),
        ...[...badItems].map(([key, reason]) => ({ key, reason })),
      ].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)),
      originalRemoved: options.forget === true,
    });
  }
  return report;
}

/** Why an item's content cannot be read back, or undefined when it can. */
async function contentProblem(
  repo: Repository,
  ids: string[],
  item: Parameters<typeof contentLengths>[1],
  readData: boolean,
): Promise<string | undefined> {
  const lengths = contentLengths(repo, item);
  if (typeof lengths === 'string') return lengths;
  if (!readData) return undefined;
  for (let i = 0; i < ids.length; i += 8) {
    const plains = await readPastDamage(repo, ids.slice(i, i + 8));
    const failed = plains.find((p) => p instanceof Error);
    for (const p of plains) if (!(p instanceof Error)) releaseBuffer(p);
    if (failed) return failed.message;
  }
  return undefined;
}
