// A filter's key for keeping its built SQL: equal plain filters share one, any value changes it,
// and a filter holding a raw fragment (keyed by a Symbol), a Date or an entity has none.
import { raw } from '@mikro-orm/core';
import { describe, expect, it } from 'vitest';
import { plainFilterKey } from '../../../core/db/filter-key.ts';
import { containsText } from '../../../core/db/text-search.ts';

const under = (path: string) => ({
  $and: [{ path: { $gte: path, $lt: `${path.slice(0, -1)}0` } }, { kind: 'customer' }],
});

describe('plainFilterKey', () => {
  it('gives equal plain filters one key and different values different keys', () => {
    expect(plainFilterKey(under('/a/'))).toBe(plainFilterKey(under('/a/')));
    expect(plainFilterKey(under('/a/'))).not.toBe(plainFilterKey(under('/b/')));
    expect(plainFilterKey({ id: null, n: 3, on: true, ids: ['x', 'y'] })).toBe(
      '{"id":null,"n":3,"on":true,"ids":["x","y"]}',
    );
  });

  it('has no key for a filter holding a raw fragment, which JSON would drop', () => {
    const search = { $and: [under('/a/'), { $or: [containsText('name', 'acme')] }] };
    expect(JSON.stringify(search)).toBe(JSON.stringify({ $and: [under('/a/'), { $or: [{}] }] }));
    expect(plainFilterKey(search)).toBeUndefined();
    expect(plainFilterKey({ [raw('1 = 1') as unknown as string]: [] })).toBeUndefined();
  });

  it('has no key for dates, objects of a class, or numbers JSON cannot write', () => {
    expect(plainFilterKey({ at: { $lt: new Date(0) } })).toBeUndefined();
    expect(plainFilterKey({ organization: new (class Organization {})() })).toBeUndefined();
    expect(plainFilterKey({ n: Number.NaN })).toBeUndefined();
    expect(plainFilterKey({ n: () => 1 })).toBeUndefined();
  });
});
