// The fixed-size record of the on-disk blob index (storage/blob-index.ts): one blob's binary id
// and location in 56 bytes, so a sorted run can be searched by position without parsing.

export const RECORD = 56;
export const ID_BYTES = 32;
const OFFSET_LOW = 32;
const OFFSET_HIGH = 36;
const PACK = 40;
const LENGTH = 44;
const RAW_LENGTH = 48;
/** codec in the low 7 bits, kind ('tree' = 1) in the top bit. */
const CODEC_KIND = 52;
const FLAGS = 53;
/** The id's location is in the index's side map (it does not fit a record): older records are shadowed. */
const ELSEWHERE = 1;

export interface RecordFields {
  pack: number;
  offset: number;
  length: number;
  rawLength: number;
  codec: number;
  tree: boolean;
}

/** Writes a record's fields after its id (already at `at`); `fields` undefined writes an ELSEWHERE marker. */
export function writeFields(buf: Buffer, at: number, fields: RecordFields | undefined): void {
  buf.fill(0, at + ID_BYTES, at + RECORD);
  if (!fields) {
    buf[at + FLAGS] = ELSEWHERE;
    return;
  }
  buf.writeUInt32LE(fields.offset % 2 ** 32, at + OFFSET_LOW);
  buf.writeUInt32LE(Math.floor(fields.offset / 2 ** 32), at + OFFSET_HIGH);
  buf.writeUInt32LE(fields.pack, at + PACK);
  buf.writeUInt32LE(fields.length, at + LENGTH);
  buf.writeUInt32LE(fields.rawLength, at + RAW_LENGTH);
  buf[at + CODEC_KIND] = fields.codec | (fields.tree ? 0x80 : 0);
}

export function isElsewhere(buf: Buffer, at: number): boolean {
  return buf[at + FLAGS] === ELSEWHERE;
}

export function readFields(buf: Buffer, at: number): RecordFields {
  const codecKind = buf[at + CODEC_KIND] as number;
  return {
    pack: buf.readUInt32LE(at + PACK),
    offset: buf.readUInt32LE(at + OFFSET_LOW) + buf.readUInt32LE(at + OFFSET_HIGH) * 2 ** 32,
    length: buf.readUInt32LE(at + LENGTH),
    rawLength: buf.readUInt32LE(at + RAW_LENGTH),
    codec: codecKind & 0x7f,
    tree: codecKind >= 0x80,
  };
}

/** Byte order of two ids (the first four bytes settle nearly every comparison without a native call). */
export function compareIds(a: Buffer, aAt: number, b: Buffer, bAt: number): number {
  const x = a.readUInt32BE(aAt);
  const y = b.readUInt32BE(bAt);
  if (x !== y) return x < y ? -1 : 1;
  return a.compare(b, bAt + 4, bAt + ID_BYTES, aAt + 4, aAt + ID_BYTES);
}

/** 64 lowercase hex characters: a blob or pack id as this code writes them (a loop: ~5x a RegExp here). */
export function isHexId(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}
