// Packs: immutable tar archives of sealed blobs. Layout:
//   <blob id> entries (sealed blobs) … | "index" entry (sealed JSON list of the blobs) |
//   "trailer" entry (exactly 512 bytes: magic, offset and length of "index") | tar end (1024 zeros)
// so a pack's own contents are found by reading its last 1536 bytes, and indexes can always be
// rebuilt from the packs alone. Any tar tool can list a pack. A pack's id (its name) is the SHA-256
// of its sealed index.
import { createHash, randomUUID } from 'node:crypto';
import { closeSync, mkdirSync, openSync, read, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
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
  size: number;
  blobs: PackedBlob[];
  /** The pack's bytes, read from its spool file (once). */
  body(): Readable;
  /** Closes the spool file (its space is freed: it has no name). */
  dispose(): void;
}

/**
 * A tar header of one pack entry: a plain ustar header (mode 0600, owner 0, mtime 0), byte for
 * byte what tar-stream wrote for packs before they were spooled. Names are blob ids (ASCII, short).
 */
export function tarHeader(name: string, size: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  const octal = (value: number, digits: number) => `${value.toString(8).padStart(digits, '0')} `;
  header.write(name, 0, 100, 'latin1');
  header.write(octal(0o600, 6), 100, 'latin1');
  header.write(octal(0, 6), 108, 'latin1');
  header.write(octal(0, 6), 116, 'latin1');
  header.write(octal(size, 11), 124, 'latin1');
  header.write(octal(0, 11), 136, 'latin1');
  header[156] = 0x30; // a regular file
  header.write('ustar\u000000', 257, 'latin1');
  header.write(octal(0, 6), 329, 'latin1');
  header.write(octal(0, 6), 337, 'latin1');
  let sum = 8 * 0x20; // the checksum field counts as spaces
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += header[i] as number;
  header.write(octal(sum, 6), 148, 'latin1');
  return header;
}

/** Bytes gathered before they are written to the spool file: one write per this much. */
const SPOOL_BUFFER = 1024 * 1024;
const ZEROS = Buffer.alloc(2 * BLOCK);

/**
 * Collects sealed blobs and lays them out as a tar pack in a spool file as they come: a pack being
 * filled or uploaded holds ~1 MiB of memory, not its size (restic spools packs to temporary files
 * too). Sealed blobs are copied into the spool buffer, and the caller may free them at once. The
 * spool file is removed from its folder as soon as it is opened, so a crash leaves nothing behind.
 */
export class PackBuilder {
  readonly kind: BlobKind;
  readonly #dir: string;
  readonly #blobs: PackedBlob[] = [];
  #fd: number | undefined;
  #buffer: Buffer | undefined;
  #buffered = 0;
  /** Bytes given to #write: the pack's size once finished. */
  #written = 0;
  #size = 0;
  #bodyBytes = 0;

  /** `dir`: where the spool file is made (the repository's work folder). */
  constructor(kind: BlobKind, dir: string) {
    this.kind = kind;
    this.#dir = dir;
  }

  /** Bytes the pack would have if finished now, without its index. */
  get size(): number {
    return this.#size;
  }

  /** Bytes of the sealed blobs added. */
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
    this.#write(tarHeader(id, length));
    for (const piece of pieces) this.#write(piece);
    this.#pad(length);
    this.#blobs.push({ id, kind: this.kind, offset: this.#size + BLOCK, length, rawLength, codec });
    this.#bodyBytes += length;
    this.#size += BLOCK + padded(length);
  }

  async finish(encKey: Buffer): Promise<FinishedPack> {
    const index = await sealJson(encKey, { version: 1, blobs: this.#blobs });
    const indexOffset = this.#size + BLOCK;
    const trailer = Buffer.alloc(BLOCK, 0x20);
    trailer.write(`${TRAILER_MAGIC} ${indexOffset} ${index.length}\n`);
    this.#write(tarHeader('index', index.length));
    this.#write(index);
    this.#pad(index.length);
    this.#write(tarHeader('trailer', BLOCK));
    this.#write(trailer);
    this.#write(ZEROS);
    this.#flush();
    const size = padded(indexOffset + index.length) + 2 * BLOCK + 2 * BLOCK;
    // Offsets above assume plain 512-byte headers and padding; fail loudly if the layout ever differs.
    if (this.#written !== size) throw new Error(`pack layout mismatch: ${this.#written} bytes, expected ${size}`);
    const fd = this.#spool();
    this.#fd = undefined;
    this.#buffer = undefined;
    // The id is the hash of the pack's sealed index (unique: it carries a random nonce), not of all
    // its bytes: every blob is authenticated by its own GCM tag, and hashing the whole pack again
    // would cost as much as computing the blob ids.
    return { id: packIdOf(index), size, blobs: [...this.#blobs], ...spoolReader(fd, size) };
  }

  /** Closes the spool file of a pack that will not be finished. */
  discard(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
    this.#buffer = undefined;
  }

  #spool(): number {
    if (this.#fd === undefined) {
      mkdirSync(this.#dir, { recursive: true });
      const path = join(this.#dir, `pack-spool-${randomUUID()}`);
      this.#fd = openSync(path, 'wx+', 0o600);
      unlinkSync(path);
    }
    return this.#fd;
  }

  #write(bytes: Buffer): void {
    this.#written += bytes.length;
    if (bytes.length >= SPOOL_BUFFER / 4) {
      this.#flush();
      writeAll(this.#spool(), bytes);
      return;
    }
    this.#buffer ??= Buffer.allocUnsafeSlow(SPOOL_BUFFER);
    if (this.#buffered + bytes.length > SPOOL_BUFFER) this.#flush();
    this.#buffered += bytes.copy(this.#buffer, this.#buffered);
  }

  #pad(length: number): void {
    const gap = padded(length) - length;
    if (gap > 0) this.#write(ZEROS.subarray(0, gap));
  }

  #flush(): void {
    if (this.#buffered === 0 || !this.#buffer) return;
    writeAll(this.#spool(), this.#buffer.subarray(0, this.#buffered));
    this.#buffered = 0;
  }
}

/** Pieces of the upload read from the spool file at once. */
const UPLOAD_PIECE = 256 * 1024;

/**
 * The spool file's bytes as a stream, and the file's closing. The stream never closes the file
 * (a sink that gives up destroys it, maybe while a read is under way): dispose() does, once no
 * read is in flight, so a descriptor number reused meanwhile is never read or closed by mistake.
 */
function spoolReader(fd: number, size: number): Pick<FinishedPack, 'body' | 'dispose'> {
  let reading = false;
  let disposed = false;
  let closed = false;
  const closeOnce = () => {
    if (closed) return;
    closed = true;
    closeSync(fd);
  };
  return {
    body: () => {
      let at = 0;
      return new Readable({
        highWaterMark: UPLOAD_PIECE,
        read() {
          if (disposed) return void this.destroy(new Error('the pack spool file is closed'));
          if (at >= size) return void this.push(null);
          const piece = Buffer.allocUnsafeSlow(Math.min(UPLOAD_PIECE, size - at));
          reading = true;
          read(fd, piece, 0, piece.length, at, (err, n) => {
            reading = false;
            if (disposed) closeOnce();
            if (err || n === 0) return void this.destroy(err ?? new Error('the pack spool file ended early'));
            at += n;
            this.push(n === piece.length ? piece : piece.subarray(0, n));
          });
        },
      });
    },
    dispose: () => {
      disposed = true;
      if (!reading) closeOnce();
    },
  };
}

function writeAll(fd: number, bytes: Buffer): void {
  for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
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
