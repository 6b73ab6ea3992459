// Key objects wrapped with a passphrase are read with node:crypto (storage/key-object.ts), so
// opening a repository does not load OpenPGP.js. What it reads must be exactly what OpenPGP.js
// reads; what it cannot read (another shape) it leaves to OpenPGP.js; a wrong passphrase and
// damaged data are told apart.
import { randomBytes } from 'node:crypto';
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { KeyObjectNotOpened, openKeyObject } from '../../../storage/key-object.ts';
import { generateMasterKeys, unwrapKeys, WrongPassphraseError, wrapKeys } from '../../../storage/keys.ts';

const config = { aeadProtect: true, preferredAEADAlgorithm: openpgp.enums.aead.gcm };

async function openpgpContents(wrapped: Uint8Array, passphrase: string): Promise<Buffer> {
  const message = await openpgp.readMessage({ binaryMessage: wrapped });
  const { data } = await openpgp.decrypt({ message, passwords: [passphrase], format: 'binary' });
  return Buffer.from(data as Uint8Array);
}

describe('key objects read without OpenPGP.js', () => {
  it('reads what wrapKeys writes for a typed and a derived passphrase, as OpenPGP.js does', async () => {
    const keys = generateMasterKeys();
    for (const [passphrase, derivedKey] of [
      ['correct horse battery staple', false],
      ['hkdf-derived-organization-key', true],
      ['ünïcödé pässphrase', false],
    ] as const) {
      const wrapped = await wrapKeys(keys, { passphrase, derivedKey });
      const contents = openKeyObject(wrapped, passphrase);
      expect(contents).not.toBeNull();
      expect((contents as Buffer).equals(await openpgpContents(wrapped, passphrase))).toBe(true);
      const opened = await unwrapKeys(wrapped, { passphrase });
      expect(opened.encKey.equals(keys.encKey) && opened.idKey.equals(keys.idKey)).toBe(true);
    }
  });

  it('reads messages of several chunks, checking the final tag over the whole length', async () => {
    const data = randomBytes(150);
    const message = await openpgp.createMessage({ binary: data });
    // 64-byte chunks: three of them, the last one short.
    const wrapped = Buffer.from(
      await openpgp.encrypt({
        message,
        passwords: ['p'],
        format: 'binary',
        config: { ...config, aeadChunkSizeByte: 0 },
      }),
    );
    expect(openKeyObject(wrapped, 'p')?.equals(data)).toBe(true);
    // The same message without its last chunk (and the packet length made to fit): each chunk
    // left still authenticates, the final tag over the whole length does not.
    const skesk = 2 + (wrapped[1] as number);
    const body = wrapped.subarray(skesk + 3);
    const lastChunk = (150 % 64) + 16;
    const shorter = Buffer.concat([body.subarray(0, body.length - 16 - lastChunk), body.subarray(body.length - 16)]);
    const length = shorter.length - 192;
    const header = Buffer.from([wrapped[skesk] as number, (length >> 8) + 192, length & 0xff]);
    const cut = Buffer.concat([wrapped.subarray(0, skesk), header, shorter]);
    expect(() => openKeyObject(cut, 'p')).toThrow(/does not authenticate/);
  });

  it('says a wrong passphrase apart from damaged data', async () => {
    const wrapped = await wrapKeys(generateMasterKeys(), { passphrase: 'right' });
    expect(() => openKeyObject(wrapped, 'wrong')).toThrow(KeyObjectNotOpened);
    await expect(unwrapKeys(wrapped, { passphrase: 'wrong' })).rejects.toBeInstanceOf(WrongPassphraseError);
    const damaged = Buffer.from(wrapped);
    damaged[damaged.length - 40] = (damaged[damaged.length - 40] as number) ^ 1;
    let thrown: unknown;
    try {
      openKeyObject(damaged, 'right');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(Error);
    expect(thrown).not.toBeInstanceOf(KeyObjectNotOpened);
  });

  it('leaves other shapes to OpenPGP.js: compressed data, a public-key recipient, foreign bytes', async () => {
    const compressed = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: Buffer.from('{"format":"x"}') }),
      passwords: ['p'],
      format: 'binary',
      config: { ...config, preferredCompressionAlgorithm: openpgp.enums.compression.zlib },
    });
    expect(openKeyObject(compressed, 'p')).toBeNull();
    const { publicKey } = await openpgp.generateKey({
      userIDs: [{ name: 't' }],
      type: 'curve25519',
      format: 'armored',
    });
    expect(openKeyObject(await wrapKeys(generateMasterKeys(), { publicKey }), 'p')).toBeNull();
    expect(openKeyObject(randomBytes(300), 'p')).toBeNull();
  });
});
