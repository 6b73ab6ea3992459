// Sealing of everything the repository stores: compress (codec chosen per object and recorded),
// then AES-256-GCM with a random nonce. Stored form:
//   nonce (12) ‖ AES-256-GCM(encKey, codec byte ‖ compressed plaintext) ‖ tag (16)
// Blob ids are HMAC-SHA-256(idKey, plaintext): equal content dedups, and ids leak nothing across
// repositories.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  type KeyObject,
  randomBytes,
  webcrypto,
} from 'node:crypto';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { releaseBuffer } from './buffers.ts';

export const CODEC = { none: 0, gzip: 1, zstd: 2 } as const;
export type CodecName = keyof typeof CODEC;
export type CodecId = (typeof CODEC)[CodecName];

const NONCE = 12;
const TAG = 16;
export const SEAL_OVERHEAD = NONCE + 1 + TAG;

const zstdCompress = promisify(zlib.zstdCompress);
const zstdDecompress = promisify(zlib.zstdDecompress);
const gzip = promisify(zlib.gzip);
const gunzip = promisify(zlib.gunzip);

export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IntegrityError';
  }
}

const keyObjects = new WeakMap<Buffer, KeyObject>();

/** The key as a KeyObject, made once per key: building one for every blob costs more than a small blob's crypto. */
function secretKey(key: Buffer): KeyObject {
  let object = keyObjects.get(key);
  if (!object) {
    object = createSecretKey(key);
    keyObjects.set(key, object);
  }
  return object;
}

export function blobId(idKey: Buffer, plaintext: Uint8Array): string {
  return createHmac('sha256', secretKey(idKey)).update(plaintext).digest('hex');
}

/** From this size a blob's id is computed off the main thread (a thread-pool round trip costs ~20 µs). */
const OFF_THREAD_ID_BYTES = 256 * 1024;
const hmacKeys = new WeakMap<Buffer, Promise<webcrypto.CryptoKey>>();

function hmacKey(idKey: Buffer): Promise<webcrypto.CryptoKey> {
  let key = hmacKeys.get(idKey);
  if (!key) {
    key = webcrypto.subtle.importKey('raw', idKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    hmacKeys.set(idKey, key);
  }
  return key;
}

/**
 * `blobId`, for large blobs computed in the thread pool (Web Crypto's HMAC runs there): hashing is
 * the largest share of a backup's CPU time, and the main thread meanwhile cuts the next chunks.
 */
export async function blobIdAsync(idKey: Buffer, plaintext: Uint8Array): Promise<string> {
  if (plaintext.byteLength < OFF_THREAD_ID_BYTES) return blobId(idKey, plaintext);
  const mac = await webcrypto.subtle.sign('HMAC', await hmacKey(idKey), plaintext);
  return Buffer.from(mac).toString('hex');
}

/**
 * Below this size (tree nodes, records, small files) compression runs inline: a thread-pool round
 * trip costs more than the work, and each pool thread's allocations fragment memory.
 */
const INLINE_CODEC_BYTES = 256 * 1024;
const zstdOptions = { params: { [zlib.constants.ZSTD_c_compressionLevel]: 3 } };

/**
 * zlib's output buffer for an inline compression: at least half of Node's pool size, so it is an
 * allocation of its own rather than a slice of the shared 64 KiB pool slab (the default 16 KiB is
 * one), and at least the input's size plus zstd's worst-case overhead, so the result is one slice
 * of it at offset 0, which `releaseCompressed` frees. Four sealed small files used to hold a pool
 * slab until the next full collection: tens of MiB of dead memory on a folder of small files.
 */
function outputSize(length: number): number {
  return Math.max(Buffer.poolSize, length + (length >> 7) + 1024);
}

/** Frees compressed bytes once encrypted: an inline zstd result's whole output buffer (see outputSize). */
function releaseCompressed(packed: Buffer, codec: CodecId, inputLength: number): void {
  const ab = packed.buffer;
  const inlineZstd = codec === CODEC.zstd && inputLength < INLINE_CODEC_BYTES;
  if (inlineZstd && packed.byteOffset === 0 && ab instanceof ArrayBuffer && ab.byteLength === outputSize(inputLength))
    releaseBuffer(new Uint8Array(ab));
  else releaseBuffer(packed);
}

/** Node's zstd stream internals that `zstdFrame` drives (its own `zstdCompressSync` does the same). */
interface ZstdEngine {
  _handle?: {
    writeSync(
      flush: number,
      input: Buffer,
      inOff: number,
      inLen: number,
      out: Buffer,
      outOff: number,
      outLen: number,
    ): void;
    reset(): void;
  };
  _writeState?: Uint32Array;
  _finishFlushFlag?: number;
}

let zstdEngine: ZstdEngine | undefined;

/**
 * One zstd frame of `data`, from one compression context kept for this thread: a context made
 * and freed for every small blob (what `zstdCompressSync` does) cost about a third of compressing
 * a node_modules folder's files (bench/README.md). The frame is byte for byte the one-shot call's.
 * The output buffer is at least zstd's bound for the input, so one call ends the frame; should
 * Node's internals ever differ, the one-shot call is used.
 */
function zstdFrame(data: Buffer): Buffer {
  const out = Buffer.allocUnsafeSlow(outputSize(data.length));
  zstdEngine ??= new zlib.ZstdCompress(zstdOptions) as unknown as ZstdEngine;
  const { _handle: handle, _writeState: state, _finishFlushFlag: end } = zstdEngine;
  if (handle && state && end !== undefined) {
    handle.writeSync(end, data, 0, data.length, out, 0, out.length);
    const [outLeft, inLeft] = state as unknown as [number, number];
    if (inLeft === 0 && outLeft > 0) return out.subarray(0, out.length - outLeft);
    handle.reset();
  }
  return zlib.zstdCompressSync(data, { ...zstdOptions, chunkSize: out.length });
}

async function compress(codec: CodecId, data: Buffer): Promise<Buffer> {
  const small = data.length < INLINE_CODEC_BYTES;
  if (codec === CODEC.zstd) return small ? zstdFrame(data) : zstdCompress(data, zstdOptions);
  if (codec === CODEC.gzip) return small ? zlib.gzipSync(data, { level: 6 }) : gzip(data, { level: 6 });
  return data;
}

/** Plaintexts up to this size (a chunk's largest) get an output buffer sized to them, when known. */
const SIZED_OUTPUT_MAX = 8 * 1024 * 1024;

/**
 * zlib's output buffer when decompressing: never a slice of Node's buffer pool. When the
 * plaintext's length is known (a blob's, from the index), one byte more than it: the result is
 * then one piece, cut to size without a copy (ownMemory). (A buffer filled exactly makes zlib
 * allocate another for output that might follow; a result in several pieces is joined into a new
 * buffer, and the pieces and spare buffers were left to the collector: on a node_modules restore
 * the arrayBuffers figure peaked at 25–29 MiB against 8 MiB of plaintext in flight, 17–21 with
 * this.) Otherwise a guess: at least 64 KiB, four times the compressed length, at most 8 MiB.
 */
function decompressChunk(length: number, plainLength?: number): number {
  if (plainLength !== undefined && plainLength <= SIZED_OUTPUT_MAX) return Math.max(Buffer.poolSize, plainLength + 1);
  return Math.min(SIZED_OUTPUT_MAX, Math.max(64 * 1024, length * 4));
}

/**
 * Decompresses into one output buffer of `chunkSize` (or pieces of it). Inline (on this thread)
 * for small input and whenever the plaintext's length is known (`sized`): a zstd stream holds a
 * window as large as the plaintext (up to 8 MiB) besides the output, and in the thread pool the
 * restore's three read groups decompressed at once (+11 MiB of zlib memory at a peak); one at a
 * time inline, at the same CPU time (bench/README.md).
 */
async function decompress(codec: number, data: Buffer, chunkSize: number, sized: boolean): Promise<Buffer> {
  const inline = sized || data.length < INLINE_CODEC_BYTES / 4;
  // Output comes back in pieces of chunkSize, one main-thread callback each: zlib's 16 KiB default
  // meant ~6000 callbacks per 100 MiB of text restored, the largest cost of restoring it.
  const options = { chunkSize };
  // Inline, zlib's output goes to a buffer of its own (see outputSize), never a pool slab.
  if (codec === CODEC.zstd) return inline ? zlib.zstdDecompressSync(data, options) : zstdDecompress(data, options);
  if (codec === CODEC.gzip) return inline ? zlib.gunzipSync(data, options) : gunzip(data, options);
  if (codec === CODEC.none) return data;
  throw new IntegrityError(`unknown codec ${codec}`);
}

const SAMPLE = 16 * 1024;

/** A quick probe on a sample, so incompressible data (media, archives, encrypted files) skips compression. */
function looksCompressible(data: Buffer): boolean {
  if (data.length < 4 * SAMPLE) return true;
  const middle = Math.floor(data.length / 2);
  const sample = data.subarray(middle, middle + SAMPLE);
  const packed = zlib.zstdCompressSync(sample, { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } });
  return packed.length < SAMPLE * 0.95;
}

/** Compresses with `codec` unless that saves less than 1/16, then encrypts. */
export async function seal(
  encKey: Buffer,
  plaintext: Uint8Array,
  codec: CodecId = CODEC.zstd,
): Promise<{ sealed: Buffer; codec: CodecId }> {
  const { pieces, length, codec: used } = await sealPieces(encKey, plaintext, codec);
  if (pieces.length === 1) return { sealed: pieces[0] as Buffer, codec: used };
  const sealed = joinPieces(pieces, length);
  for (const p of pieces) releaseBuffer(p);
  return { sealed, codec: used };
}

/** Sealed objects from this size on stay in pieces (the ciphertext is not copied again to join them). */
const PIECES_FROM = 64 * 1024;

/**
 * `seal`, giving the stored form as pieces to be written one after the other: one piece for small
 * objects, and for large ones nonce and codec byte, ciphertext, tag — a copy of every large blob
 * less (and its memory can be freed at once when it is stored).
 */
export async function sealPieces(
  encKey: Buffer,
  plaintext: Uint8Array,
  codec: CodecId = CODEC.zstd,
): Promise<{ pieces: Buffer[]; length: number; codec: CodecId }> {
  const raw = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength);
  let body = raw;
  let used: CodecId = CODEC.none;
  if (codec !== CODEC.none && raw.length >= 64 && looksCompressible(raw)) {
    const packed = await compress(codec, raw);
    if (packed.length <= raw.length - (raw.length >> 4)) {
      body = packed;
      used = codec;
    } else if (packed !== raw) releaseCompressed(packed, codec, raw.length);
  }
  const nonce = randomBytes(NONCE);
  const cipher = createCipheriv('aes-256-gcm', secretKey(encKey), nonce);
  const head = cipher.update(Buffer.of(used));
  const encrypted = cipher.update(body);
  const rest = cipher.final(); // empty for GCM
  const tag = cipher.getAuthTag();
  if (body !== raw) releaseCompressed(body, used, raw.length);
  const length = NONCE + head.length + encrypted.length + rest.length + TAG;
  if (length >= PIECES_FROM) {
    const pieces = [joinPieces([nonce, head], NONCE + head.length), encrypted];
    if (rest.length) pieces.push(rest);
    pieces.push(tag);
    return { pieces, length, codec: used };
  }
  const sealed = joinPieces([nonce, head, encrypted, rest, tag], length);
  releaseBuffer(encrypted);
  return { pieces: [sealed], length, codec: used };
}

/**
 * Pieces joined in their own memory, never a slice of Node's shared 64 KiB allocation pool: a
 * small sealed blob waiting in a pack would otherwise keep a whole pool slab (mostly garbage) alive.
 */
function joinPieces(pieces: Buffer[], length: number): Buffer {
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const p of pieces) at += p.copy(out, at);
  return out;
}

/**
 * A decompressed result in memory of its own, which its reader can free (storage/buffers.ts).
 * zlib returns it as a slice of its output buffer (at least 64 KiB, see decompress): that buffer
 * is cut to the result (`transfer`, which can shrink it in place) rather than copied. A result
 * joined from several output buffers is already its own. (Slices of Node's shared 64 KiB pool
 * slab, alive while any slice of one is, held three times the plaintexts restoring small files.)
 */
function ownMemory(buf: Buffer, chunkSize: number): Buffer {
  const ab = buf.buffer;
  if (buf.byteOffset === 0 && buf.byteLength === ab.byteLength) return buf;
  if (buf.byteOffset === 0 && ab instanceof ArrayBuffer && ab.byteLength === chunkSize)
    return Buffer.from(ab.transfer(buf.byteLength));
  const out = Buffer.allocUnsafeSlow(buf.byteLength);
  buf.copy(out);
  return out;
}

export interface UnsealOptions {
  /**
   * The plaintext's length when known (a blob's rawLength in the index): sizes the output buffer
   * and keeps decompression inline. A wrong one costs memory, never correctness.
   */
  plainLength?: number;
  /**
   * Free the sealed bytes once decrypted, before decompressing (the caller's own buffer, read for
   * this object alone): a large blob's sealed copy is then not held next to its plaintext.
   */
  releaseSealed?: boolean;
}

/** Decrypts and decompresses; any tampering or a wrong key is an IntegrityError. */
export async function unseal(
  encKey: Buffer,
  sealed: Uint8Array,
  what = 'object',
  options: UnsealOptions = {},
): Promise<Buffer> {
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (buf.length < SEAL_OVERHEAD) throw new IntegrityError(`${what} is truncated (${buf.length} bytes)`);
  const decipher = createDecipheriv('aes-256-gcm', secretKey(encKey), buf.subarray(0, NONCE));
  decipher.setAuthTag(buf.subarray(buf.length - TAG));
  let codec: number;
  let body: Buffer;
  try {
    // The codec byte apart: the body is then a buffer of its own, which its reader can free.
    codec = decipher.update(buf.subarray(NONCE, NONCE + 1))[0] as number;
    body = decipher.update(buf.subarray(NONCE + 1, buf.length - TAG));
    const rest = decipher.final(); // empty for GCM; joined only if not, to save a copy of every blob
    if (rest.length > 0) body = Buffer.concat([body, rest]);
  } catch {
    throw new IntegrityError(`${what} failed authentication (corrupted, or encrypted with another key)`);
  }
  if (options.releaseSealed) releaseBuffer(sealed);
  if (codec === CODEC.none) return body;
  const { plainLength } = options;
  const chunkSize = decompressChunk(body.length, plainLength);
  const sized = plainLength !== undefined && plainLength <= SIZED_OUTPUT_MAX;
  const plain = ownMemory(await decompress(codec, body, chunkSize, sized), chunkSize);
  releaseBuffer(body);
  return plain;
}

export async function sealJson(encKey: Buffer, value: unknown): Promise<Buffer> {
  return (await seal(encKey, Buffer.from(JSON.stringify(value)), CODEC.zstd)).sealed;
}

export async function unsealJson<T>(encKey: Buffer, sealed: Uint8Array, what: string): Promise<T> {
  const plain = await unseal(encKey, sealed, what);
  try {
    return JSON.parse(plain.toString('utf8')) as T;
  } catch {
    throw new IntegrityError(`${what} does not hold valid JSON`);
  }
}
