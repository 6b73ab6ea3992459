// IP rule entries: IPv4, IPv6 and IPv4-mapped IPv6 addresses, blocks and ranges, normalized
// the way they are stored, and matching that never throws on an entry it cannot read.
import { describe, expect, it } from 'vitest';
import { addressMatches, IpEntryError, normalizeEntry } from '../../../core/access/ip-match.ts';

describe('normalizeEntry', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['10.1.2.3/8', '10.0.0.0/8'],
    ['2001:DB8:0:0::1', '2001:db8::1'],
    ['2001:db8::1/128', '2001:db8::1/128'],
    ['2001:db8:abcd::/32', '2001:db8::/32'],
    ['2001:db8::1-2001:db8::ff', '2001:db8::1-2001:db8::ff'],
    ['::/0', '::/0'],
    // IPv4-mapped IPv6 is the IPv4 address it carries; a mapped block drops the 96 mapped bits.
    ['::ffff:192.0.2.1', '192.0.2.1'],
    ['::ffff:127.0.0.0/104', '127.0.0.0/8'],
    ['::ffff:7f00:0/104', '127.0.0.0/8'],
    ['::FFFF:198.51.100.0/120', '198.51.100.0/24'],
    ['::ffff:0:0/96', '0.0.0.0/0'],
    ['::ffff:192.0.2.1/128', '192.0.2.1/32'],
    ['::ffff:192.0.2.1-::ffff:192.0.2.9', '192.0.2.1-192.0.2.9'],
  ])('%s is stored as %s, which reads back the same', (input, stored) => {
    const { entry, span } = normalizeEntry(input);
    expect(entry).toBe(stored);
    expect(normalizeEntry(entry)).toEqual({ entry, span });
  });

  it.each([
    ['10.0.0.0/33', 'at most /32'],
    ['2001:db8::/129', 'at most /128'],
    ['10.0.0.0/-1', 'not a valid CIDR block'],
    ['10.0.0.0/', 'not a valid CIDR block'],
    ['10.0.0.0/8/8', 'not a valid CIDR block'],
    ['::ffff:127.0.0.0/95', 'IPv4-mapped'],
    ['::ffff:127.0.0.1-2001:db8::1', 'mixes an IPv4 and an IPv6 address'],
    ['fe80::1%eth0', 'not a valid IPv4 or IPv6 address'],
  ])('%s is refused with a message saying %s', (input, message) => {
    expect(() => normalizeEntry(input)).toThrow(IpEntryError);
    expect(() => normalizeEntry(input)).toThrow(message);
  });
});

describe('addressMatches', () => {
  it('matches IPv6 addresses against IPv6 blocks and ranges only', () => {
    expect(addressMatches('2001:db8::42', ['2001:db8::/32'])).toBe(true);
    expect(addressMatches('2001:db9::42', ['2001:db8::/32'])).toBe(false);
    expect(addressMatches('2001:db8::80', ['2001:db8::1-2001:db8::ff'])).toBe(true);
    expect(addressMatches('2001:db8::100', ['2001:db8::1-2001:db8::ff'])).toBe(false);
    expect(addressMatches('192.0.2.1', ['::/0'])).toBe(false);
  });

  it('matches a dual-stack socket address (::ffff:a.b.c.d) and a plain IPv4 address alike against a mapped rule', () => {
    const entries = [normalizeEntry('::ffff:127.0.0.0/104').entry];
    expect(addressMatches('127.0.0.1', entries)).toBe(true);
    expect(addressMatches('::ffff:127.8.9.10', entries)).toBe(true);
    expect(addressMatches('128.0.0.1', entries)).toBe(false);
    expect(addressMatches('::1', entries)).toBe(false);
  });

  it('skips a stored entry it cannot read instead of throwing, and still matches the others', () => {
    expect(addressMatches('10.0.0.1', ['127.0.0.0/104'])).toBe(false);
    expect(addressMatches('10.0.0.1', ['127.0.0.0/104', '10.0.0.0/8'])).toBe(true);
  });
});
