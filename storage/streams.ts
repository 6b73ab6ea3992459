// Small stream helpers.
import type { Readable } from 'node:stream';

/** Reads a whole (small) stream into one buffer. Only for objects known to be small or bounded. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}
