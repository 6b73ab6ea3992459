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

interface Tagged<T> {
  seq: number;
  value: T;
}

const compare = <T extends Keyed>(a: Tagged<T>, b: Tagged<T>) =>
  a.value.key < b.value.key ? -1 : a.value.key > b.value.key ? 1 : a.seq - b.seq;

export class ExternalSorter<T extends Keyed> {
  readonly #budget: number;
  readonly #tmpRoot: string;
  #buffer: Tagged<T>[] = [];
  #bytes = 0;
  #seq = 0;
  #dir: string | undefined;
  readonly #runs: string[] = [];

  constructor(options: { memoryBytes?: number; tmpDir?: string } = {}) {
    this.#budget = options.memoryBytes ?? 64 * 1024 * 1024;
    this.#tmpRoot = options.tmpDir ?? tmpdir();
  }

  get spilledRuns(): number {
    return this.#runs.length;
  }

  async add(value: T): Promise<void> {
    const line = JSON.stringify(value);
    this.#buffer.push({ seq: this.#seq++, value });
    this.#bytes += line.length * 2 + 64;
    if (this.#bytes >= this.#budget) await this.#spill();
  }

  async #spill(): Promise<void> {
    this.#buffer.sort(compare);
    this.#dir ??= await mkdtemp(join(this.#tmpRoot, 'holdfast-sort-'));
    const path = join(this.#dir, `run-${this.#runs.length}.jsonl`);
    const out = createWriteStream(path);
    for (const item of this.#buffer) {
      if (!out.write(`${JSON.stringify(item)}\n`)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    this.#runs.push(path);
    this.#buffer = [];
    this.#bytes = 0;
  }

  /** Every record in key order; the sorter is spent afterwards and its files removed. */
  async *sorted(): AsyncIterable<T> {
    try {
      this.#buffer.sort(compare);
      if (this.#runs.length === 0) {
        for (const item of this.#buffer) yield item.value;
        return;
      }
      const sources: AsyncIterator<Tagged<T>>[] = [
        ...this.#runs.map((path) => readRun<T>(path)[Symbol.asyncIterator]()),
        this.#buffer[Symbol.iterator]() as unknown as AsyncIterator<Tagged<T>>,
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

async function* readRun<T>(path: string): AsyncIterable<Tagged<T>> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) if (line) yield JSON.parse(line) as Tagged<T>;
}
