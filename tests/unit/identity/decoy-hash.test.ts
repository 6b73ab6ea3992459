// The decoy hash that logins for unknown emails are verified against: it must cost a real
// verification (the default parameters) but nothing to make — an scrypt at the default cost
// holds 128 MiB, which the appliance used to pay at every start.
import * as crypto from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';

vi.mock('node:crypto', async (original) => {
  const actual = await original<typeof import('node:crypto')>();
  return { ...actual, scrypt: vi.fn(actual.scrypt) };
});

const { DEFAULT_COST, decoyHash, verifyPassword } = await import('../../../core/identity/password.ts');

describe('decoy hash', () => {
  it('has the default cost, matches no password, and runs no scrypt to be made', async () => {
    const decoy = await decoyHash();
    expect(crypto.scrypt).not.toHaveBeenCalled();
    const [scheme, log2N, r, p, , key] = decoy.split('$');
    expect([scheme, Number(log2N), Number(r), Number(p)]).toEqual([
      'scrypt',
      DEFAULT_COST.log2N,
      DEFAULT_COST.r,
      DEFAULT_COST.p,
    ]);
    expect(Buffer.from(key ?? '', 'base64')).toHaveLength(32);
    expect(await verifyPassword('Correct-Horse-42-battery', decoy)).toBe(false);
    expect(crypto.scrypt).toHaveBeenCalledTimes(1);
  });
});
