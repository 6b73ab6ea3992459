// The API service plugins back up through: open a snapshot for a (task, entity), stream items in
// any order with their content, mark unchanged ones as carried over from the parent snapshot
// (their content is not read again), delete ones gone from the source, then commit. Content is
// chunked and uploaded as it arrives; the item list is sorted with bounded memory and merged with
// the parent's tree at commit. Nothing is visible until commit writes the snapshot manifest.
import { hostname } from 'node:os';
import { chunkStream } from './chunker.ts';
import { ExternalSorter } from './external-sort.ts';
import type { Repository, SnapshotManifest } from './repository.ts';
import { type ItemEntry, TreeBuilder, treeItems } from './tree.ts';

/** Content up to this size is kept inline in the item entry instead of in a data blob. */
export const INLINE_LIMIT = 4096;
const CHUNK_CONCURRENCY = 4;

export interface SnapshotWriterOptions {
  task: string;
  entity: string;
  /** Snapshot this one follows; carry-over and incremental mode read from it. */
  parent?: string;
  /**
   * 'full' (default): the snapshot holds exactly the items added or carried over.
   * 'incremental': items not mentioned are carried over from the parent; delete() removes.
   */
  mode?: 'full' | 'incremental';
  tags?: string[];
  /** Memory for sorting the item list before it spills to temporary files. */
  sortMemoryBytes?: number;
  tmpDir?: string;
}

export interface NewItem {
  key: string;
  kind: string;
  meta?: Record<string, unknown>;
}

type Op = { key: string; op: 'put'; entry: ItemEntry } | { key: string; op: 'carry' } | { key: string; op: 'delete' };

export class SnapshotAbortedError extends Error {
  constructor() {
    super('the snapshot was aborted');
    this.name = 'SnapshotAbortedError';
  }
}

export class SnapshotWriter {
  readonly repo: Repository;
  readonly options: SnapshotWriterOptions;
  readonly #ops: ExternalSorter<Op>;
  #state: 'open' | 'committed' | 'aborted' = 'open';
  readonly #started = new Date();

  constructor(repo: Repository, options: SnapshotWriterOptions) {
    this.repo = repo;
    this.options = options;
    this.#ops = new ExternalSorter<Op>({
      ...(options.sortMemoryBytes ? { memoryBytes: options.sortMemoryBytes } : {}),
      ...(options.tmpDir ? { tmpDir: options.tmpDir } : {}),
    });
    if ((options.mode ?? 'full') === 'incremental' && !options.parent) {
      // Incremental without a parent is simply a full snapshot of what is added.
      this.options = { ...options, mode: 'full' };
    }
  }

  #assertOpen(): void {
    if (this.#state !== 'open') throw new Error(`the snapshot is already ${this.#state}`);
  }

  /** Adds (or replaces) an item; `content` is streamed, chunked and uploaded now. */
  async add(item: NewItem, content?: AsyncIterable<Uint8Array> | Uint8Array): Promise<ItemEntry> {
    this.#assertOpen();
    if (!item.key) throw new Error('an item needs a key');
    const entry: ItemEntry = { key: item.key, kind: item.kind, size: 0, ...(item.meta ? { meta: item.meta } : {}) };
    if (content instanceof Uint8Array && content.byteLength <= INLINE_LIMIT) {
      entry.size = content.byteLength;
      if (content.byteLength > 0) entry.inline = Buffer.from(content).toString('base64');
    } else if (content) {
      const source = content instanceof Uint8Array ? [content] : content;
      const ids: string[] = [];
      const window: Promise<string>[] = [];
      for await (const chunk of chunkStream(toAsync(source), this.repo.gear, this.repo.config.chunker)) {
        entry.size += chunk.length;
        window.push(this.repo.saveBlob('data', chunk).then((r) => r.id));
        if (window.length >= CHUNK_CONCURRENCY) ids.push(await (window.shift() as Promise<string>));
      }
      for (const pending of window) ids.push(await pending);
      entry.content = ids;
    }
    await this.#ops.add({ key: item.key, op: 'put', entry });
    return entry;
  }

  /** Keeps the parent snapshot's item as it was, without reading its content. */
  async carryOver(key: string): Promise<void> {
    this.#assertOpen();
    if (!this.options.parent) throw new Error('carryOver needs a parent snapshot');
    await this.#ops.add({ key, op: 'carry' });
  }

  /** Marks an item as gone from the source (meaningful in incremental mode). */
  async delete(key: string): Promise<void> {
    this.#assertOpen();
    await this.#ops.add({ key, op: 'delete' });
  }

  /** Writes the item tree and the manifest; returns the new snapshot's id. */
  async commit(extraStats: Record<string, number> = {}): Promise<{ id: string; manifest: SnapshotManifest }> {
    this.#assertOpen();
    const tree = new TreeBuilder(this.repo);
    try {
      for await (const entry of this.#merged()) await tree.add(entry);
      const root = await tree.finish();
      const manifest: SnapshotManifest = {
        version: 1,
        time: this.#started.toISOString(),
        task: this.options.task,
        entity: this.options.entity,
        ...(this.options.parent ? { parent: this.options.parent } : {}),
        tree: root,
        stats: { items: tree.items, bytes: tree.bytes, ...extraStats },
        ...(this.options.tags?.length ? { tags: this.options.tags } : {}),
        host: hostname(),
      };
      const id = await this.repo.saveSnapshot(manifest);
      this.#state = 'committed';
      return { id, manifest };
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Drops the snapshot. Uploaded packs stay unreferenced until prune removes them. */
  async abort(): Promise<void> {
    if (this.#state === 'open') this.#state = 'aborted';
    await this.#ops.dispose();
  }

  /** New operations (sorted, last one per key wins) merged with the parent's items. */
  async *#merged(): AsyncIterable<ItemEntry> {
    const incremental = this.options.mode === 'incremental';
    const parent = this.options.parent
      ? treeItems(this.repo, (await this.repo.loadSnapshot(this.options.parent)).tree)[Symbol.asyncIterator]()
      : undefined;
    let p = parent ? await parent.next() : undefined;
    const advanceParentTo = async function* (key: string | undefined): AsyncIterable<ItemEntry> {
      while (p && !p.done && (key === undefined || p.value.key < key)) {
        if (incremental) yield p.value;
        p = await (parent as AsyncIterator<ItemEntry>).next();
      }
    };
    let pending: Op | undefined;
    const emit = async function* (op: Op): AsyncIterable<ItemEntry> {
      yield* advanceParentTo(op.key);
      const fromParent = p && !p.done && p.value.key === op.key ? p.value : undefined;
      if (fromParent) p = await (parent as AsyncIterator<ItemEntry>).next();
      if (op.op === 'put') yield op.entry;
      else if (op.op === 'carry') {
        if (!fromParent)
          throw new Error(`cannot carry over ${JSON.stringify(op.key)}: the parent snapshot has no such item`);
        yield fromParent;
      }
    };
    for await (const op of this.#ops.sorted()) {
      if (pending && pending.key !== op.key) yield* emit(pending);
      pending = op; // a later operation on the same key replaces an earlier one
    }
    if (pending) yield* emit(pending);
    yield* advanceParentTo(undefined);
  }
}

async function* toAsync(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): AsyncIterable<Uint8Array> {
  yield* source;
}
