// The API service plugins back up through: open a snapshot for a (task, entity), stream items in
// any order with their content, mark unchanged ones as carried over from the parent snapshot
// (their content is not read again), delete ones gone from the source, then commit. Content is
// chunked and uploaded as it arrives; the item list is sorted with bounded memory and merged with
// the parent's tree at commit. Nothing is visible until commit writes the snapshot manifest.
import { hostname } from 'node:os';
import { releaseBuffer } from './buffers.ts';
import { chunkStream } from './chunker.ts';
import { ExternalSorter } from './external-sort.ts';
import type { Repository, SnapshotManifest } from './repository.ts';
import { snapshotItems } from './snapshot-state.ts';
import { type ItemEntry, SortedLookup, TreeBuilder, treeItems } from './tree.ts';

/** Content up to this size is kept inline in the item entry instead of in a data blob. */
export const INLINE_LIMIT = 4096;
/**
 * Chunks of one item being stored at once, by count and by bytes (chunks are 512 KiB–8 MiB):
 * a few average chunks overlap their compression and upload, but only one maximal chunk.
 */
const CHUNK_CONCURRENCY = 4;
const CHUNK_BYTES_IN_FLIGHT = 4 * 1024 * 1024;

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
  /**
   * Record collections: store each snapshot as the parent's base tree plus one delta tree of
   * everything changed since that base, so a run stores only its changes. A new full base is
   * written when the delta would exceed `compactAt` (default 0.25) of the collection.
   */
  layered?: boolean | { compactAt?: number };
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
  /** Operations are recorded one at a time: overlapping add() calls must not interleave a spill. */
  #recording: Promise<void> = Promise.resolve();
  readonly #started = new Date();
  #opCount = 0;

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
      // A view, not a copy: a copy of every small file's content came from Node's shared pool slabs.
      if (content.byteLength > 0)
        entry.inline = Buffer.from(content.buffer, content.byteOffset, content.byteLength).toString('base64');
    } else if (content) {
      if (content instanceof Uint8Array && content.byteLength < this.repo.config.chunker.minSize) {
        // Too small to hold a cut point: the content is its one chunk. Stored from the caller's
        // buffer (sealing copies it), sparing the chunker's two copies of every small file.
        entry.size = content.byteLength;
        entry.content = [(await this.repo.saveBlob('data', content)).id];
        await this.#record({ key: item.key, op: 'put', entry });
        return entry;
      }
      const source = content instanceof Uint8Array ? [content] : content;
      const ids: string[] = [];
      const window: { saved: Promise<string>; bytes: number }[] = [];
      let inFlight = 0;
      const next = async () => {
        const oldest = window.shift() as { saved: Promise<string>; bytes: number };
        inFlight -= oldest.bytes;
        ids.push(await oldest.saved);
      };
      for await (const chunk of chunkStream(toAsync(source), this.repo.gear, this.repo.config.chunker)) {
        entry.size += chunk.length;
        while (
          window.length > 0 &&
          (window.length >= CHUNK_CONCURRENCY || inFlight + chunk.length > CHUNK_BYTES_IN_FLIGHT)
        )
          await next();
        // The chunk is this writer's own copy (chunkStream): freed as soon as it is sealed or found stored.
        const saved = this.repo.saveBlob('data', chunk).then(
          (r) => {
            releaseBuffer(chunk);
            return r.id;
          },
          (err: unknown) => {
            releaseBuffer(chunk);
            throw err;
          },
        );
        // Awaited in order below; if an earlier one fails first, this one must not go unhandled.
        saved.catch(() => undefined);
        window.push({ saved, bytes: chunk.length });
        inFlight += chunk.length;
      }
      while (window.length > 0) await next();
      entry.content = ids;
    }
    await this.#record({ key: item.key, op: 'put', entry });
    return entry;
  }

  /**
   * Adds (or replaces) an item whose content is that of `source`, an item of this repository
   * (e.g. the parent's), without reading it: a moved or copied file, or content known by a hash.
   */
  async addExisting(item: NewItem, source: ItemEntry): Promise<ItemEntry> {
    this.#assertOpen();
    if (!item.key) throw new Error('an item needs a key');
    const entry: ItemEntry = {
      key: item.key,
      kind: item.kind,
      size: source.size,
      ...(item.meta ? { meta: item.meta } : {}),
      ...(source.content ? { content: source.content } : {}),
      ...(source.inline ? { inline: source.inline } : {}),
    };
    await this.#record({ key: item.key, op: 'put', entry });
    return entry;
  }

  #record(op: Op): Promise<void> {
    const next = this.#recording.then(() => this.#ops.add(op));
    this.#recording = next.catch(() => undefined);
    this.#opCount++;
    return next;
  }

  /** Keeps the parent snapshot's item as it was, without reading its content. */
  async carryOver(key: string): Promise<void> {
    this.#assertOpen();
    if (!this.options.parent) throw new Error('carryOver needs a parent snapshot');
    await this.#record({ key, op: 'carry' });
  }

  /** Marks an item as gone from the source (meaningful in incremental mode). */
  async delete(key: string): Promise<void> {
    this.#assertOpen();
    await this.#record({ key, op: 'delete' });
  }

  /** Writes the item tree(s) and the manifest; returns the new snapshot's id. */
  /**
   * Writes the trees and the manifest (the commit point). `beforeManifest` runs once everything
   * else is stored, just before the manifest is written: a caller that must still own the right to
   * commit (a job's lease) checks it there; when it throws, nothing is committed and the uploaded
   * packs are left unreferenced for prune.
   */
  async commit(
    extraStats: Record<string, number> = {},
    options: { beforeManifest?: () => Promise<void> } = {},
  ): Promise<{ id: string; manifest: SnapshotManifest }> {
    this.#assertOpen();
    await this.#recording;
    try {
      const parent = this.options.parent ? await this.repo.loadSnapshot(this.options.parent) : undefined;
      const layout = await this.#layout(parent);
      const base = new TreeBuilder(this.repo);
      let trees: { tree: string; layers?: string[] };
      let items: number;
      let bytes: number;
      let deltaItems = 0;
      if (layout === 'delta' && parent) {
        // Everything that differs from the parent's base goes into one delta tree: the parent's
        // delta with this run's operations applied, each resolved against the base by lookup.
        const delta = new TreeBuilder(this.repo);
        const state = { items: parent.stats.items, bytes: parent.stats.bytes };
        await this.#applyToDelta(parent, delta, state);
        trees = { tree: parent.tree, layers: [await delta.finish()] };
        items = state.items;
        bytes = state.bytes;
        deltaItems = delta.items;
      } else {
        for await (const entry of this.#merged(parent)) await base.add(entry);
        trees = { tree: await base.finish() };
        items = base.items;
        bytes = base.bytes;
      }
      const manifest: SnapshotManifest = {
        version: 1,
        time: this.#started.toISOString(),
        task: this.options.task,
        entity: this.options.entity,
        ...(this.options.parent ? { parent: this.options.parent } : {}),
        ...trees,
        stats: { items, bytes, ...(this.options.layered ? { deltaItems } : {}), ...extraStats },
        ...(this.options.tags?.length ? { tags: this.options.tags } : {}),
        host: hostname(),
      };
      const id = await this.repo.saveSnapshot(
        manifest,
        options.beforeManifest ? { beforeWrite: options.beforeManifest } : {},
      );
      this.#state = 'committed';
      return { id, manifest };
    } catch (err) {
      await this.abort();
      throw err;
    }
  }

  /** Full tree, or a delta over the parent's base while the delta stays small. */
  async #layout(parent: SnapshotManifest | undefined): Promise<'full' | 'delta'> {
    const layered = this.options.layered;
    if (!layered || !parent || this.options.mode !== 'incremental' || (parent.layers?.length ?? 0) > 1) return 'full';
    const compactAt = typeof layered === 'object' ? (layered.compactAt ?? 0.25) : 0.25;
    // An upper bound of the new delta: the parent's delta plus every operation of this run.
    const bound = (parent.layers?.length ? (parent.stats.deltaItems ?? 0) : 0) + this.#opCount;
    return bound > compactAt * Math.max(1, parent.stats.items) ? 'full' : 'delta';
  }

  /**
   * Writes the new delta: the parent's delta entries this run left alone as they are, and for each
   * key this run touched, its new state where it differs from the base (a tombstone where the base
   * has the item and the run deleted it). The counts follow from each touched key's state before
   * and after. Reads the parent's delta and the base nodes on the touched keys' paths, never the
   * whole base: the cost of a daily run is its changes, not the collection.
   */
  async #applyToDelta(
    parent: SnapshotManifest,
    delta: TreeBuilder,
    state: { items: number; bytes: number },
  ): Promise<void> {
    const base = new SortedLookup(this.repo, parent.tree);
    const layer = parent.layers?.[0];
    const earlier = layer ? treeItems(this.repo, layer)[Symbol.asyncIterator]() : undefined;
    let head = earlier ? await earlier.next() : undefined;
    const keepEarlierBefore = async (key: string | undefined) => {
      while (head && !head.done && (key === undefined || head.value.key < key)) {
        await delta.add(head.value);
        head = await (earlier as AsyncIterator<ItemEntry>).next();
      }
    };
    const apply = async (op: Op) => {
      await keepEarlierBefore(op.key);
      let inDelta: ItemEntry | undefined;
      if (head && !head.done && head.value.key === op.key) {
        inDelta = head.value;
        head = await (earlier as AsyncIterator<ItemEntry>).next();
      }
      const inBase = await base.find(op.key);
      const before = inDelta ? (inDelta.deleted ? undefined : inDelta) : inBase;
      let after: ItemEntry | undefined;
      if (op.op === 'put') after = op.entry;
      else if (op.op === 'carry') {
        if (!before)
          throw new Error(`cannot carry over ${JSON.stringify(op.key)}: the parent snapshot has no such item`);
        after = before;
      }
      state.items += (after ? 1 : 0) - (before ? 1 : 0);
      state.bytes += (after?.size ?? 0) - (before?.size ?? 0);
      if (!after) {
        if (inBase) await delta.add({ key: inBase.key, kind: inBase.kind, size: 0, deleted: true });
      } else if (!inBase || JSON.stringify(inBase) !== JSON.stringify(after)) await delta.add(after);
    };
    let pending: Op | undefined;
    for await (const op of this.#ops.sorted()) {
      if (pending && pending.key !== op.key) await apply(pending);
      pending = op; // a later operation on the same key replaces an earlier one
    }
    if (pending) await apply(pending);
    await keepEarlierBefore(undefined);
  }

  /** Drops the snapshot. Uploaded packs stay unreferenced until prune removes them. */
  async abort(): Promise<void> {
    if (this.#state === 'open') this.#state = 'aborted';
    await this.#ops.dispose();
  }

  /** New operations (sorted, last one per key wins) merged with the parent's items. */
  async *#merged(parentManifest: SnapshotManifest | undefined): AsyncIterable<ItemEntry> {
    const incremental = this.options.mode === 'incremental';
    const parent = parentManifest ? snapshotItems(this.repo, parentManifest)[Symbol.asyncIterator]() : undefined;
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
