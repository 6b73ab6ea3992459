// Opening a passphrase-wrapped key object without OpenPGP.js. The key objects Holdfast writes
// (keys.ts, `wrapKeys`) are RFC 9580 messages of one shape: a v6 SKESK (iterated and salted
// SHA-256 S2K, AES-256, GCM) and a v2 SEIPD (AES-256, GCM, chunked) around one literal data
// packet. Loading OpenPGP.js costs a process ~6–12 MiB of resident memory that it keeps to its end,
// and every `holdfast repo` command and job worker opens a repository; this reads that one shape
// with node:crypto instead. Any other shape (a public-key recipient, another cipher, partial
// lengths, compression) is not read here: `null` says "ask OpenPGP.js".
import { createDecipheriv, createHash, hkdfSync } from 'node:crypto';

const TAG_SKESK = 3;
const TAG_SEIPD = 18;
const TAG_LITERAL = 11;
const TAG_PADDING = 21;
const AES256 = 9;
const GCM = 3;
const SHA256 = 8;
const S2K_ITERATED = 3;
const GCM_NONCE = 12;
const GCM_TAG = 16;
const KEY_SIZE = 32;

/** The session key does not authenticate: not these credentials. */
export class KeyObjectNotOpened extends Error {}

interface Packet {
  tag: number;
  body: Buffer;
}

/** New-format packets with fixed lengths; null for anything else. */
function packets(bytes: Buffer): Packet[] | null {
  const found: Packet[] = [];
  let at = 0;
  while (at < bytes.length) {
    const head = bytes[at] as number;
    if ((head & 0xc0) !== 0xc0) return null; // old-format header
    const first = bytes[at + 1];
    if (first === undefined) return null;
    let length: number;
    let start: number;
    if (first < 192) {
      length = first;
      start = at + 2;
    } else if (first < 224) {
      length = ((first - 192) << 8) + (bytes[at + 2] ?? 0) + 192;
      start = at + 3;
    } else if (first === 255) {
      if (at + 6 > bytes.length) return null;
      length = bytes.readUInt32BE(at + 2);
      start = at + 6;
    } else {
      return null; // partial body lengths
    }
    if (start + length > bytes.length) return null;
    found.push({ tag: head & 0x3f, body: bytes.subarray(start, start + length) });
    at = start + length;
  }
  return found;
}

/** RFC 9580 3.7.1.3: SHA-256 over salt‖passphrase repeated to `count` octets (at least once whole). */
function iteratedS2k(passphrase: Buffer, salt: Buffer, countByte: number): Buffer {
  const data = Buffer.concat([salt, passphrase]);
  const count = Math.max((16 + (countByte & 15)) << ((countByte >> 4) + 6), data.length);
  // Hashed in blocks of whole repetitions: up to 64 KiB at a time, never the whole 16 MiB.
  const reps = Math.max(1, Math.floor(65536 / data.length));
  const block = Buffer.alloc(reps * data.length);
  for (let i = 0; i < reps; i++) data.copy(block, i * data.length);
  const hash = createHash('sha256');
  let left = count;
  while (left > 0) {
    const n = Math.min(left, block.length);
    hash.update(block.subarray(0, n));
    left -= n;
  }
  return hash.digest();
}

function gcmOpen(key: Buffer, nonce: Buffer, data: Buffer, tag: Buffer, ad: Buffer): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(ad);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(data), decipher.final()]);
}

/** The session key from a v6 SKESK; null for another shape; KeyObjectNotOpened for another passphrase. */
function sessionKey(body: Buffer, passphrase: string): Buffer | null {
  // version 6, count of the next five fields, cipher, AEAD, S2K length, S2K, IV, key + tag
  if (body.length < 5 || body[0] !== 6 || body[2] !== AES256 || body[3] !== GCM) return null;
  const s2kLength = body[4] as number;
  const s2k = body.subarray(5, 5 + s2kLength);
  if (s2kLength !== 11 || s2k[0] !== S2K_ITERATED || s2k[1] !== SHA256 || body[1] !== 3 + s2kLength + GCM_NONCE)
    return null;
  const iv = body.subarray(5 + s2kLength, 5 + s2kLength + GCM_NONCE);
  const sealed = body.subarray(5 + s2kLength + GCM_NONCE);
  if (sealed.length !== KEY_SIZE + GCM_TAG) return null;
  const stretched = iteratedS2k(Buffer.from(passphrase, 'utf8'), s2k.subarray(2, 10), s2k[10] as number);
  const ad = Buffer.from([0xc0 | TAG_SKESK, 6, AES256, GCM]);
  const kek = Buffer.from(hkdfSync('sha256', stretched, Buffer.alloc(0), ad, KEY_SIZE));
  try {
    return gcmOpen(kek, iv, sealed.subarray(0, KEY_SIZE), sealed.subarray(KEY_SIZE), ad);
  } catch {
    throw new KeyObjectNotOpened('the passphrase does not open this key object');
  }
}

/** The plaintext of a v2 SEIPD (RFC 9580 5.13.2); null for another shape; throws when it does not authenticate. */
function seipdPlaintext(body: Buffer, key: Buffer): Buffer | null {
  if (body.length < 4 + 32 + GCM_TAG || body[0] !== 2 || body[1] !== AES256 || body[2] !== GCM) return null;
  const chunkByte = body[3] as number;
  if (chunkByte > 16) return null;
  const chunkSize = 2 ** (chunkByte + 6);
  const info = Buffer.from([0xc0 | TAG_SEIPD, 2, AES256, GCM, chunkByte]);
  const derived = Buffer.from(hkdfSync('sha256', key, body.subarray(4, 36), info, KEY_SIZE + GCM_NONCE - 8));
  const messageKey = derived.subarray(0, KEY_SIZE);
  const nonce = Buffer.alloc(GCM_NONCE);
  derived.copy(nonce, 0, KEY_SIZE);
  const data = body.subarray(36, body.length - GCM_TAG);
  const pieces: Buffer[] = [];
  let at = 0;
  let index = 0;
  do {
    const end = Math.min(at + chunkSize + GCM_TAG, data.length);
    if (end - at < GCM_TAG) throw new Error('key object: truncated chunk');
    nonce.writeBigUInt64BE(BigInt(index), GCM_NONCE - 8);
    pieces.push(gcmOpen(messageKey, nonce, data.subarray(at, end - GCM_TAG), data.subarray(end - GCM_TAG, end), info));
    at = end;
    index++;
  } while (at < data.length);
  const plaintext = Buffer.concat(pieces);
  // The final tag authenticates the whole length: no chunk was cut off the end.
  nonce.writeBigUInt64BE(BigInt(index), GCM_NONCE - 8);
  const total = Buffer.alloc(8);
  total.writeBigUInt64BE(BigInt(plaintext.length));
  gcmOpen(messageKey, nonce, Buffer.alloc(0), body.subarray(body.length - GCM_TAG), Buffer.concat([info, total]));
  return plaintext;
}

/** A literal data packet's contents (format, file name and date skipped), padding allowed after it. */
function literalData(plaintext: Buffer): Buffer | null {
  const inner = packets(plaintext);
  if (!inner) return null;
  const literals = inner.filter((p) => p.tag === TAG_LITERAL);
  if (literals.length !== 1 || inner.some((p) => p.tag !== TAG_LITERAL && p.tag !== TAG_PADDING)) return null;
  const body = (literals[0] as Packet).body;
  const nameLength = body[1];
  if (nameLength === undefined || body.length < 2 + nameLength + 4) return null;
  return body.subarray(2 + nameLength + 4);
}

/**
 * The contents of a passphrase-wrapped key object of Holdfast's shape: null when it has another
 * shape (OpenPGP.js reads it), KeyObjectNotOpened when the passphrase does not open it, an Error
 * when the data does not authenticate under the right passphrase.
 */
export function openKeyObject(wrapped: Uint8Array, passphrase: string): Buffer | null {
  const list = packets(Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength));
  if (list?.length !== 2) return null;
  const [skesk, seipd] = list as [Packet, Packet];
  if (skesk.tag !== TAG_SKESK || seipd.tag !== TAG_SEIPD) return null;
  const key = sessionKey(skesk.body, passphrase);
  if (!key) return null;
  let plaintext: Buffer | null;
  try {
    plaintext = seipdPlaintext(seipd.body, key);
  } catch (err) {
    throw new Error('key object: its data does not authenticate', { cause: err });
  }
  return plaintext && literalData(plaintext);
}
