// Content-defined chunking (FastCDC with normalized chunking): cut points depend on the bytes,
// not their offsets, so an insertion or a change inside a large file moves only the chunks around
// it and the rest dedups. The gear table is derived from the repository's secret chunker seed, so
// chunk sizes reveal nothing about content across repositories.
import { createCipheriv, createHash } from 'node:crypto';
import { releaseBuffer } from './buffers.ts';

export interface ChunkerParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
  /**
   * FastCDC's normalization level: cut points are 2^level times harder to find before avgSize
   * and easier after it. Absent in repositories made before it was recorded: 2.
   */
  normalization?: number;
}

/**
 * Level 1: with level 2, a 1 MiB change took up to 8–14 MiB of new chunks to get back in step
 * with the old cut points (1 in 30 random keys over 8 MiB); with level 1, at most 6.5 MiB in 80
 * (median 3.1 MiB, average chunk 1.33 MiB). Recorded in each repository's config.
 */
export const DEFAULT_CHUNKER: ChunkerParams = {
  minSize: 512 * 1024,
  avgSize: 1024 * 1024,
  maxSize: 8 * 1024 * 1024,
  normalization: 1,
};

export function gearTable(seed: Uint8Array): Int32Array {
  const key = createHash('sha256').update(seed).update('holdfast gear table').digest();
  const stream = createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(256 * 4));
  const table = new Int32Array(256);
  for (let i = 0; i < 256; i++) table[i] = stream.readInt32LE(i * 4);
  return table;
}

/** A mask of `bits` one-bits at the top of 32: the gear hash's high bits depend on the last 32 bytes. */
function topMask(bits: number): number {
  return (0xffffffff << (32 - bits)) | 0;
}

// The scan loop lives outside the async generator: variables of a generator that live across
// yields are kept in a heap context, which makes a per-byte loop several times slower.
let scanHash = 0;

/** Index just after the first cut point in buf[from, to), or -1; the rolling hash is kept in scanHash. */
function scan(buf: Uint8Array, from: number, to: number, gear: Int32Array, mask: number): number {
  let h = scanHash;
  for (let i = from; i < to; i++) {
    h = ((h << 1) + (gear[buf[i] as number] as number)) | 0;
    if ((h & mask) === 0) {
      scanHash = h;
      return i + 1;
    }
  }
  scanHash = h;
  return -1;
}

/**
 * One chunk in its own allocation (never a view of the input): the caller may release it when
 * done. All parts but the last (and the last when `lastOwned`) are the chunker's own copies of
 * earlier inputs: freed here.
 */
function assemble(parts: Uint8Array[], length: number, lastOwned = false): Buffer {
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  parts.forEach((p, i) => {
    out.set(p, at);
    at += p.byteLength;
    if (lastOwned || i < parts.length - 1) releaseBuffer(p);
  });
  return out;
}

/**
 * Splits a byte stream into chunks of minSize..maxSize (the last may be smaller), averaging about
 * avgSize. Every chunk is a copy in its own memory, so a source may reuse its buffer for the next
 * read, and a consumer may free a chunk as soon as it is stored (storage/buffers.ts). Memory: the
 * part of the chunk being assembled that came from earlier inputs (≤ maxSize), plus the input in hand.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array>,
  gear: Int32Array,
  params: ChunkerParams = DEFAULT_CHUNKER,
): AsyncIterable<Buffer> {
  const { minSize, avgSize, maxSize } = params;
  const level = params.normalization ?? 2;
  if (!(minSize > 0 && minSize < avgSize && avgSize < maxSize)) throw new Error('chunker needs 0 < min < avg < max');
  if (!(Number.isInteger(level) && level >= 0 && level <= 3)) throw new Error('chunker normalization must be 0 to 3');
  const bits = Math.round(Math.log2(avgSize));
  const maskS = topMask(bits + level); // harder to match before the average size
  const maskL = topMask(bits - level); // easier after it
  let parts: Uint8Array[] = []; // copies of the current chunk's bytes from earlier inputs
  let length = 0; // bytes of the current chunk held in parts
  let hash = 0;

  for await (const input of source) {
    const buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let start = 0; // where the current chunk's part in this buffer begins
    let i = 0;
    while (i < buf.length) {
      const pos = length + (i - start); // position of i within the current chunk
      if (pos < minSize) {
        // No cut point can fall before minSize: skip without hashing.
        i = Math.min(buf.length, start + (minSize - length));
        continue;
      }
      const normalEnd = start + (avgSize - length);
      const maxEnd = start + (maxSize - length);
      scanHash = hash;
      let cut = -1;
      if (i < normalEnd) {
        const end = Math.min(buf.length, normalEnd);
        cut = scan(buf, i, end, gear, maskS);
        i = cut < 0 ? end : cut;
      }
      if (cut < 0 && i >= normalEnd) {
        const end = Math.min(buf.length, maxEnd);
        cut = scan(buf, i, end, gear, maskL);
        i = cut < 0 ? end : cut;
        if (cut < 0 && i >= maxEnd) cut = maxEnd;
      }
      hash = scanHash;
      if (cut < 0) break; // need more input
      parts.push(buf.subarray(start, cut));
      yield assemble(parts, length + (cut - start));
      parts = [];
      length = 0;
      hash = 0;
      start = cut;
      i = cut;
    }
    if (start < buf.length) {
      // Keep a copy of the rest: the source may reuse its buffer once the next input is asked for.
      const rest = new Uint8Array(buf.subarray(start));
      parts.push(rest);
      length += rest.length;
    }
  }
  if (length > 0) yield assemble(parts, length, true);
}
