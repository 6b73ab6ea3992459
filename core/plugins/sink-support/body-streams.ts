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

/**
 * Cuts a stream into parts of exactly `partSize` bytes (the last may be shorter, or empty for an
 * empty body). Holds at most one part plus one chunk: it looks one chunk ahead to tell the last part.
 */
export async function* readParts(body: AsyncIterable<Uint8Array>, partSize: number): AsyncGenerator<Part> {
  const iterator = body[Symbol.asyncIterator]();
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;
  let carry: Buffer | undefined;
  for (;;) {
    let next = carry ?? (await nextChunk(iterator));
    carry = undefined;
    while (next && pendingBytes + next.length < partSize) {
      pending.push(next);
      pendingBytes += next.length;
      next = await nextChunk(iterator);
    }
    if (!next) {
      yield { number: ++number, bytes: Buffer.concat(pending, pendingBytes), last: true };
      return;
    }
    const room = partSize - pendingBytes;
    pending.push(next.subarray(0, room));
    const rest = next.subarray(room);
    const bytes = Buffer.concat(pending, partSize);
    pending = [];
    pendingBytes = 0;
    carry = rest.length ? rest : await nextChunk(iterator);
    yield { number: ++number, bytes, last: carry === undefined };
    if (carry === undefined) return;
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
