// File names as raw bytes. Linux names are byte strings, not text: a name that is not valid UTF-8
// is kept in an item key with each byte that is not part of a valid UTF-8 sequence mapped to the
// lone surrogate U+DC80 + (byte − 0x80) (Python's "surrogateescape"). Valid UTF-8 never decodes to
// a lone surrogate, so the mapping is exact both ways, and names that are valid UTF-8 (all names
// of older snapshots) are plain strings as before. Tree nodes are JSON, which writes lone
// surrogates as `\udcXX` escapes, so such keys survive storage unchanged.
import { isUtf8 } from 'node:buffer';

const ESCAPED = /[\udc80-\udcff]/u;
const ESCAPED_ALL = /[\udc80-\udcff]/gu;

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i] as number;
  if (b0 < 0x80) return 1;
  const cont = (k: number) => {
    const b = bytes[i + k];
    return b !== undefined && (b & 0xc0) === 0x80;
  };
  const b1 = bytes[i + 1] ?? 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    // No overlong forms (E0 80..9F) and no UTF-16 surrogates (ED A0..BF).
    if ((b0 === 0xe0 && b1 < 0xa0) || (b0 === 0xed && b1 > 0x9f)) return 0;
    return cont(1) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    // No overlong forms (F0 80..8F) and nothing above U+10FFFF (F4 90..).
    if ((b0 === 0xf0 && b1 < 0x90) || (b0 === 0xf4 && b1 > 0x8f)) return 0;
    return cont(1) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** A name read from the file system (as bytes) as a key segment. */
export function decodeName(raw: Uint8Array): string {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (isUtf8(buf)) return buf.toString('utf8');
  let out = '';
  for (let i = 0; i < buf.length; ) {
    const n = sequenceLength(buf, i);
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + (buf[i] as number));
      i++;
    } else {
      out += buf.toString('utf8', i, i + n);
      i += n;
    }
  }
  return out;
}

/** Whether a key or path holds escaped bytes (and so needs encodePath for the file system). */
export function hasRawBytes(name: string): boolean {
  return ESCAPED.test(name);
}

/** A key or path as the file system wants it: the string itself, or its exact bytes. */
export function encodePath(path: string): string | Buffer {
  if (!ESCAPED.test(path)) return path;
  const parts: Buffer[] = [];
  let last = 0;
  for (const match of path.matchAll(ESCAPED_ALL)) {
    parts.push(Buffer.from(path.slice(last, match.index), 'utf8'));
    parts.push(Buffer.of((match[0].charCodeAt(0) - 0xdc00) & 0xff));
    last = match.index + match[0].length;
  }
  parts.push(Buffer.from(path.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

/** A key or path for people to read: escaped bytes shown as `\xNN`. */
export function displayName(name: string): string {
  return name.replace(ESCAPED_ALL, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16).padStart(2, '0')}`);
}
