// Packs: immutable tar archives of sealed blobs. Layout:
//   <blob id> entries (sealed blobs) … | "index" entry (sealed JSON list of the blobs) |
//   "trailer" entry (exactly 512 bytes: magic, offset and length of "index") | tar end (1024 zeros)
// so a pack's own contents are found by reading its last 1536 bytes, and indexes can always be
// rebuilt from the packs alone. Any tar tool can list a pack. A pack's id (its name) is the SHA-256
// of its sealed index.
import { createHash } from 'node:crypto';
import tar from 'tar-stream';
import type { Sink } from '../core/plugins/sink.ts';
import { IntegrityError, sealJson, unsealJson } from './crypto.ts';
import { readAll } from './streams.ts';

export type BlobKind = 'data' | 'tree';

export interface PackedBlob {
  id: string;
  kind: BlobKind;
  /** Offset of the sealed blob in the pack. */
  offset: number;
  /** Length of the sealed blob. */
  length: number;
  /** Length of the plaintext. */
  rawLength: number;
  codec: number;
}

export const TRAILER_MAGIC = 'HOLDFAST-PACK-1';
const BLOCK = 512;
const padded = (n: number) => Math.ceil(n / BLOCK) * BLOCK;
/** Bytes at the end of a pack that hold the trailer entry's data and the tar end marker. */
export const PACK_TAIL_BYTES = BLOCK + 2 * BLOCK;

export interface FinishedPack {
  id: string;
  /** The pack's bytes as the pieces tar-stream produced (not joined: saves a copy of every pack). */
  pieces: Buffer[];
  size: number;
  blobs: PackedBlob[];
  /** The sealed blobs (pieces share them): freed once the pack is uploaded. */
  bodies: Buffer[];
}

/** Collects sealed blobs and lays them out as a tar pack; everything stays in memory (≤ target size). */
export class PackBuilder {
  readonly kind: BlobKind;
  readonly #blobs: PackedBlob[] = [];
  /** Each blob's sealed bytes, in one piece or several (storage/crypto.ts sealPieces). */
  readonly #bodies: Buffer[][] = [];
  #size = 0;
  #bodyBytes = 0;

  constructor(kind: BlobKind) {
    this.kind = kind;
  }

  /** Bytes the pack would have if finished now, without its index. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the sealed blobs held (the memory this builder keeps alive). */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  get count(): number {
    return this.#blobs.length;
  }

  get ids(): string[] {
    return this.#blobs.map((b) => b.id);
  }

  has(id: string): boolean {
    return this.#blobs.some((b) => b.id === id);
  }

  add(id: string, sealed: Buffer | Buffer[], rawLength: number, codec: number): void {
    const pieces = Array.isArray(sealed) ? sealed : [sealed];
    const length = pieces.reduce((n, p) => n + p.length, 0);
    this.#blobs.push({ id, kind: this.kind, offset: this.#size + BLOCK, length, rawLength, codec });
    this.#bodies.push(pieces);
    this.#bodyBytes += length;
    this.#size += BLOCK + padded(length);
  }

  async finish(encKey: Buffer): Promise<FinishedPack> {
    const index = await sealJson(encKey, { version: 1, blobs: this.#blobs });
    const indexOffset = this.#size + BLOCK;
    const trailer = Buffer.alloc(BLOCK, 0x20);
    trailer.write(`${TRAILER_MAGIC} ${indexOffset} ${index.length}\n`);
    const pack = tar.pack();
    const out: Buffer[] = [];
    let size = 0;
    pack.on('data', (chunk: unknown) => {
      const piece = chunk as Buffer;
      out.push(piece);
      size += piece.length;
    });
    const ended = new Promise<void>((resolve, reject) => {
      pack.on('end', resolve);
      pack.on('error', reject);
    });
    const mtime = new Date(0);
    this.#blobs.forEach((blob, i) => {
      const pieces = this.#bodies[i] as Buffer[];
      if (pieces.length === 1) {
        pack.entry({ name: blob.id, size: blob.length, mtime, mode: 0o600 }, pieces[0] as Buffer);
        return;
      }
      const entry = pack.entry({ name: blob.id, size: blob.length, mtime, mode: 0o600 });
      for (const piece of pieces.slice(0, -1)) entry.write(piece);
      entry.end(pieces.at(-1));
    });
    pack.entry({ name: 'index', size: index.length, mtime, mode: 0o600 }, index);
    pack.entry({ name: 'trailer', size: BLOCK, mtime, mode: 0o600 }, trailer);
    pack.finalize();
    await ended;
    // Offsets above assume plain 512-byte ustar headers; fail loudly if the layout ever differs.
    const expected = padded(indexOffset + index.length) + 2 * BLOCK + 2 * BLOCK;
    if (size !== expected) throw new Error(`pack layout mismatch: ${size} bytes, expected ${expected}`);
    // The id is the hash of the pack's sealed index (unique: it carries a random nonce), not of all
    // its bytes: every blob is authenticated by its own GCM tag, and hashing the whole pack again
    // would cost as much as computing the blob ids.
    return { id: packIdOf(index), pieces: out, size, blobs: [...this.#blobs], bodies: this.#bodies.flat() };
  }
}

export function packIdOf(sealedIndex: Uint8Array): string {
  return createHash('sha256').update(sealedIndex).digest('hex');
}

/** Parses the trailer (the 512 bytes before the tar end marker) into the index's position. */
export function parseTrailer(trailer: Buffer, packId: string): { offset: number; length: number } {
  const match = new RegExp(`^${TRAILER_MAGIC} (\\d+) (\\d+)\\n`).exec(trailer.toString('latin1'));
  if (!match) throw new IntegrityError(`pack ${packId} has no valid trailer`);
  return { offset: Number(match[1]), length: Number(match[2]) };
}

export async function openPackIndex(encKey: Buffer, sealedIndex: Buffer, packId: string): Promise<PackedBlob[]> {
  const parsed = await unsealJson<{ version: number; blobs: PackedBlob[] }>(
    encKey,
    sealedIndex,
    `index of pack ${packId}`,
  );
  if (parsed.version !== 1 || !Array.isArray(parsed.blobs))
    throw new IntegrityError(`pack ${packId} has an unknown index format`);
  return parsed.blobs;
}

/**
 * Bytes read from a pack's end to find its contents: the trailer, the tar end marker and, nearly
 * always, the pack's own index too (~200 bytes a blob), so one ranged read is enough.
 */
export const PACK_TAIL_READ = 64 * 1024;

/**
 * The blob list a pack carries at its end (trailer → sealed index), read with ranged reads of the
 * pack's tail only: one read, a second when the index is larger than the tail read first.
 * Authenticated: the index must decrypt and its hash must be the pack's name.
 */
export async function readPackBlobs(sink: Sink, encKey: Buffer, packId: string, size: number): Promise<PackedBlob[]> {
  if (size < PACK_TAIL_BYTES) throw new IntegrityError(`pack ${packId} is truncated (${size} bytes)`);
  const key = packKey(packId);
  const tailStart = Math.max(0, size - PACK_TAIL_READ);
  const tail = await readAll(await sink.get(key, { offset: tailStart, length: size - tailStart }));
  if (tail.length !== size - tailStart) throw new IntegrityError(`pack ${packId} is shorter than listed`);
  const trailerAt = tail.length - PACK_TAIL_BYTES;
  const at = parseTrailer(tail.subarray(trailerAt, trailerAt + BLOCK), packId);
  if (at.offset + at.length > size - PACK_TAIL_BYTES)
    throw new IntegrityError(`pack ${packId} has a trailer pointing outside it`);
  const sealedIndex =
    at.offset >= tailStart
      ? tail.subarray(at.offset - tailStart, at.offset - tailStart + at.length)
      : await readAll(await sink.get(key, at));
  if (packIdOf(sealedIndex) !== packId) throw new IntegrityError(`pack ${packId}: its index does not match its name`);
  return openPackIndex(encKey, sealedIndex, packId);
}

/**
 * The offset of the first tar header in a whole pack whose checksum or size field is wrong, or
 * undefined when the tar structure is intact. Blobs are read by offset, so a damaged header costs
 * no data; `verify --read-data` names it so a tar tool's refusal is no surprise.
 */
export function damagedTarHeader(pack: Buffer): number | undefined {
  let at = 0;
  while (at + BLOCK <= pack.length) {
    const header = pack.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return undefined; // the end marker
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (header[i] as number);
    const stored = Number.parseInt(
      header
        .subarray(148, 156)
        .toString('latin1')
        .replace(/[\0 ]+$/, ''),
      8,
    );
    const size = Number.parseInt(
      header
        .subarray(124, 136)
        .toString('latin1')
        .replace(/[\0 ]+$/, ''),
      8,
    );
    if (stored !== sum || !Number.isFinite(size)) return at;
    at += BLOCK + padded(size);
  }
  return at === pack.length ? undefined : at;
}

export function packKey(packId: string): string {
  return `data/${packId.slice(0, 2)}/${packId}`;
}
