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
    const index = new BlobIndex({ recent: 1000 });
    for (let n = 0; n < 5000; n++) index.set(idOf(n), locationOf(n));
    expect(index.size).toBe(5000);
    for (let n = 0; n < 5000; n++) expect(index.get(idOf(n))).toEqual(locationOf(n));
    expect(index.has(idOf(5000))).toBe(false);
    expect(index.get(idOf(5000))).toBeUndefined();
  });

  it('replaces a location set again for the same id (a blob stored anew by prune)', () => {
    const index = new BlobIndex({ recent: 1000 });
    index.set(idOf(1), locationOf(1));
    index.set(idOf(1), locationOf(2));
    expect(index.size).toBe(1);
    expect(index.get(idOf(1))).toEqual(locationOf(2));
  });

  it('keeps ids and values outside the compact form exactly', () => {
    const index = new BlobIndex({ recent: 1000 });
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

  it('agrees with a Map through runs written out, merged and replaced, then frees its files on close', () => {
    // Seven recent records: most entries live in run files, merged as they accumulate.
    const index = new BlobIndex({ recent: 7 });
    const expected = new Map<string, BlobLocation>();
    let seed = 1;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let step = 0; step < 3000; step++) {
      const n = next() % 800;
      const at = n % 97 === 0 ? { ...locationOf(step), offset: 2 ** 60 } : locationOf(step);
      index.set(idOf(n), at);
      expected.set(idOf(n), at);
    }
    for (let n = 0; n < 900; n++) expect(index.get(idOf(n))).toEqual(expected.get(idOf(n)));
    expect(index.size).toBe(expected.size);
    for (let n = 0; n < 900; n++) expect(index.get(idOf(n))).toEqual(expected.get(idOf(n)));
    // Ids sharing their first bytes (constructed, never HMACs) are told apart across blocks.
    for (let n = 0; n < 300; n++) index.set(n.toString(16).padStart(64, '0'), locationOf(n));
    for (let n = 0; n < 300; n++) expect(index.get(n.toString(16).padStart(64, '0'))).toEqual(locationOf(n));
    index.close();
    expect(() => index.get(idOf(1))).toThrow(/closed/);
  });
});
