// Items that earlier snapshots of an entity hold and a chosen snapshot does not: what was deleted
// at the source since (or left out by a full backup), for exports that include deleted items. The
// earlier snapshots' item lists (each sorted by key) are merged, the newest version of a key
// winning, and compared with the chosen snapshot's list in one streaming pass: memory holds one
// cursor per snapshot, never a list of keys.
import type { Repository } from '../../storage/repository.ts';
import type { SnapshotReader } from '../../storage/snapshot-reader.ts';
import { mergeLayers, snapshotItems } from '../../storage/snapshot-state.ts';
import { diffItemStreams, type ItemEntry } from '../../storage/tree.ts';

/** The entity's snapshots taken before `chosen`, oldest first. */
export async function earlierSnapshots(repo: Repository, chosen: SnapshotReader) {
  const all = await repo.listSnapshots();
  const { task, entity, time } = chosen.manifest;
  return all.filter(
    (s) => s.id !== chosen.id && s.manifest.task === task && s.manifest.entity === entity && s.manifest.time < time,
  );
}

/** Items of earlier snapshots missing from `chosen`, in key order, each in its latest version. */
export async function* itemsGoneSince(
  repo: Repository,
  chosen: SnapshotReader,
  signal: AbortSignal,
): AsyncGenerator<ItemEntry> {
  const earlier = await earlierSnapshots(repo, chosen);
  if (earlier.length === 0) return;
  const before = mergeLayers(earlier.map((s) => snapshotItems(repo, s.manifest)));
  for await (const change of diffItemStreams(before, chosen.items())) {
    signal.throwIfAborted();
    if (change.change === 'removed' && change.before && !change.before.deleted) yield change.before;
  }
}
