import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { type ChunkerParams, chunkStream, gearTable } from '../../../storage/chunker.ts';

const params: ChunkerParams = { minSize: 2048, avgSize: 8192, maxSize: 65536 };
const gear = gearTable(Buffer.from('test seed'));

async function* pieces(data: Buffer, sizes: number[]): AsyncIterable<Buffer> {
  let offset = 0;
  let k = 0;
  while (offset < data.length) {
    const n = sizes[k++ % sizes.length] as number;
    yield data.subarray(offset, offset + n);
    offset += n;
  }
}

async function chunks(data: Buffer, sizes: number[] = [data.length || 1], p = params): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of chunkStream(pieces(data, sizes), gear, p)) out.push(c);
  return out;
}

const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The same pseudo-random bytes every run (SHA-256 in counter mode), so cut points are repeatable. */
function seededBytes(length: number, seed: string): Buffer {
  const out = Buffer.alloc(length);
  for (let i = 0, block = 0; i < length; block++) {
    i += createHash('sha256').update(`${seed}:${block}`).digest().copy(out, i);
  }
  return out;
}

describe('content-defined chunker', () => {
  it('reassembles to the input, with every chunk inside the size bounds', async () => {
    const data = randomBytes(2_000_000);
    const out = await chunks(data, [65536]);
    expect(Buffer.concat(out).equals(data)).toBe(true);
    for (const c of out.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(params.minSize);
      expect(c.length).toBeLessThanOrEqual(params.maxSize);
    }
    const mean = data.length / out.length;
    expect(mean).toBeGreaterThan(params.avgSize * 0.5);
    expect(mean).toBeLessThan(params.avgSize * 2);
  });

  it('cuts at the same places however the input is split', async () => {
    const data = randomBytes(500_000);
    const whole = (await chunks(data)).map(digest);
    expect((await chunks(data, [1, 7, 4096, 100_003, 13])).map(digest)).toEqual(whole);
    expect((await chunks(data, [params.minSize, params.avgSize])).map(digest)).toEqual(whole);
  });

  it('keeps most chunks when bytes are inserted in the middle', async () => {
    // Seeded: with random data a cut point just after the insertion is now and then skipped over
    // by the minimum size, and one or two more chunks change before the cuts line up again.
    const data = seededBytes(1_000_000, 'insertion');
    const edited = Buffer.concat([data.subarray(0, 500_000), Buffer.from('inserted!'), data.subarray(500_000)]);
    const before = new Set((await chunks(data)).map(digest));
    const after = (await chunks(edited)).map(digest);
    const changed = after.filter((d) => !before.has(d)).length;
    expect(changed).toBeLessThanOrEqual(2);
    expect(after.length).toBeGreaterThan(50);
  });

  it('cuts at maxSize in data with no cut points, and passes small inputs through whole', async () => {
    const zeros = Buffer.alloc(300_000);
    const out = await chunks(zeros);
    expect(out.slice(0, -1).every((c) => c.length === params.maxSize)).toBe(true);
    expect(Buffer.concat(out).equals(zeros)).toBe(true);
    expect(await chunks(Buffer.from('tiny'))).toEqual([Buffer.from('tiny')]);
    expect(await chunks(Buffer.alloc(0))).toEqual([]);
  });

  it('depends on the seed', async () => {
    const data = randomBytes(300_000);
    const other: Buffer[] = [];
    for await (const c of chunkStream(pieces(data, [data.length]), gearTable(Buffer.from('other seed')), params))
      other.push(c);
    expect(other.map(digest)).not.toEqual((await chunks(data)).map(digest));
  });

  it('rejects inconsistent parameters', async () => {
    await expect(chunks(randomBytes(10), undefined, { minSize: 10, avgSize: 5, maxSize: 20 })).rejects.toThrow(
      /min < avg < max/,
    );
  });
});
