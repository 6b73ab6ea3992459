// Names as raw bytes (storage/raw-names.ts): any byte string survives key form exactly, and
// names that are valid UTF-8 are unchanged.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeName, displayName, encodePath, hasRawBytes } from '../../../storage/raw-names.ts';

describe('raw file names', () => {
  it('keeps valid UTF-8 names as plain strings, emoji included', () => {
    const name = 'Überweisung 💶.pdf';
    expect(decodeName(Buffer.from(name))).toBe(name);
    expect(hasRawBytes(name)).toBe(false);
    expect(encodePath(name)).toBe(name);
  });

  it('round-trips every byte string exactly', () => {
    const cases = [
      Buffer.from('caf\xe9', 'latin1'),
      Buffer.from([0xed, 0xa0, 0x80]), // a UTF-16 surrogate encoded in UTF-8: not valid UTF-8
      Buffer.from([0xc0, 0xaf]), // an overlong '/'
      Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
      Buffer.from([0xe2, 0x82]), // a sequence cut short
      ...Array.from({ length: 200 }, () => randomBytes(1 + ((randomBytes(1)[0] as number) % 40))),
    ];
    for (const raw of cases) {
      const key = decodeName(raw);
      expect(Buffer.from(encodePath(key))).toEqual(raw);
    }
  });

  it('shows escaped bytes as \\xNN', () => {
    const key = `dir${decodeName(Buffer.from([0xff]))}/caf${decodeName(Buffer.from([0xe9]))}💶`;
    expect(hasRawBytes(key)).toBe(true);
    expect(displayName(key)).toBe('dir\\xff/caf\\xe9💶');
    expect(encodePath(key)).toEqual(Buffer.concat([Buffer.from('dir\xff/caf\xe9', 'latin1'), Buffer.from('💶')]));
  });
});
