// Body handling shared by network sinks: length checks that fail a write before it is committed,
// fixed-size parts read from a stream with bounded memory, and read streams whose errors are typed.
import { PassThrough, Readable } from 'node:stream';
import { PermanentSinkError, SinkError, TransientSinkError } from '../sink.ts';

export function asChunks(body: Uint8Array | Readable): AsyncIterable<Uint8Array> {
  return body instanceof Uint8Array ? Readable.from([body]) : body;
}

/**
 * Passes the body through, counting bytes; throws PermanentSinkError as soon as it exceeds
 * `expected` or when it ends short of it, so the upload fails before the sink commits anything.
 */
export async function* lengthChecked(
  body: AsyncIterable<Uint8Array>,
  expected: number | undefined,
  key: string,
): AsyncGenerator<Uint8Array> {
  let seen = 0;
  for await (const chunk of body) {
    seen += chunk.byteLength;
    if (expected !== undefined && seen > expected) break;
    yield chunk;
  }
  if (expected !== undefined && seen !== expected) {
    throw new PermanentSinkError(
      `body of ${seen > expected ? 'more than ' : ''}${seen} bytes does not match the declared length ${expected}`,
      key,
    );
  }
}

export interface Part {
  /** 1-based. */
  number: number;
  bytes: Buffer;
  /** No more parts follow. */
  last: boolean;
}

/** Below this, a part's chunks are kept as they come; from it on, copied into one part-sized buffer. */
const SMALL_PART = 1024 * 1024;

/**
 * Cuts a stream into parts of exactly `partSize` bytes (the last may be shorter, or empty for an
 * empty body). A large part is filled in place (one buffer of `partSize`, each chunk copied once
 * and released), so a part costs its own size and not twice that; it looks one chunk ahead to tell
 * the last part.
 */
export async function* readParts(body: AsyncIterable<Uint8Array>, partSize: number): AsyncGenerator<Part> {
  const iterator = body[Symbol.asyncIterator]();
  let carry = await nextChunk(iterator);
  let number = 0;
  for (;;) {
    const small: Buffer[] = [];
    let target: Buffer | undefined;
    let filled = 0;
    while (filled < partSize && carry) {
      const n = Math.min(partSize - filled, carry.length);
      if (!target && filled + n >= SMALL_PART && partSize > SMALL_PART) {
        target = Buffer.allocUnsafe(partSize);
        let at = 0;
        for (const piece of small) at += piece.copy(target, at);
        small.length = 0;
      }
      if (target) carry.copy(target, filled, 0, n);
      else small.push(carry.subarray(0, n));
      filled += n;
      carry = n < carry.length ? carry.subarray(n) : await nextChunk(iterator);
    }
    const bytes = target ? target.subarray(0, filled) : Buffer.concat(small, filled);
    const last = carry === undefined;
    yield { number: ++number, bytes, last };
    if (last) return;
  }
}

async function nextChunk(iterator: AsyncIterator<Uint8Array>): Promise<Buffer | undefined> {
  for (;;) {
    const r = await iterator.next();
    if (r.done) return undefined;
    const chunk = r.value;
    if (chunk.byteLength === 0) continue;
    return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  }
}

/** Ends a body the caller handed over but the sink will not read (a refused write). */
export function discard(body: Uint8Array | Readable): void {
  if (!(body instanceof Uint8Array)) body.destroy();
}

/** A download stream whose failures midway arrive as TransientSinkError (a retry may help). */
export function typedReadStream(source: Readable, key: string, describe: (err: unknown) => string): Readable {
  const out = new PassThrough({ highWaterMark: 256 * 1024 });
  source.on('error', (err) => {
    out.destroy(
      err instanceof SinkError
        ? err
        : new TransientSinkError(`reading ${key} broke off: ${describe(err)}`, key, { cause: err }),
    );
  });
  out.on('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}

export const emptyStream = (): Readable => Readable.from([]);
