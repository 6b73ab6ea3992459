import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { blobId, CODEC, IntegrityError, seal, sealJson, unseal, unsealJson } from '../../../storage/crypto.ts';
import { generateMasterKeys, unwrapKeys, WrongPassphraseError, wrapKeys } from '../../../storage/keys.ts';

describe('blob sealing', () => {
  const keys = generateMasterKeys();

  it('compresses compressible data with zstd and stores incompressible data as is', async () => {
    const text = Buffer.from('Account,Name,Industry\n'.repeat(5000));
    const a = await seal(keys.encKey, text);
    expect(a.codec).toBe(CODEC.zstd);
    expect(a.sealed.length).toBeLessThan(text.length / 10);
    expect((await unseal(keys.encKey, a.sealed)).equals(text)).toBe(true);
    const noise = randomBytes(100_000);
    const b = await seal(keys.encKey, noise);
    expect(b.codec).toBe(CODEC.none);
    expect((await unseal(keys.encKey, b.sealed)).equals(noise)).toBe(true);
    const g = await seal(keys.encKey, text, CODEC.gzip);
    expect(g.codec).toBe(CODEC.gzip);
    expect((await unseal(keys.encKey, g.sealed)).equals(text)).toBe(true);
  });

  it('seals many small blobs in turn, each a frame that opens on its own', async () => {
    // Small blobs share one compression context (storage/crypto.ts): no frame may depend on another.
    const blobs = [64, 5000, 200_000, 70, 131_072, 4097, 250_000].map((size, i) =>
      Buffer.from(`blob ${i}: ${'lorem ipsum dolor '.repeat(size / 18 + 1)}`.slice(0, size)),
    );
    const sealed = [];
    for (const blob of blobs) sealed.push(await seal(keys.encKey, blob));
    for (const [i, s] of sealed.entries()) {
      expect(s.codec).toBe(CODEC.zstd);
      expect((await unseal(keys.encKey, s.sealed)).equals(blobs[i] as Buffer)).toBe(true);
    }
    // The same content compresses the same way whatever came before it.
    const again = await seal(keys.encKey, blobs[1] as Buffer);
    expect(again.sealed.length).toBe(sealed[1]?.sealed.length);
  });

  it('opens the same plaintext whatever plaintext length it is told (that only sizes its buffer)', async () => {
    // Small and large, inline and streamed sizes, highly compressible (many output pieces unsized).
    for (const text of [
      Buffer.from('x'.repeat(5000)),
      Buffer.from('Account,Name,Industry\n'.repeat(20_000)),
      Buffer.concat([Buffer.from('header\n'.repeat(300_000)), randomBytes(300_000)]),
    ]) {
      const { sealed, codec } = await seal(keys.encKey, text);
      expect(codec).toBe(CODEC.zstd);
      for (const told of [undefined, text.length, text.length - 1, text.length + 1, 0, text.length * 3]) {
        const plain = await unseal(keys.encKey, sealed, 'blob', { plainLength: told });
        expect(plain.equals(text)).toBe(true);
        // Its own memory (freed by its reader, storage/buffers.ts), not a slice of a larger buffer.
        expect(plain.byteOffset === 0 && plain.buffer.byteLength === plain.length).toBe(true);
      }
    }
  });

  it('frees the sealed bytes once decrypted when told to, and still opens the plaintext', async () => {
    const text = Buffer.concat([Buffer.from('Account,Name,Industry\n'.repeat(20_000)), randomBytes(20_000)]);
    const { sealed } = await seal(keys.encKey, text);
    const own = Buffer.allocUnsafeSlow(sealed.length); // its own memory, as a ranged read of one blob
    sealed.copy(own);
    const plain = await unseal(keys.encKey, own, 'blob', { plainLength: text.length, releaseSealed: true });
    expect(plain.equals(text)).toBe(true);
    expect(own.buffer.byteLength).toBe(0);
  });

  it('detects a flipped bit, truncation and a wrong key', async () => {
    const { sealed } = await seal(keys.encKey, Buffer.from('important record'));
    const flipped = Buffer.from(sealed);
    flipped[20] = (flipped[20] as number) ^ 0x01;
    await expect(unseal(keys.encKey, flipped, 'blob x')).rejects.toThrow(
      new IntegrityError('blob x failed authentication (corrupted, or encrypted with another key)'),
    );
    await expect(unseal(keys.encKey, sealed.subarray(0, 10), 'blob x')).rejects.toThrow(/truncated/);
    await expect(unseal(generateMasterKeys().encKey, sealed)).rejects.toBeInstanceOf(IntegrityError);
  });

  it('derives blob ids from the plaintext and the repository id key only', () => {
    const data = Buffer.from('same content');
    expect(blobId(keys.idKey, data)).toBe(blobId(keys.idKey, Buffer.from('same content')));
    expect(blobId(keys.idKey, data)).toMatch(/^[0-9a-f]{64}$/);
    expect(blobId(generateMasterKeys().idKey, data)).not.toBe(blobId(keys.idKey, data));
  });

  it('seals JSON documents', async () => {
    const sealed = await sealJson(keys.encKey, { snapshot: 1, items: ['a'] });
    expect(await unsealJson(keys.encKey, sealed, 'snapshot')).toEqual({ snapshot: 1, items: ['a'] });
  });
});

describe('master key wrapping', () => {
  it('opens with the passphrase only', async () => {
    const keys = generateMasterKeys();
    const wrapped = await wrapKeys(keys, { passphrase: 'correct horse battery staple' });
    expect(Buffer.from(wrapped).includes(keys.encKey)).toBe(false);
    const opened = await unwrapKeys(wrapped, { passphrase: 'correct horse battery staple' });
    expect(
      opened.encKey.equals(keys.encKey) &&
        opened.idKey.equals(keys.idKey) &&
        opened.chunkerSeed.equals(keys.chunkerSeed),
    ).toBe(true);
    await expect(unwrapKeys(wrapped, { passphrase: 'wrong' })).rejects.toBeInstanceOf(WrongPassphraseError);
  });

  it("stretches a typed passphrase with OpenPGP's default S2K count, a derived key at the minimum", async () => {
    const openpgp = await import('openpgp');
    const keys = generateMasterKeys();
    // The S2K count byte each key object carries (whoever opens it uses that count).
    const countOf = async (wrapped: Uint8Array) => {
      const message = await openpgp.readMessage({ binaryMessage: wrapped });
      return (message.packets[0] as unknown as { s2k: { c: number } }).s2k.c;
    };
    const typed = await wrapKeys(keys, { passphrase: 'correct horse battery staple' });
    const derived = await wrapKeys(keys, { passphrase: 'hkdf-derived-organization-key', derivedKey: true });
    expect(await countOf(typed)).toBe(openpgp.config.s2kIterationCountByte);
    expect(openpgp.config.s2kIterationCountByte).toBeGreaterThan(0);
    expect(await countOf(derived)).toBe(0);
    const opened = await unwrapKeys(derived, { passphrase: 'hkdf-derived-organization-key' });
    expect(opened.encKey.equals(keys.encKey)).toBe(true);
    await expect(unwrapKeys(derived, { passphrase: 'hkdf-derived-organization-kez' })).rejects.toBeInstanceOf(
      WrongPassphraseError,
    );
  });

  it('opens a key object again from what it opened before, for the same passphrase only', async () => {
    const keys = generateMasterKeys();
    const wrapped = await wrapKeys(keys, { passphrase: 'first' });
    const once = await unwrapKeys(wrapped, { passphrase: 'first' });
    once.encKey.fill(0); // a caller's copy: changing it changes nothing kept
    const again = await unwrapKeys(wrapped, { passphrase: 'first' });
    expect(again.encKey.equals(keys.encKey)).toBe(true);
    await expect(unwrapKeys(wrapped, { passphrase: 'second' })).rejects.toBeInstanceOf(WrongPassphraseError);
  });

  it('opens with a tenant private key as well', async () => {
    const openpgp = await import('openpgp');
    const { privateKey, publicKey } = await openpgp.generateKey({
      type: 'curve25519',
      userIDs: [{ name: 'Tenant', email: 't@example.com' }],
      format: 'armored',
    });
    const keys = generateMasterKeys();
    const wrapped = await wrapKeys(keys, { publicKey });
    expect((await unwrapKeys(wrapped, { privateKey })).idKey.equals(keys.idKey)).toBe(true);
    await expect(unwrapKeys(wrapped, { passphrase: 'anything' })).rejects.toBeInstanceOf(WrongPassphraseError);
  });
});
