// Reading snapshots back: the item list (all of it, from a key, or one item), one item's content
// as a stream, and the difference between two snapshots. Memory stays flat: content streams one
// blob at a time (with one blob read ahead).
import { Readable } from 'node:stream';
import type { Repository, SnapshotManifest } from './repository.ts';
import { diffItemStreams, findSnapshotItem, snapshotItems } from './snapshot-state.ts';
import { diffTrees, type ItemChange, type ItemEntry } from './tree.ts';

export class SnapshotReader {
  readonly repo: Repository;
  readonly id: string;
  readonly manifest: SnapshotManifest;

  private constructor(repo: Repository, id: string, manifest: SnapshotManifest) {
    this.repo = repo;
    this.id = id;
    this.manifest = manifest;
  }

  static async open(repo: Repository, id: string): Promise<SnapshotReader> {
    return new SnapshotReader(repo, id, await repo.loadSnapshot(id));
  }

  items(from?: string): AsyncIterable<ItemEntry> {
    return snapshotItems(this.repo, this.manifest, from);
  }

  item(key: string): Promise<ItemEntry | undefined> {
    return findSnapshotItem(this.repo, this.manifest, key);
  }

  /** The item's content; every blob is authenticated as it is read. */
  content(item: ItemEntry): Readable {
    if (item.inline !== undefined) return Readable.from([Buffer.from(item.inline, 'base64')]);
    const repo = this.repo;
    const ids = item.content ?? [];
    return Readable.from(
      (async function* () {
        let next: Promise<Buffer> | undefined = ids[0] ? repo.readBlob(ids[0]) : undefined;
        for (let i = 0; i < ids.length; i++) {
          const current = next as Promise<Buffer>;
          next = ids[i + 1] ? repo.readBlob(ids[i + 1] as string) : undefined;
          // If the reader stops early, the read-ahead's failure must not go unhandled.
          next?.catch(() => undefined);
          yield await current;
        }
      })(),
    );
  }

  diff(other: SnapshotReader): AsyncIterable<ItemChange> {
    if (!this.manifest.layers?.length && !other.manifest.layers?.length) {
      return diffTrees(this.repo, this.manifest.tree, other.manifest.tree);
    }
    return diffItemStreams(this.items(), other.items());
  }
}
