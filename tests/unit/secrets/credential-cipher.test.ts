import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CredentialDecryptionError, createCredentialCipher } from '../../../core/secrets/credential-cipher.ts';

describe('credential cipher', () => {
  const cipher = createCredentialCipher(randomBytes(32));

  it('round-trips a secret and never stores it in clear', () => {
    const sealed = cipher.encrypt('dropbox-refresh-token-123', 'task:1:refreshToken');
    expect(sealed).toMatch(/^hf1\.[0-9a-f]{8}\.[\w-]+\.[\w-]+$/);
    expect(sealed).not.toContain('dropbox-refresh-token-123');
    expect(cipher.decrypt(sealed, 'task:1:refreshToken')).toBe('dropbox-refresh-token-123');
  });

  it('uses a fresh nonce each time', () => {
    expect(cipher.encrypt('x', 'c')).not.toBe(cipher.encrypt('x', 'c'));
  });

  it('refuses a ciphertext moved to another record', () => {
    const sealed = cipher.encrypt('secret', 'task:1:refreshToken');
    expect(() => cipher.decrypt(sealed, 'task:2:refreshToken')).toThrow(CredentialDecryptionError);
  });

  it('detects tampering and truncation', () => {
    const sealed = cipher.encrypt('secret', 'ctx');
    const parts = sealed.split('.');
    const body = Buffer.from(parts[3] as string, 'base64url');
    body[0] = (body[0] as number) ^ 1;
    expect(() => cipher.decrypt([...parts.slice(0, 3), body.toString('base64url')].join('.'), 'ctx')).toThrow(
      /failed authentication/,
    );
    expect(() => cipher.decrypt([...parts.slice(0, 3), 'AAAA'].join('.'), 'ctx')).toThrow(/truncated/);
    expect(() => cipher.decrypt('plain text', 'ctx')).toThrow(/not a Holdfast encrypted credential/);
  });

  it('says when the master key is not the one used to encrypt', () => {
    const sealed = cipher.encrypt('secret', 'ctx');
    const other = createCredentialCipher(randomBytes(32));
    expect(() => other.decrypt(sealed, 'ctx')).toThrow(/another master key/);
  });
});
