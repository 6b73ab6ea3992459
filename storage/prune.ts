// `prune`: removes what no snapshot references. Mark: every tree node and content blob reachable
// from any snapshot. Sweep, for packs older than the grace period or older than every live lock
// (a backup takes its lock before it uploads, so packs a running backup has uploaded but not yet
// committed are never touched, and a crashed backup's packs go at once):
//   - packs no index lists (left by a crashed backup) are deleted;
//   - packs with no live blob are deleted;
//   - packs mostly dead (≥ repackThreshold of their bytes) have their live blobs copied to new
//     packs, then are deleted.
// A live blob stored in several packs stays in one copy that reads and authenticates (the copy
// the index resolves is read first, and replaced by a good one if it is damaged).
// Order keeps every committed snapshot restorable at every step: new packs, then one index
// listing every pack that stays, then old index files removed, then old packs removed.
// A snapshot whose manifest cannot be read could use any blob: with one, nothing is removed.
// On a location with locks (Object Lock, immutability) prune never asks to delete a locked object:
// a locked pack stays (in the new index) instead of being deleted or repacked, a locked index file
// stays and so do the packs it names (it would name missing packs otherwise), and the report says
// what is reclaimed once the locks lapse; the next prune after that removes them.
// The caller holds the exclusive lock; the Repository object is stale afterwards (reopen it).

import { IntegrityError } from './crypto.ts';
import { lockedSince } from './locks.ts';
import type { PackedBlob } from './pack.ts';
import { packKey } from './pack.ts';
import type { Repository, SnapshotManifest } from './repository.ts';
import { snapshotTrees } from './snapshot-state.ts';
import { treeItems, treeNodeIds } from './tree.ts';

export interface PruneOptions {
  /**
   * Packs younger than this are left alone (default 24 hours) unless they are older than every
   * live lock (the caller's own included): then no running backup can own them.
   */
  graceMs?: number;
  /** Repack a pack when at least this share of its bytes is dead (default 0.5). */
  repackThreshold?: number;
  now?: () => number;
  onProgress?: (message: string) => void;
}

export interface PruneReport {
  snapshots: number;
  liveBlobs: number;
  packsDeleted: number;
  packsRepacked: number;
  bytesFreed: number;
  indexFilesReplaced: number;
  keptForGrace: number;
  /**
   * Snapshots whose manifest cannot be read. What they use is unknown, so when there are any,
   * prune deletes and rewrites nothing (`repair snapshots` removes them first).
   */
  damagedSnapshots: { id: string; reason: string }[];
  /** Packs prune would delete or repack but leaves while locked, and their bytes. */
  lockedPacks: number;
  lockedBytes: number;
  /** Superseded index files left while locked. */
  lockedIndexFiles: number;
  /** When the last of those locks lapses (ISO 8601): the next prune after it reclaims them. */
  reclaimableAfter: string | undefined;
}

/** Every tree node and content blob the snapshots reach. */
export async function markLive(repo: Repository, manifests: Iterable<SnapshotManifest>): Promise<Set<string>> {
  const live = new Set<string>();
  for (const manifest of manifests) {
    for (const tree of snapshotTrees(manifest)) {
      for await (const node of treeNodeIds(repo, tree)) live.add(node);
      for await (const item of treeItems(repo, tree)) for (const blob of item.content ?? []) live.add(blob);
    }
  }
  return live;
}

/** The end of an object's lock when it has not lapsed; undefined on sinks without locks. */
export async function lockEnd(repo: Repository, key: string, now: number): Promise<Date | undefined> {
  if (!repo.sink.capabilities.retention) return undefined;
  const until = (await repo.sink.head(key)).retainUntil;
  return until && until.getTime() > now ? until : undefined;
}

export async function pruneRepository(repo: Repository, options: PruneOptions = {}): Promise<PruneReport> {
  const graceMs = options.graceMs ?? 24 * 3_600_000;
  const threshold = options.repackThreshold ?? 0.5;
  const now = options.now ?? Date.now;
  const say = options.onProgress ?? (() => undefined);
  const report: PruneReport = {
    snapshots: 0,
    liveBlobs: 0,
    packsDeleted: 0,
    packsRepacked: 0,
    bytesFreed: 0,
    indexFilesReplaced: 0,
    keptForGrace: 0,
    damagedSnapshots: [],
    lockedPacks: 0,
    lockedBytes: 0,
    lockedIndexFiles: 0,
    reclaimableAfter: undefined,
  };
  const lapses = (until: Date) => {
    if (!report.reclaimableAfter || until.toISOString() > report.reclaimableAfter)
      report.reclaimableAfter = until.toISOString();
  };

  await repo.loadIndex();
  say('marking blobs in use');
  const snapshots = await repo.listSnapshots({ onDamaged: (d) => report.damagedSnapshots.push(d) });
  if (report.damagedSnapshots.length) {
    // Any blob might be one of theirs: keep everything rather than guess.
    say(`${report.damagedSnapshots.length} snapshot(s) cannot be read: keeping all data`);
    return report;
  }
  report.snapshots = snapshots.length;
  const live = await markLive(
    repo,
    snapshots.map((s) => s.manifest),
  );
  report.liveBlobs = live.size;

  const indexKeys: string[] = [];
  const indexed = new Map<string, { size: number; blobs: PackedBlob[] }>();
  const unreadable = new Set(repo.unreadableIndexFiles.map((f) => f.key));
  // Packs named by an index file that is locked (and so stays): they must stay too.
  const pinned = new Set<string>();
  const lockedIndex = new Set<string>();
  for await (const info of repo.sink.list('index/')) {
    indexKeys.push(info.key);
    const until = await lockEnd(repo, info.key, now());
    if (until) {
      lockedIndex.add(info.key);
      lapses(until);
    }
    // An unreadable index file's packs were indexed from their trailers: the new index lists them.
    if (unreadable.has(info.key)) continue;
    for (const pack of (await repo.readIndexFile(info.key)).packs) {
      indexed.set(pack.id, { size: pack.size, blobs: pack.blobs });
      if (until) pinned.add(pack.id);
    }
  }
  // Packs no index file named when the index was loaded (a crashed backup's, or those of an
  // unreadable index file) are swept like indexed ones, from what their trailers list.
  for (const [id, pack] of repo.recoveredPacks) if (!indexed.has(id)) indexed.set(id, pack);
  const since = await lockedSince(repo.sink);
  const present = new Map<string, { size: number; modified: number }>();
  for await (const info of repo.sink.list('data/')) {
    // A store that reports no modification time makes every pack young: nothing is deleted then.
    present.set(info.key.split('/').pop() as string, {
      size: info.size,
      modified: info.lastModified?.getTime() ?? Number.POSITIVE_INFINITY,
    });
  }

  const missing = [...indexed.keys()].filter((id) => !present.has(id));
  if (missing.length) {
    // Never rewrite the index of a damaged repository: that would hide what verify must report.
    throw new Error(
      `${missing.length} indexed pack(s) are missing (first: pack ${missing[0]}): prune changes nothing in a damaged repository; \`holdfast repo rebuild-index\` and \`repair snapshots --forget\` repair it`,
    );
  }

  // A live blob stored twice is kept only where the index resolves it, and that copy could be a
  // damaged one (index files load in name order, which is random): read it, so a damaged copy
  // gives way to a good one (Repository.readBlobs) before the other is counted dead.
  const duplicated = new Set<string>();
  for (const [id, entry] of indexed)
    for (const blob of entry.blobs) if (live.has(blob.id) && repo.locate(blob.id)?.pack !== id) duplicated.add(blob.id);
  for (const id of duplicated) await repo.readBlob(id).catch((err: unknown) => assertDamage(err));

  /** A pack to be removed that must stay: locked itself, or named by a locked index file. */
  const isLocked = async (id: string, size: number): Promise<boolean> => {
    const until = await lockEnd(repo, packKey(id), now());
    if (!until && !pinned.has(id)) return false;
    if (until) lapses(until);
    report.lockedPacks++;
    report.lockedBytes += size;
    return true;
  };
  say('sweeping packs');
  const toDelete: string[] = [];
  const toRepack: { id: string; blobs: PackedBlob[] }[] = [];
  const keep = new Map<string, { size: number; blobs: PackedBlob[] }>();
  for (const [id, info] of present) {
    const old = now() - info.modified >= graceMs || (since !== undefined && info.modified < since);
    const entry = indexed.get(id);
    if (!entry) {
      if (old && !(await isLocked(id, info.size))) toDelete.push(id);
      else if (!old) report.keptForGrace++;
      continue;
    }
    // A blob stored twice counts as live only where the index resolves it.
    const liveBlobs = entry.blobs.filter((b) => live.has(b.id) && repo.locate(b.id)?.pack === id);
    const allBytes = entry.blobs.reduce((a, b) => a + b.length, 0);
    const deadBytes = allBytes - liveBlobs.reduce((a, b) => a + b.length, 0);
    if (!old && liveBlobs.length < entry.blobs.length) report.keptForGrace++;
    const dead = old && liveBlobs.length === 0;
    const repack = !dead && old && deadBytes > 0 && deadBytes / allBytes >= threshold;
    if ((dead || repack) && (await isLocked(id, info.size))) keep.set(id, entry);
    else if (dead) toDelete.push(id);
    else if (repack) toRepack.push({ id, blobs: liveBlobs });
    else keep.set(id, entry);
  }

  if (toRepack.length) say(`repacking ${toRepack.length} packs`);
  const repacked: typeof toRepack = [];
  for (const pack of toRepack) {
    // A pack whose live blobs cannot all be read (truncated, damaged) stays as it is: copying what
    // reads and deleting it would lose the rest for good. `repair packs` is the way out.
    const plaintexts: Buffer[] = [];
    try {
      for (const blob of pack.blobs) plaintexts.push(await repo.readBlob(blob.id));
    } catch (err) {
      assertDamage(err);
      say(`keeping pack ${pack.id}: ${(err as Error).message} (\`holdfast repo repair packs ${pack.id}\`)`);
      keep.set(pack.id, indexed.get(pack.id) as { size: number; blobs: PackedBlob[] });
      continue;
    }
    for (const [i, blob] of pack.blobs.entries())
      await repo.saveBlob(blob.kind, plaintexts[i] as Buffer, { force: true });
    repacked.push(pack);
  }
  await repo.flush();
  for (const pack of repo.packsUploaded) keep.set(pack.id, { size: pack.size, blobs: pack.blobs });

  report.lockedIndexFiles = lockedIndex.size;
  // Locked index files stay whatever prune does: merging only the others avoids a new index file
  // at every run while they are locked.
  const replaceable = indexKeys.filter((k) => !lockedIndex.has(k));
  if (toDelete.length === 0 && repacked.length === 0 && replaceable.length <= 1 && unreadable.size === 0) return report;

  say('writing the new index');
  const newIndex = await repo.writeIndexFile({
    version: 1,
    packs: [...keep].map(([id, e]) => ({ id, size: e.size, blobs: e.blobs })),
  });
  for (const key of replaceable) {
    if (key === newIndex) continue;
    await repo.sink.delete(key);
    report.indexFilesReplaced++;
  }
  for (const key of repo.indexFilesWritten.filter((k) => k !== newIndex && !indexKeys.includes(k))) {
    // Index files written by the repack flush above are covered by the new index too. Only files
    // prune read or wrote itself are removed, never one that appeared meanwhile.
    await repo.sink.delete(key);
  }
  say(`deleting ${toDelete.length + repacked.length} packs`);
  for (const id of [...toDelete, ...repacked.map((p) => p.id)]) {
    await repo.sink.delete(packKey(id));
    report.bytesFreed += present.get(id)?.size ?? 0;
  }
  report.packsDeleted = toDelete.length;
  report.packsRepacked = repacked.length;
  // Damage notes about packs that are gone now say nothing any more.
  await repo.forgetDamageIn(new Set([...toDelete, ...repacked.map((p) => p.id)]));
  return report;
}

/** No copy of a blob reads: prune keeps what the index names (verify reports the damage). */
function assertDamage(err: unknown): void {
  if (!(err instanceof IntegrityError)) throw err;
}
