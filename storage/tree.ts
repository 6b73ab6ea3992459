// Item trees: a snapshot's items sorted by key, cut into leaf nodes at content-defined
// boundaries (after a key whose hash matches a mask), and inner nodes listing children the same
// way, up to one root. A changed item rewrites its leaf and the nodes above it; every other node
// keeps its id and dedups against earlier snapshots.
import type { Repository } from './repository.ts';

export interface ItemEntry {
  /** Unique within the snapshot; the tree is ordered by it (JavaScript string order). */
  key: string;
  /** 'file', 'folder', 'record', or a service's own kind. */
  kind: string;
  /** Content size in bytes. */
  size: number;
  /** Service metadata: path, name, modified, author, revision, source content hash… */
  meta?: Record<string, unknown>;
  /** Ids of the data blobs holding the content, in order. */
  content?: string[];
  /** Small content kept in the entry itself (base64). */
  inline?: string;
  /** In a delta layer: the item was deleted since the base (a tombstone). */
  deleted?: true;
}

interface ChildRef {
  first: string;
  id: string;
  items: number;
  bytes: number;
}

type TreeNode = { v: 1; items: ItemEntry[] } | { v: 1; children: ChildRef[] };

export interface TreeShape {
  /** Average leaf size in items is 2^leafBits. */
  leafBits: number;
  minLeaf: number;
  maxLeaf: number;
  maxLeafBytes: number;
  nodeBits: number;
  minNode: number;
  maxNode: number;
}

export const DEFAULT_TREE_SHAPE: TreeShape = {
  leafBits: 6,
  minLeaf: 8,
  maxLeaf: 2048,
  maxLeafBytes: 1024 * 1024,
  nodeBits: 6,
  minNode: 4,
  maxNode: 1024,
};

/** FNV-1a over the key's UTF-16 code units. */
function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Builds a tree from entries given in strictly increasing key order; memory: one open node per level. */
export class TreeBuilder {
  readonly #repo: Repository;
  readonly #shape: TreeShape;
  #leaf: ItemEntry[] = [];
  #leafBytes = 0;
  readonly #levels: ChildRef[][] = [];
  #last: string | undefined;
  items = 0;
  bytes = 0;

  constructor(repo: Repository, shape: TreeShape = DEFAULT_TREE_SHAPE) {
    this.#repo = repo;
    this.#shape = shape;
  }

  async add(entry: ItemEntry): Promise<void> {
    if (this.#last !== undefined && !(entry.key > this.#last)) {
      throw new Error(`tree entries out of order: ${JSON.stringify(entry.key)} after ${JSON.stringify(this.#last)}`);
    }
    this.#last = entry.key;
    this.#leaf.push(entry);
    this.#leafBytes +=
      entry.key.length +
      (entry.inline?.length ?? 0) +
      (entry.content?.length ?? 0) * 66 +
      (entry.meta ? JSON.stringify(entry.meta).length : 0) +
      64;
    this.items++;
    this.bytes += entry.size;
    const s = this.#shape;
    const n = this.#leaf.length;
    const boundary = n >= s.minLeaf && (keyHash(entry.key) & ((1 << s.leafBits) - 1)) === 0;
    if (boundary || n >= s.maxLeaf || this.#leafBytes >= s.maxLeafBytes) await this.#closeLeaf();
  }

  async #closeLeaf(): Promise<void> {
    if (this.#leaf.length === 0) return;
    const items = this.#leaf;
    this.#leaf = [];
    this.#leafBytes = 0;
    const ref = await this.#save(
      { v: 1, items },
      items[0]?.key ?? '',
      items.length,
      items.reduce((a, e) => a + e.size, 0),
    );
    await this.#push(0, ref);
  }

  async #push(level: number, ref: ChildRef): Promise<void> {
    this.#levels[level] ??= [];
    const list = this.#levels[level];
    list.push(ref);
    const s = this.#shape;
    const boundary =
      list.length >= s.minNode && (Number.parseInt(ref.id.slice(0, 8), 16) & ((1 << s.nodeBits) - 1)) === 0;
    if (boundary || list.length >= s.maxNode) await this.#closeNode(level);
  }

  async #closeNode(level: number): Promise<void> {
    const children = this.#levels[level] ?? [];
    if (children.length === 0) return;
    this.#levels[level] = [];
    const ref = await this.#save(
      { v: 1, children },
      children[0]?.first ?? '',
      children.reduce((a, c) => a + c.items, 0),
      children.reduce((a, c) => a + c.bytes, 0),
    );
    await this.#push(level + 1, ref);
  }

  async #save(node: TreeNode, first: string, items: number, bytes: number): Promise<ChildRef> {
    const { id } = await this.#repo.saveBlob('tree', Buffer.from(JSON.stringify(node)));
    return { first, id, items, bytes };
  }

  /** Closes every open node and returns the root's id. */
  async finish(): Promise<string> {
    await this.#closeLeaf();
    for (let level = 0; ; level++) {
      const open = this.#levels[level] ?? [];
      const above = this.#levels.slice(level + 1).some((l) => l.length > 0);
      if (!above && open.length <= 1) {
        if (open.length === 1) return (open[0] as ChildRef).id;
        if (level === 0) {
          // No items at all: an empty leaf is the root.
          return (await this.#save({ v: 1, items: [] }, '', 0, 0)).id;
        }
      }
      await this.#closeNode(level);
    }
  }
}

async function readNode(repo: Repository, id: string): Promise<TreeNode> {
  return JSON.parse((await repo.readBlob(id)).toString('utf8')) as TreeNode;
}

/**
 * Children read together, and groups read ahead of the one being iterated, per level: a tree's
 * nodes sit next to each other in its packs, so a group is usually one ranged read.
 */
const GROUP_NODES = 16;
const GROUPS_AHEAD = 1;

/** Every item of a tree, in key order. Memory: a few groups of nodes per level. */
export function treeItems(repo: Repository, root: string, from?: string): AsyncIterable<ItemEntry> {
  return walk(repo, readNode(repo, root), from);
}

async function* walk(
  repo: Repository,
  nodePromise: Promise<TreeNode>,
  from: string | undefined,
): AsyncIterable<ItemEntry> {
  const node = await nodePromise;
  if ('items' in node) {
    for (const item of node.items) if (from === undefined || item.key >= from) yield item;
    return;
  }
  // Skip children that end before `from` (the next child starts at or before it).
  const children = node.children.filter((_, i) => {
    const next = node.children[i + 1];
    return from === undefined || !next || next.first > from;
  });
  const groups: (Promise<TreeNode[]> | undefined)[] = [];
  const fetch = (g: number) => {
    const start = g * GROUP_NODES;
    if (start < children.length && !groups[g]) {
      const ids = children.slice(start, start + GROUP_NODES).map((c) => c.id);
      const read = repo.readBlobs(ids).then((plains) => plains.map((p) => JSON.parse(p.toString('utf8')) as TreeNode));
      read.catch(() => undefined); // a failure surfaces when the group is reached
      groups[g] = read;
    }
  };
  for (let g = 0; g * GROUP_NODES < children.length; g++) {
    for (let k = g; k <= g + GROUPS_AHEAD; k++) fetch(k);
    const nodes = await (groups[g] as Promise<TreeNode[]>);
    groups[g] = undefined; // fetched groups are never fetched again: fetch only looks ahead
    for (const child of nodes) {
      // Leaves yield here: every `yield*` level costs each item an extra async hop.
      if ('items' in child) {
        for (const item of child.items) if (from === undefined || item.key >= from) yield item;
      } else yield* walk(repo, Promise.resolve(child), from);
    }
  }
}

/**
 * Tree nodes read for lookups in any key order (a backup asking for the previous version of each
 * row it stores): nodes are content-addressed, so a node read once is valid for good; the upper
 * levels every path shares are read once instead of once a key. Holds at most `limit` nodes,
 * the least recently used dropped first.
 */
export class TreeNodeCache {
  readonly #nodes = new Map<string, Promise<TreeNode>>();
  readonly #limit: number;

  constructor(limit = 64) {
    this.#limit = limit;
  }

  read(repo: Repository, id: string): Promise<TreeNode> {
    const cached = this.#nodes.get(id);
    if (cached) {
      this.#nodes.delete(id);
      this.#nodes.set(id, cached);
      return cached;
    }
    const read = readNode(repo, id);
    // A failed read is not kept: the next lookup tries again (and reports its own error).
    read.catch(() => this.#nodes.delete(id));
    this.#nodes.set(id, read);
    if (this.#nodes.size > this.#limit) this.#nodes.delete(this.#nodes.keys().next().value as string);
    return read;
  }
}

/** One item by key, reading only the nodes on its path (one node per level; `nodes` keeps them). */
export async function findItem(
  repo: Repository,
  root: string,
  key: string,
  nodes?: TreeNodeCache,
): Promise<ItemEntry | undefined> {
  if (!nodes) return new SortedLookup(repo, root).find(key);
  let id = root;
  for (;;) {
    const node = await nodes.read(repo, id);
    if ('items' in node) {
      const item = node.items[lastAtOrBefore(node.items, key, (e) => e.key)];
      return item?.key === key ? item : undefined;
    }
    const child = node.children[lastAtOrBefore(node.children, key, (c) => c.first)];
    if (!child) return undefined;
    id = child.id;
  }
}

/**
 * Looks keys up in one tree, given in increasing order, reading only the nodes on their paths and
 * each of those once: a layered snapshot's few changes resolved against its base tree without
 * listing the base.
 */
export class SortedLookup {
  readonly #repo: Repository;
  readonly #root: string;
  /** The nodes on the last key's path, root first. */
  readonly #path: { id: string; node: TreeNode }[] = [];
  #last: string | undefined;

  constructor(repo: Repository, root: string) {
    this.#repo = repo;
    this.#root = root;
  }

  async find(key: string): Promise<ItemEntry | undefined> {
    if (this.#last !== undefined && key < this.#last) {
      throw new Error(`keys looked up out of order: ${JSON.stringify(key)} after ${JSON.stringify(this.#last)}`);
    }
    this.#last = key;
    let id = this.#root;
    for (let level = 0; ; level++) {
      let step = this.#path[level];
      if (step?.id !== id) {
        step = { id, node: await readNode(this.#repo, id) };
        this.#path.length = level;
        this.#path.push(step);
      }
      const node = step.node;
      if ('items' in node) {
        const at = lastAtOrBefore(node.items, key, (e) => e.key);
        const item = node.items[at];
        return item?.key === key ? item : undefined;
      }
      const child = node.children[lastAtOrBefore(node.children, key, (c) => c.first)];
      if (!child) return undefined;
      id = child.id;
    }
  }
}

/** The index of the last element whose key is at or before `key` (-1: none). */
function lastAtOrBefore<T>(list: T[], key: string, keyOf: (e: T) => string): number {
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (keyOf(list[mid] as T) <= key) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/** The ids of every node of a tree (for verify and prune). */
export async function* treeNodeIds(repo: Repository, root: string): AsyncIterable<string> {
  yield root;
  const node = await readNode(repo, root);
  if ('children' in node) for (const child of node.children) yield* treeNodeIds(repo, child.id);
}

export interface ItemChange {
  key: string;
  change: 'added' | 'removed' | 'modified';
  before?: ItemEntry;
  after?: ItemEntry;
}

/** What changed between two trees, in key order (identical trees cost nothing). */
export async function* diffTrees(repo: Repository, before: string, after: string): AsyncIterable<ItemChange> {
  if (before === after) return;
  yield* diffItemStreams(treeItems(repo, before), treeItems(repo, after));
}

/** Compares two item streams sorted by key. */
export async function* diffItemStreams(
  before: AsyncIterable<ItemEntry>,
  after: AsyncIterable<ItemEntry>,
): AsyncIterable<ItemChange> {
  const a = before[Symbol.asyncIterator]();
  const b = after[Symbol.asyncIterator]();
  let x = await a.next();
  let y = await b.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && x.value.key < y.value.key)) {
      yield { key: (x.value as ItemEntry).key, change: 'removed', before: x.value as ItemEntry };
      x = await a.next();
    } else if (x.done || y.value.key < x.value.key) {
      yield { key: y.value.key, change: 'added', after: y.value };
      y = await b.next();
    } else {
      if (JSON.stringify(x.value) !== JSON.stringify(y.value)) {
        yield { key: x.value.key, change: 'modified', before: x.value, after: y.value };
      }
      x = await a.next();
      y = await b.next();
    }
  }
}
