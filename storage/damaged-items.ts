// A snapshot's items read past damage: a tree node that cannot be read (its blob missing, failing
// authentication or not parsing) is reported with the range of keys it held, and the walk goes on
// with its next sibling. Restores fall back to it when the normal walk meets damage, and
// `repair snapshots` uses it to find what to drop. Nodes are read one at a time: this is the slow
// path, for damaged snapshots only.
import { IntegrityError } from './crypto.ts';
import type { Repository, SnapshotManifest } from './repository.ts';
import { mergeLayers, snapshotTrees } from './snapshot-state.ts';
import type { ItemEntry } from './tree.ts';

/** The keys from `from` up to (not including) `to` (to the end when absent) could not be read. */
export interface DamagedRange {
  node: string;
  from: string;
  to?: string | undefined;
  /** How many items the node held, when its parent says (not for a snapshot's root). */
  items?: number | undefined;
  reason: string;
}

type Node = { items: ItemEntry[] } | { children: { first: string; id: string; items?: number }[] };

/** An error that means the repository's data is damaged (rather than the sink being unreachable). */
export function isDamage(err: unknown): err is Error {
  return err instanceof IntegrityError || err instanceof SyntaxError;
}

async function* walk(
  repo: Repository,
  id: string,
  range: { from: string; to?: string | undefined; items?: number | undefined },
  after: string | undefined,
  onDamage: (range: DamagedRange) => void,
): AsyncIterable<ItemEntry> {
  let node: Node;
  try {
    node = JSON.parse((await repo.readBlob(id)).toString('utf8')) as Node;
  } catch (err) {
    if (!isDamage(err)) throw err;
    onDamage({ node: id, ...range, reason: err.message });
    return;
  }
  if ('items' in node) {
    for (const item of node.items) if (after === undefined || item.key > after) yield item;
    return;
  }
  for (let i = 0; i < node.children.length; i++) {
    const child = node.children[i] as { first: string; id: string; items?: number };
    const next = node.children[i + 1];
    // Every key of this child sorts before the next child's first key: all already delivered.
    if (after !== undefined && next && next.first <= after) continue;
    const childRange = { from: child.first, to: next?.first ?? range.to, items: child.items };
    yield* walk(repo, child.id, childRange, after, onDamage);
  }
}

/**
 * The snapshot's live items with keys after `after` (all when absent), in key order, skipping
 * what damaged nodes held. For a layered snapshot, a damaged delta node also hides the base's
 * items in its range: they may be stale or deleted versions.
 */
export async function* itemsPastDamage(
  repo: Repository,
  manifest: SnapshotManifest,
  onDamage: (range: DamagedRange) => void,
  after?: string,
): AsyncIterable<ItemEntry> {
  const trees = snapshotTrees(manifest);
  if (trees.length === 1) {
    yield* walk(repo, manifest.tree, { from: '' }, after, onDamage);
    return;
  }
  const hidden: DamagedRange[] = [];
  const walks = trees.map((tree, layer) =>
    walk(repo, tree, { from: '' }, after, (range) => {
      if (layer > 0) hidden.push(range);
      onDamage(range);
    }),
  );
  for await (const item of mergeLayers(walks)) {
    if (item.deleted) continue;
    if (hidden.some((r) => item.key >= r.from && (r.to === undefined || item.key < r.to))) continue;
    yield item;
  }
}

/** How a damaged range reads in a list of failed items. */
export function describeRange(range: DamagedRange): string {
  const to = range.to === undefined ? 'the end' : JSON.stringify(range.to);
  return `the items from ${JSON.stringify(range.from)} up to ${to} are unreadable (tree node ${range.node}: ${range.reason})`;
}

/**
 * Each content blob's plaintext length (from the index), or why the item cannot be restored: a
 * blob no index names, or lengths that do not add up to the item's size.
 */
export function contentLengths(repo: Repository, item: ItemEntry): number[] | string {
  const lengths: number[] = [];
  for (const id of item.content ?? []) {
    const at = repo.locate(id);
    if (!at) return `blob ${id} is not in any index`;
    lengths.push(at.rawLength);
  }
  const total = lengths.reduce((a, b) => a + b, 0);
  if (lengths.length > 0 && total !== item.size) return `its blobs hold ${total} bytes, the item says ${item.size}`;
  return lengths;
}

/** Reads a group of blobs; when it holds a damaged one, reads them one by one so only those fail. */
export async function readPastDamage(repo: Repository, ids: string[]): Promise<(Buffer | Error)[]> {
  try {
    return await repo.readBlobs(ids);
  } catch (err) {
    if (!isDamage(err)) throw err;
  }
  const out: (Buffer | Error)[] = [];
  for (const id of ids) {
    out.push(
      await repo.readBlob(id).catch((err: unknown) => {
        if (!isDamage(err)) throw err;
        return err;
      }),
    );
  }
  return out;
}
