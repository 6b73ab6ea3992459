// A sorted run of the on-disk blob index: records (storage/index-record.ts) in id order in a
// file of their own, and in memory only a sparse fence — the first 8 bytes of the first id of
// every block of BLOCK records — so a lookup reads one block (3.5 KiB) with one positional read.
// Run files are unlinked as soon as they are opened: the open descriptor keeps the data, and a
// crash (or a process that never closes its index) leaves nothing on disk.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { compareIds, RECORD } from './index-record.ts';

export const BLOCK = 64;
/** Records read or written at once while a run is written or merged (56 KiB). */
const CHUNK = 1024;

export class Run {
  readonly fd: number;
  readonly count: number;
  readonly #fence: BigUint64Array;

  constructor(fd: number, count: number, fence: BigUint64Array) {
    this.fd = fd;
    this.count = count;
    this.#fence = fence;
  }

  /**
   * Finds `key` (32 bytes): returns the record's byte offset in `scratch` (BLOCK records long),
   * or -1. Blocks whose first ids share the key's 8-byte prefix are all searched (only
   * constructed ids, never HMACs, share one).
   */
  find(key: Buffer, scratch: Buffer): number {
    const fence = this.#fence;
    const prefix = key.readBigUInt64BE(0);
    let lo = 0;
    let hi = fence.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((fence[mid] as bigint) < prefix) lo = mid + 1;
      else hi = mid;
    }
    let end = lo;
    while (end < fence.length && fence[end] === prefix) end++;
    for (let block = Math.max(0, lo - 1); block < end; block++) {
      const records = Math.min(BLOCK, this.count - block * BLOCK);
      readFully(this.fd, scratch, records * RECORD, block * BLOCK * RECORD);
      let a = 0;
      let b = records;
      while (a < b) {
        const mid = (a + b) >>> 1;
        const order = compareIds(scratch, mid * RECORD, key, 0);
        if (order === 0) return mid * RECORD;
        if (order < 0) a = mid + 1;
        else b = mid;
      }
    }
    return -1;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Writes records in ascending id order into a new run file, building its fence on the way. */
export class RunWriter {
  readonly fd: number;
  #count = 0;
  #fence: BigUint64Array;
  readonly #out = Buffer.allocUnsafe(CHUNK * RECORD);
  #used = 0;

  /** `most`: an upper bound of the records to come (sizes the fence). */
  constructor(dir: string, name: string, most: number) {
    this.fd = openScratchFile(dir, name);
    this.#fence = new BigUint64Array(Math.ceil(most / BLOCK));
  }

  push(buf: Buffer, at: number): void {
    if (this.#count % BLOCK === 0) this.#fence[this.#count / BLOCK] = buf.readBigUInt64BE(at);
    buf.copy(this.#out, this.#used, at, at + RECORD);
    this.#used += RECORD;
    this.#count++;
    if (this.#used === this.#out.length) this.#drain();
  }

  finish(): Run {
    this.#drain();
    return new Run(this.fd, this.#count, this.#fence.slice(0, Math.ceil(this.#count / BLOCK)));
  }

  #drain(): void {
    let done = 0;
    while (done < this.#used) done += writeSync(this.fd, this.#out, done, this.#used - done);
    this.#used = 0;
  }
}

/** Reads a run from its start in chunks, for merging. */
export class RunReader {
  readonly buf = Buffer.allocUnsafe(CHUNK * RECORD);
  /** Byte offset of the current record in `buf`. */
  at = 0;
  #end = 0;
  #next = 0;
  readonly #run: Run;

  constructor(run: Run) {
    this.#run = run;
    this.#fill();
  }

  get done(): boolean {
    return this.at >= this.#end;
  }

  advance(): void {
    this.at += RECORD;
    if (this.at >= this.#end) this.#fill();
  }

  #fill(): void {
    const records = Math.min(CHUNK, this.#run.count - this.#next);
    if (records > 0) readFully(this.#run.fd, this.buf, records * RECORD, this.#next * RECORD);
    this.#next += records;
    this.at = 0;
    this.#end = records * RECORD;
  }
}

function readFully(fd: number, buf: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) throw new Error('blob index run file is shorter than written');
    done += n;
  }
}

function openScratchFile(dir: string, name: string): number {
  const path = join(dir, `holdfast-index-${name}-${randomBytes(8).toString('hex')}.run`);
  const fd = openSync(path, 'wx+', 0o600);
  unlinkSync(path);
  return fd;
}
