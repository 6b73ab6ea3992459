// The SSRF rule of webhooks: which addresses are not public, and the lookup that makes a
// connection refuse a name resolving to one.
import { describe, expect, it } from 'vitest';
import { guardedLookup, isPrivateAddress } from '../../../core/webhooks/url-guard.ts';

describe('isPrivateAddress', () => {
  it.each([
    '127.0.0.1',
    '10.20.30.40',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.0.1',
    '169.254.169.254',
    '100.64.0.1',
    '0.0.0.0',
    '224.0.0.1',
    '::1',
    '::',
    'fd00::1',
    'fe80::1',
    '::ffff:127.0.0.1',
    '[::1]',
    'not-an-address',
  ])('%s is not public', (address) => {
    expect(isPrivateAddress(address)).toBe(true);
  });

  it.each(['93.184.215.14', '1.1.1.1', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'])(
    '%s is public',
    (address) => {
      expect(isPrivateAddress(address)).toBe(false);
    },
  );
});

const resolve = (allowPrivate: boolean, host: string) =>
  new Promise<{ err: Error | null; address: string }>((done) => {
    guardedLookup(allowPrivate)(host, {}, (err, address) => done({ err, address: String(address) }));
  });

describe('guardedLookup', () => {
  it('refuses a name that resolves to loopback', async () => {
    const { err } = await resolve(false, 'localhost');
    expect(err?.message).toBe('localhost resolves to a non-public address');
  });

  it('answers with the resolved address when the operator allows private ones', async () => {
    const { err, address } = await resolve(true, 'localhost');
    expect(err).toBeNull();
    expect(isPrivateAddress(address)).toBe(true);
  });
});
