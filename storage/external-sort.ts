// Sorts records by key with bounded memory: records are buffered up to a byte budget, then
// sorted and spilled to a temporary file as a run; at the end the runs are merged. Input in any
// order, output in key order (ties keep insertion order), so a service can stream items however
// its API lists them.

import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Keyed {
  key: string;
}

/** A buffered record: its key for sorting and its JSON (one flat string is far smaller than the object). */
interface Line {
  key: string;
  seq: number;
  json: string;
}

interface Tagged<T> {
  seq: number;
  value: T;
}

const compareLines = (a: Line, b: Line) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.seq - b.seq);
const compare = <T extends Keyed>(a: Tagged<T>, b: Tagged<T>) =>
  a.value.key < b.value.key ? -1 : a.value.key > b.value.key ? 1 : a.seq - b.seq;

/** Bytes a buffered line costs in the heap: its string (one byte per Latin-1 character) and objects. */
const lineCost = (line: Line) => line.json.length + line.key.length + 96;

export class ExternalSorter<T extends Keyed> {
  readonly #budget: number;
  readonly #tmpRoot: string;
  #buffer: Line[] = [];
  #bytes = 0;
  #seq = 0;
  #dir: string | undefined;
  readonly #runs: string[] = [];
  /** Every key so far came in order (a folder walk's): the runs are then read one after another. */
  #ordered = true;
  #lastKey: string | undefined;

  constructor(options: { memoryBytes?: number; tmpDir?: string } = {}) {
    this.#budget = options.memoryBytes ?? 24 * 1024 * 1024;
    this.#tmpRoot = options.tmpDir ?? tmpdir();
  }

  get spilledRuns(): number {
    return this.#runs.length;
  }

  async add(value: T): Promise<void> {
    const line: Line = { key: value.key, seq: this.#seq++, json: JSON.stringify(value) };
    if (this.#lastKey !== undefined && value.key < this.#lastKey) this.#ordered = false;
    this.#lastKey = value.key;
    this.#buffer.push(line);
    this.#bytes += lineCost(line);
    if (this.#bytes >= this.#budget) await this.#spill();
  }

  async #spill(): Promise<void> {
    this.#buffer.sort(compareLines);
    this.#dir ??= await mkdtemp(join(this.#tmpRoot, 'holdfast-sort-'));
    const path = join(this.#dir, `run-${this.#runs.length}.jsonl`);
    const out = createWriteStream(path, { highWaterMark: 256 * 1024 });
    // Lines are joined into larger writes: one write per record would cost a buffer and a callback each.
    let pending: string[] = [];
    let pendingBytes = 0;
    const write = async () => {
      if (!out.write(pending.join(''))) await once(out, 'drain');
      pending = [];
      pendingBytes = 0;
    };
    for (const line of this.#buffer) {
      const text = `{"seq":${line.seq},"value":${line.json}}\n`;
      pending.push(text);
      pendingBytes += text.length;
      if (pendingBytes >= 128 * 1024) await write();
    }
    if (pending.length) await write();
    out.end();
    await once(out, 'finish');
    this.#runs.push(path);
    this.#buffer = [];
    this.#bytes = 0;
  }

  /** Every record in key order; the sorter is spent afterwards and its files removed. */
  async *sorted(): AsyncIterable<T> {
    try {
      this.#buffer.sort(compareLines);
      if (this.#runs.length === 0) {
        for (const line of this.#buffer) yield JSON.parse(line.json) as T;
        return;
      }
      if (this.#ordered) {
        // Input in key order: each run follows the one before, so no merge (one run open at a time).
        for (const path of this.#runs) for await (const tagged of readRun<T>(path)) yield tagged.value;
        for (const line of this.#buffer) yield JSON.parse(line.json) as T;
        return;
      }
      const sources: AsyncIterator<Tagged<T>>[] = [
        ...this.#runs.map((path) => readRun<T>(path)[Symbol.asyncIterator]()),
        inMemory<T>(this.#buffer)[Symbol.asyncIterator](),
      ];
      const heads: (Tagged<T> | undefined)[] = [];
      for (const s of sources) heads.push((await s.next()).value);
      // k is small (one run per memory budget), so a linear scan for the minimum is enough.
      for (;;) {
        let best = -1;
        for (let i = 0; i < heads.length; i++) {
          const h = heads[i];
          if (h && (best < 0 || compare(h, heads[best] as Tagged<T>) < 0)) best = i;
        }
        if (best < 0) return;
        yield (heads[best] as Tagged<T>).value;
        const next = await (sources[best] as AsyncIterator<Tagged<T>>).next();
        heads[best] = next.done ? undefined : next.value;
      }
    } finally {
      await this.dispose();
    }
  }

  async dispose(): Promise<void> {
    this.#buffer = [];
    if (this.#dir) await rm(this.#dir, { recursive: true, force: true });
    this.#dir = undefined;
  }
}

async function* inMemory<T>(lines: Line[]): AsyncIterable<Tagged<T>> {
  for (const line of lines) yield { seq: line.seq, value: JSON.parse(line.json) as T };
}

/**
 * A run's records, read in 256 KiB pieces and split at newlines as bytes. Each line is decoded to
 * a string of its own: readline's lines are slices of a 256 KiB decoded piece, and JSON.parse
 * keeps slices of its input for long values (a small file's inline content), so a few kept
 * entries held whole pieces alive — ~45 MiB of heap when a folder backup's item list was read.
 */
async function* readRun<T>(path: string): AsyncIterable<Tagged<T>> {
  const file = await open(path, 'r');
  try {
    let carry: Buffer | undefined;
    for (;;) {
      const piece = Buffer.allocUnsafe(256 * 1024);
      const { bytesRead } = await file.read(piece, 0, piece.length, null);
      if (bytesRead === 0) break;
      const bytes = carry ? Buffer.concat([carry, piece.subarray(0, bytesRead)]) : piece.subarray(0, bytesRead);
      let start = 0;
      for (let nl = bytes.indexOf(0x0a, start); nl >= 0; nl = bytes.indexOf(0x0a, start)) {
        if (nl > start) yield JSON.parse(bytes.toString('utf8', start, nl)) as Tagged<T>;
        start = nl + 1;
      }
      carry = start < bytes.length ? Buffer.from(bytes.subarray(start)) : undefined;
    }
    if (carry?.length) yield JSON.parse(carry.toString('utf8')) as Tagged<T>;
  } finally {
    await file.close();
  }
}
