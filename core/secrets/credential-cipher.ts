// Encrypts small secrets (OAuth refresh tokens, storage access keys) before they are stored.
// AES-256-GCM with a random 96-bit nonce; the record's purpose is bound in as associated data
// so a ciphertext copied into another field or row does not decrypt. Format (text, versioned):
//   hf1.<key id>.<nonce b64url>.<ciphertext+tag b64url>
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

const VERSION = 'hf1';
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

export class CredentialDecryptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialDecryptionError';
  }
}

export interface CredentialCipher {
  /** Short fingerprint of the master key, stored with each ciphertext to diagnose a wrong key. */
  readonly keyId: string;
  encrypt(plaintext: string, context: string): string;
  decrypt(sealed: string, context: string): string;
}

export function createCredentialCipher(masterKey: Buffer): CredentialCipher {
  const key = Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), 'holdfast credentials v1', 32));
  const keyId = createHash('sha256').update(key).digest('hex').slice(0, 8);
  return {
    keyId,
    encrypt(plaintext, context) {
      const nonce = randomBytes(NONCE_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, nonce);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()]);
      return [VERSION, keyId, nonce.toString('base64url'), body.toString('base64url')].join('.');
    },
    decrypt(sealed, context) {
      const [version, id, nonceText, bodyText, extra] = sealed.split('.');
      if (version !== VERSION || !id || !nonceText || !bodyText || extra !== undefined) {
        throw new CredentialDecryptionError('not a Holdfast encrypted credential');
      }
      if (id !== keyId) {
        throw new CredentialDecryptionError(
          `credential was encrypted with another master key (${id}, this appliance has ${keyId})`,
        );
      }
      const nonce = Buffer.from(nonceText, 'base64url');
      const body = Buffer.from(bodyText, 'base64url');
      if (nonce.length !== NONCE_BYTES || body.length < TAG_BYTES) {
        throw new CredentialDecryptionError('encrypted credential is truncated');
      }
      const decipher = createDecipheriv('aes-256-gcm', key, nonce);
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]).toString(
          'utf8',
        );
      } catch {
        throw new CredentialDecryptionError('encrypted credential failed authentication (tampered or wrong context)');
      }
    },
  };
}
