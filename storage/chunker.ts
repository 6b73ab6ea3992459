// Content-defined chunking (FastCDC with normalized chunking): cut points depend on the bytes,
// not their offsets, so an insertion or a change inside a large file moves only the chunks around
// it and the rest dedups. The gear table is derived from the repository's secret chunker seed, so
// chunk sizes reveal nothing about content across repositories.
import { createCipheriv, createHash } from 'node:crypto';

export interface ChunkerParams {
  minSize: number;
  avgSize: number;
  maxSize: number;
}

export const DEFAULT_CHUNKER: ChunkerParams = { minSize: 512 * 1024, avgSize: 1024 * 1024, maxSize: 8 * 1024 * 1024 };

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

/**
 * Splits a byte stream into chunks of minSize..maxSize (the last may be smaller), averaging about
 * avgSize. Memory: the chunk being assembled (≤ maxSize) plus the input buffer in hand.
 */
export async function* chunkStream(
  source: AsyncIterable<Uint8Array>,
  gear: Int32Array,
  params: ChunkerParams = DEFAULT_CHUNKER,
): AsyncIterable<Buffer> {
  const { minSize, avgSize, maxSize } = params;
  if (!(minSize > 0 && minSize < avgSize && avgSize < maxSize)) throw new Error('chunker needs 0 < min < avg < max');
  const bits = Math.round(Math.log2(avgSize));
  const maskS = topMask(bits + 2); // harder to match before the average size
  const maskL = topMask(bits - 2); // easier after it
  let parts: Buffer[] = [];
  let length = 0; // bytes of the current chunk so far
  let hash = 0;

  for await (const input of source) {
    let buf = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let start = 0; // start, in buf, of the current chunk's part in this buffer
    let i = 0;
    while (i < buf.length) {
      // Skip hashing until the chunk reaches minSize: no cut point can fall there.
      if (length + (i - start) < minSize) {
        i = Math.min(buf.length, start + (minSize - length));
        continue;
      }
      const limitNormal = start + Math.max(0, avgSize - length);
      const limitMax = start + (maxSize - length);
      let cut = -1;
      const end1 = Math.min(buf.length, limitNormal);
      for (; i < end1; i++) {
        hash = ((hash << 1) + (gear[buf[i] as number] as number)) | 0;
        if ((hash & maskS) === 0) {
          cut = i + 1;
          break;
        }
      }
      if (cut < 0 && i >= limitNormal) {
        const end2 = Math.min(buf.length, limitMax);
        for (; i < end2; i++) {
          hash = ((hash << 1) + (gear[buf[i] as number] as number)) | 0;
          if ((hash & maskL) === 0) {
            cut = i + 1;
            break;
          }
        }
        if (cut < 0 && i >= limitMax) cut = limitMax;
      }
      if (cut < 0) break; // need more input
      parts.push(buf.subarray(start, cut));
      yield parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
      parts = [];
      length = 0;
      hash = 0;
      start = cut;
      i = cut;
    }
    if (start < buf.length) {
      // Keep the rest; copy so the caller may reuse its buffer.
      const rest = Buffer.from(buf.subarray(start));
      parts.push(rest);
      length += rest.length;
    }
    buf = Buffer.alloc(0);
  }
  if (length > 0) yield parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
