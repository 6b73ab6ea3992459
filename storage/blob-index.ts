// The repository's blob index: blob id → where the blob is stored. A repository holds about a
// million blobs per TiB of 1 MiB chunks, so the index lives in disposable files, not in memory
// (docs/REPOSITORY.md, Memory): recent additions in a bounded table (index-recent.ts), written
// out as sorted runs of fixed-size records (index-run.ts) that are merged as they accumulate
// (index-merge.ts), about as many runs as doublings of the index past the table's size. A
// lookup checks the recent table, then each run from the newest with one positional read. What
// stays in memory per blob is the runs' sparse fences (1/8 byte) and the pack table (2 bytes
// at 16 blobs a pack). The files are a cache rebuilt by every process from the repository's
// index files; they are unlinked at once, so nothing outlives the process.
import { closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { mergeRuns } from './index-merge.ts';
import { RecentRecords } from './index-recent.ts';
import { isElsewhere, isHexId, RECORD, type RecordFields, readFields, writeFields } from './index-record.ts';
import { BLOCK, type Run, RunWriter } from './index-run.ts';
import type { BlobKind } from './pack.ts';
import { PackTable } from './pack-table.ts';

export interface BlobLocation {
  pack: string;
  kind: BlobKind;
  offset: number;
  length: number;
  rawLength: number;
  codec: number;
}

export interface BlobIndexOptions {
  /** Where the run files are created (and at once unlinked); default the OS temp folder. */
  dir?: string;
  /** Part of the run files' names (the repository id), to tell whose they are. */
  name?: string;
  /** Recent additions held in memory before they are written as a run (64 bytes each). */
  recent?: number;
}

const MAX_U32 = 0xffffffff;
const DEFAULT_RECENT = 64 * 1024;

/** Closes the run files of an index that was never closed, once it is collected. */
const orphans = new FinalizationRegistry<Set<number>>((fds) => {
  for (const fd of fds) closeSync(fd);
});

export class BlobIndex {
  readonly #dir: string;
  readonly #name: string;
  /** Ids or locations that do not fit a record (never written by this code; kept exact). */
  readonly #odd = new Map<string, BlobLocation>();
  readonly #packs = new PackTable();
  readonly #recent: RecentRecords;
  /** Newest first. */
  #runs: Run[] = [];
  /** The runs' descriptors, for the finalizer (it must not hold the index itself). */
  readonly #fds = new Set<number>();
  readonly #key = Buffer.alloc(32);
  readonly #scratch = Buffer.alloc(BLOCK * RECORD);
  #closed = false;
  /** ELSEWHERE markers were written since the last full merge. */
  #marked = false;

  constructor(options: BlobIndexOptions = {}) {
    this.#dir = options.dir ?? tmpdir();
    this.#name = (options.name ?? 'blobs').replace(/[^A-Za-z0-9-]/g, '_');
    this.#recent = new RecentRecords(options.recent ?? DEFAULT_RECENT);
    orphans.register(this, this.#fds, this);
  }

  /** Distinct ids. Compacts the index into one run first (exact, but not cheap: for reports). */
  get size(): number {
    this.#flush();
    // One run without markers counts each id once; a full merge drops the markers.
    if (this.#runs.length > 1 || (this.#runs.length === 1 && this.#marked)) this.#merge(this.#runs.length);
    this.#marked = false;
    return (this.#runs[0]?.count ?? 0) + this.#odd.size;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  get(id: string): BlobLocation | undefined {
    if (!isHexId(id)) return this.#odd.get(id);
    this.#assertOpen();
    const key = this.#key;
    key.write(id, 'hex');
    let buf = this.#recent.records;
    let at = this.#recent.find(key);
    for (let i = 0; at < 0 && i < this.#runs.length; i++) {
      buf = this.#scratch;
      at = (this.#runs[i] as Run).find(key, buf);
    }
    if (at < 0 || isElsewhere(buf, at)) return this.#odd.get(id);
    const fields = readFields(buf, at);
    return {
      pack: this.#packs.id(fields.pack),
      kind: fields.tree ? 'tree' : 'data',
      offset: fields.offset,
      length: fields.length,
      rawLength: fields.rawLength,
      codec: fields.codec,
    };
  }

  /** Records where a blob is (a later call for the same id replaces the location). */
  set(id: string, at: BlobLocation): void {
    if (!isHexId(id)) {
      this.#odd.set(id, { ...at });
      return;
    }
    const fitsFields =
      (at.kind === 'data' || at.kind === 'tree') &&
      Number.isInteger(at.codec) &&
      at.codec >= 0 &&
      at.codec < 128 &&
      isU32(at.length) &&
      isU32(at.rawLength) &&
      Number.isSafeInteger(at.offset) &&
      at.offset >= 0;
    const pack = fitsFields ? this.#packs.number(at.pack) : -1;
    const fits = pack >= 0;
    // Out of the record form: a marker shadows any older record of the id, the side map holds it.
    if (fits) {
      if (this.#odd.size) this.#odd.delete(id);
    } else this.#odd.set(id, { ...at });
    const fields: RecordFields | undefined = fits
      ? {
          pack,
          offset: at.offset,
          length: at.length,
          rawLength: at.rawLength,
          codec: at.codec,
          tree: at.kind === 'tree',
        }
      : undefined;
    this.#put(id, fields);
  }

  /** Closes and so frees the run files (they are already unlinked). The index is unusable after. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const run of this.#runs) run.close();
    this.#runs = [];
    this.#fds.clear();
    orphans.unregister(this);
  }

  #put(id: string, fields: RecordFields | undefined): void {
    this.#assertOpen();
    const key = this.#key;
    key.write(id, 'hex');
    let at = this.#recent.find(key);
    if (at < 0) {
      if (this.#recent.full) this.#flush();
      at = this.#recent.add(key);
    }
    writeFields(this.#recent.records, at, fields);
    if (!fields) this.#marked = true;
  }

  /** Writes the recent records out as the newest run, then merges runs as the sizes call for. */
  #flush(): void {
    this.#assertOpen();
    const recent = this.#recent;
    if (recent.count === 0) return;
    const writer = new RunWriter(this.#dir, this.#name, recent.count);
    this.#fds.add(writer.fd);
    for (const at of recent.sorted()) writer.push(recent.records, at);
    this.#runs.unshift(writer.finish());
    recent.clear();
    // Merge the newest runs while the next older one is no larger than them together: a binary
    // counter — about log2(blobs / recent capacity) runs, each record rewritten as often.
    let merging = 1;
    let records = (this.#runs[0] as Run).count;
    while (merging < this.#runs.length && (this.#runs[merging] as Run).count <= records) {
      records += (this.#runs[merging] as Run).count;
      merging++;
    }
    if (merging > 1) this.#merge(merging);
  }

  /** Merges the `n` newest runs into one. */
  #merge(n: number): void {
    const runs = this.#runs.slice(0, n);
    const merged = mergeRuns(runs, this.#dir, this.#name, n === this.#runs.length);
    for (const run of runs) this.#fds.delete(run.fd);
    this.#fds.add(merged.fd);
    this.#runs = [merged, ...this.#runs.slice(n)];
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the blob index is closed');
  }
}

const isU32 = (n: number) => Number.isInteger(n) && n >= 0 && n <= MAX_U32;
