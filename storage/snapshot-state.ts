// A snapshot's full state. Most snapshots are one item tree. A layered snapshot (record
// collections, where a few rows of millions change each day) is a base tree plus one delta tree
// holding every change since the base — changed items, and tombstones for deleted ones — so a
// daily backup stores only its changes, yet any snapshot's full state is one streaming merge of
// two sorted trees, never a replay of history.
import type { Repository, SnapshotManifest } from './repository.ts';
import {
  diffItemStreams,
  diffTrees,
  findItem,
  type ItemChange,
  type ItemEntry,
  SortedLookup,
  type TreeNodeCache,
  treeItems,
} from './tree.ts';

/** Every tree a snapshot refers to (for verify and prune). */
export function snapshotTrees(manifest: SnapshotManifest): string[] {
  return [manifest.tree, ...(manifest.layers ?? [])];
}

/** Merges sorted streams; for equal keys the later stream wins. */
export async function* mergeLayers(streams: AsyncIterable<ItemEntry>[]): AsyncIterable<ItemEntry> {
  const its = streams.map((s) => s[Symbol.asyncIterator]());
  const heads = await Promise.all(its.map((it) => it.next()));
  for (;;) {
    let min: string | undefined;
    for (const h of heads) if (!h.done && (min === undefined || h.value.key < min)) min = h.value.key;
    if (min === undefined) return;
    let winner: ItemEntry | undefined;
    for (let i = 0; i < heads.length; i++) {
      const h = heads[i] as IteratorResult<ItemEntry>;
      if (!h.done && h.value.key === min) {
        winner = h.value;
        heads[i] = await (its[i] as AsyncIterator<ItemEntry>).next();
      }
    }
    yield winner as ItemEntry;
  }
}

/** The snapshot's live items in key order (tombstones applied). */
export function snapshotItems(repo: Repository, manifest: SnapshotManifest, from?: string): AsyncIterable<ItemEntry> {
  // A plain tree is returned as it is: a wrapping generator would cost every item an async hop.
  if (!manifest.layers?.length) return treeItems(repo, manifest.tree, from);
  return liveItems(mergeLayers(snapshotTrees(manifest).map((t) => treeItems(repo, t, from))));
}

async function* liveItems(items: AsyncIterable<ItemEntry>): AsyncIterable<ItemEntry> {
  for await (const item of items) if (!item.deleted) yield item;
}

/** One live item by key; `nodes` keeps the tree nodes read for the next lookups. */
export async function findSnapshotItem(
  repo: Repository,
  manifest: SnapshotManifest,
  key: string,
  nodes?: TreeNodeCache,
): Promise<ItemEntry | undefined> {
  for (const tree of snapshotTrees(manifest).reverse()) {
    const item = await findItem(repo, tree, key, nodes);
    if (item) return item.deleted ? undefined : item;
  }
  return undefined;
}

/** What changed between two snapshots, in key order. */
export function diffSnapshots(
  repo: Repository,
  before: SnapshotManifest,
  after: SnapshotManifest,
): AsyncIterable<ItemChange> {
  if (!before.layers?.length && !after.layers?.length) return diffTrees(repo, before.tree, after.tree);
  if (before.tree === after.tree && (before.layers?.length ?? 0) <= 1 && (after.layers?.length ?? 0) <= 1) {
    return diffOverBase(repo, before.tree, before.layers?.[0], after.layers?.[0]);
  }
  return diffItemStreams(snapshotItems(repo, before), snapshotItems(repo, after));
}

async function* noItems(): AsyncIterable<ItemEntry> {}

/**
 * Two snapshots over one base tree (an entity's daily runs between compactions): only their delta
 * trees are listed — a key neither delta holds is the base's in both — and a key only one delta
 * holds is looked up in the base for the other side. Cost: the changes, not the collection.
 */
async function* diffOverBase(
  repo: Repository,
  base: string,
  beforeDelta: string | undefined,
  afterDelta: string | undefined,
): AsyncIterable<ItemChange> {
  if (beforeDelta === afterDelta) return;
  const lookup = new SortedLookup(repo, base);
  const live = (entry: ItemEntry | undefined) => (entry && !entry.deleted ? entry : undefined);
  const deltas = diffItemStreams(
    beforeDelta ? treeItems(repo, beforeDelta) : noItems(),
    afterDelta ? treeItems(repo, afterDelta) : noItems(),
  );
  for await (const c of deltas) {
    const before = c.change === 'added' ? await lookup.find(c.key) : live(c.before);
    const after = c.change === 'removed' ? await lookup.find(c.key) : live(c.after);
    if (before && after) {
      if (JSON.stringify(before) !== JSON.stringify(after)) yield { key: c.key, change: 'modified', before, after };
    } else if (before) yield { key: c.key, change: 'removed', before };
    else if (after) yield { key: c.key, change: 'added', after };
  }
}
