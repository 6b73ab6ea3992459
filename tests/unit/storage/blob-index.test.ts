// The compact blob index: what goes in comes out exactly, later locations replace earlier ones,
// and ids or values outside the compact form are still kept exactly.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { BlobIndex, type BlobLocation } from '../../../storage/blob-index.ts';

const idOf = (n: number) => createHash('sha256').update(`blob ${n}`).digest('hex');
const packOf = (n: number) =>
  createHash('sha256')
    .update(`pack ${n % 37}`)
    .digest('hex');

function locationOf(n: number): BlobLocation {
  return {
    pack: packOf(n),
    kind: n % 5 === 0 ? 'tree' : 'data',
    offset: n * 1536 + 512,
    length: 1000 + (n % 4096),
    rawLength: 900 + (n % 8192),
    codec: n % 3,
  };
}

describe('blob index', () => {
  it('returns every location it was given, across growth of its arrays', () => {
    const index = new BlobIndex();
    for (let n = 0; n < 5000; n++) index.set(idOf(n), locationOf(n));
    expect(index.size).toBe(5000);
    for (let n = 0; n < 5000; n++) expect(index.get(idOf(n))).toEqual(locationOf(n));
    expect(index.has(idOf(5000))).toBe(false);
    expect(index.get(idOf(5000))).toBeUndefined();
  });

  it('replaces a location set again for the same id (a blob stored anew by prune)', () => {
    const index = new BlobIndex();
    index.set(idOf(1), locationOf(1));
    index.set(idOf(1), locationOf(2));
    expect(index.size).toBe(1);
    expect(index.get(idOf(1))).toEqual(locationOf(2));
  });

  it('keeps ids and values outside the compact form exactly', () => {
    const index = new BlobIndex();
    const big: BlobLocation = { ...locationOf(3), offset: 2 ** 40 + 7, length: 2 ** 33 };
    index.set(idOf(3), locationOf(3));
    index.set(idOf(3), big);
    index.set('not-a-hex-id', locationOf(4));
    index.set(idOf(5).toUpperCase(), locationOf(5));
    expect(index.get(idOf(3))).toEqual(big);
    expect(index.get('not-a-hex-id')).toEqual(locationOf(4));
    expect(index.get(idOf(5).toUpperCase())).toEqual(locationOf(5));
    expect(index.has(idOf(5))).toBe(false);
    expect(index.size).toBe(3);
    // Back into the compact form: the odd entry is replaced, not duplicated.
    index.set(idOf(3), locationOf(3));
    expect(index.get(idOf(3))).toEqual(locationOf(3));
    expect(index.size).toBe(3);
  });
});
