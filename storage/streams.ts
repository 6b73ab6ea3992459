// Small stream helpers.
import type { Readable } from 'node:stream';

/** Reads a whole (small) stream into one buffer. Only for objects known to be small or bounded. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  // One chunk (a ranged read sized to its length) needs no copy.
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
}
