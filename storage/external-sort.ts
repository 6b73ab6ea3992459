// Sorts records by key with bounded memory: records are buffered up to a byte budget, then
// sorted and spilled to a temporary file as a run; at the end the runs are merged. Input in any
// order, output in key order (ties keep insertion order), so a service can stream items however
// its API lists them.

import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

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

  constructor(options: { memoryBytes?: number; tmpDir?: string } = {}) {
    this.#budget = options.memoryBytes ?? 24 * 1024 * 1024;
    this.#tmpRoot = options.tmpDir ?? tmpdir();
  }

  get spilledRuns(): number {
    return this.#runs.length;
  }

  async add(value: T): Promise<void> {
    const line: Line = { key: value.key, seq: this.#seq++, json: JSON.stringify(value) };
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

async function* readRun<T>(path: string): AsyncIterable<Tagged<T>> {
  const lines = createInterface({
    input: createReadStream(path, { highWaterMark: 256 * 1024 }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of lines) if (line) yield JSON.parse(line) as Tagged<T>;
}
