// Reading snapshots back: the item list (all of it, from a key, or one item), one item's content
// as a stream, and the difference between two snapshots. Memory stays flat: content streams one
// blob at a time (with one blob read ahead).
import { Readable } from 'node:stream';
import type { Repository, SnapshotManifest } from './repository.ts';
import { diffSnapshots, findSnapshotItem, snapshotItems } from './snapshot-state.ts';
import type { ItemChange, ItemEntry } from './tree.ts';

/** Content blobs (about 1 MiB each) fetched together, and groups fetched ahead. */
const GROUP_BLOBS = 4;
const GROUPS_AHEAD = 2;

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

  /**
   * The item's content; every blob is authenticated as it is read. Blobs are fetched in groups
   * (neighbours in a pack come in one read), a group ahead of the one being delivered.
   */
  content(item: ItemEntry): Readable {
    if (item.inline !== undefined) return Readable.from([Buffer.from(item.inline, 'base64')]);
    const repo = this.repo;
    const ids = item.content ?? [];
    return Readable.from(
      (async function* () {
        const ahead: Promise<Buffer[]>[] = [];
        let next = 0;
        const fill = () => {
          while (ahead.length < GROUPS_AHEAD && next < ids.length) {
            const read = repo.readBlobs(ids.slice(next, next + GROUP_BLOBS));
            next += GROUP_BLOBS;
            // If the reader stops early, a read-ahead's failure must not go unhandled.
            read.catch(() => undefined);
            ahead.push(read);
          }
        };
        fill();
        while (ahead.length > 0) {
          const current = ahead.shift() as Promise<Buffer[]>;
          fill();
          yield* await current;
        }
      })(),
    );
  }

  diff(other: SnapshotReader): AsyncIterable<ItemChange> {
    return diffSnapshots(this.repo, this.manifest, other.manifest);
  }
}
