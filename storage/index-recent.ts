// The on-disk blob index's recent additions: records (storage/index-record.ts) in one buffer
// with an open-addressing hash table of their positions — about 64 bytes per entry, no objects
// for the collector — until there are `capacity` of them and they are written out as a sorted run.
import { compareIds, ID_BYTES, RECORD } from './index-record.ts';

const FIRST_CAPACITY = 1024;

export class RecentRecords {
  readonly capacity: number;
  records = Buffer.alloc(0);
  count = 0;
  /** Record number + 1 by hash bucket (0: empty); twice the records' capacity, a power of two. */
  #table = new Int32Array(0);

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get full(): boolean {
    return this.count === this.capacity;
  }

  /** Byte offset in `records` of the record for `key` (32 bytes), or -1. */
  find(key: Buffer): number {
    if (this.count === 0) return -1;
    const mask = this.#table.length - 1;
    for (let bucket = hash(key, 0) & mask; ; bucket = (bucket + 1) & mask) {
      const slot = this.#table[bucket] as number;
      if (slot === 0) return -1;
      const at = (slot - 1) * RECORD;
      if (compareIds(this.records, at, key, 0) === 0) return at;
    }
  }

  /** Adds a record for `key` (not present; call only when not full) and returns its byte offset. */
  add(key: Buffer): number {
    if (this.count * RECORD === this.records.length) this.#grow();
    const at = this.count * RECORD;
    key.copy(this.records, at, 0, ID_BYTES);
    this.count++;
    this.#insert(at);
    return at;
  }

  /** Byte offsets of the records in ascending id order. */
  sorted(): Int32Array {
    const order = new Int32Array(this.count);
    for (let i = 0; i < this.count; i++) order[i] = i * RECORD;
    const records = this.records;
    return order.sort((a, b) => compareIds(records, a, records, b));
  }

  clear(): void {
    this.count = 0;
    this.#table.fill(0);
  }

  #insert(at: number): void {
    const mask = this.#table.length - 1;
    let bucket = hash(this.records, at) & mask;
    while (this.#table[bucket] !== 0) bucket = (bucket + 1) & mask;
    this.#table[bucket] = at / RECORD + 1;
  }

  #grow(): void {
    const capacity = Math.min(this.capacity, Math.max(FIRST_CAPACITY, (this.records.length / RECORD) * 2));
    const records = Buffer.alloc(capacity * RECORD);
    this.records.copy(records, 0, 0, this.count * RECORD);
    this.records = records;
    this.#table = new Int32Array(2 ** Math.ceil(Math.log2(capacity * 2)));
    for (let i = 0; i < this.count; i++) this.#insert(i * RECORD);
  }
}

/** Mixes words from across the id: blob ids are HMACs, but constructed ids may share a prefix. */
function hash(buf: Buffer, at: number): number {
  let h = Math.imul(buf.readUInt32LE(at) ^ buf.readUInt32LE(at + 12), 0x9e3779b1);
  h ^= Math.imul(buf.readUInt32LE(at + 20) ^ buf.readUInt32LE(at + 28), 0x85ebca6b);
  return (h ^ (h >>> 15)) >>> 0;
}
