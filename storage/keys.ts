// The repository's master keys and their wrapping. Keys are random, drawn once at `init`, and
// never change; what a passphrase (or a tenant's OpenPGP public key) protects is a `keys/<id>`
// object holding them, encrypted with OpenPGP (AEAD GCM forced: OCB is pure JS and slow here).
// OpenPGP.js (~1.5 MiB of heap, its 1.2 MiB source kept as a 2.3 MiB string, 4 MiB external)
// loads with the first key wrapped, or unwrapped from another shape than wrapKeys writes for a
// passphrase (key-object.ts reads that one), not with every thread that imports storage/.
import { createHash, randomBytes } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import type { Message } from 'openpgp';
import { KeyObjectNotOpened, openKeyObject } from './key-object.ts';

const pgp = () => import('openpgp');

export interface MasterKeys {
  /** AES-256-GCM key for every blob and metadata object. */
  encKey: Buffer;
  /** HMAC-SHA-256 key that turns plaintext into blob ids. */
  idKey: Buffer;
  /** Seed of the content-defined chunker's gear table (keyed, so chunk sizes leak nothing). */
  chunkerSeed: Buffer;
}

export class WrongPassphraseError extends Error {
  constructor(message = 'the passphrase does not open any key of this repository', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WrongPassphraseError';
  }
}

export function generateMasterKeys(): MasterKeys {
  return { encKey: randomBytes(32), idKey: randomBytes(32), chunkerSeed: randomBytes(32) };
}

const KEY_FORMAT = 'holdfast-master-keys-v1';

function serialize(keys: MasterKeys): Uint8Array {
  return Buffer.from(
    JSON.stringify({
      format: KEY_FORMAT,
      encKey: keys.encKey.toString('base64'),
      idKey: keys.idKey.toString('base64'),
      chunkerSeed: keys.chunkerSeed.toString('base64'),
    }),
  );
}

function deserialize(bytes: Uint8Array): MasterKeys {
  const parsed = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, string>;
  if (parsed.format !== KEY_FORMAT) throw new Error(`unknown key format ${String(parsed.format)}`);
  const field = (name: string) => {
    const value = Buffer.from(parsed[name] ?? '', 'base64');
    if (value.length !== 32) throw new Error(`key field ${name} is not 32 bytes`);
    return value;
  };
  return { encKey: field('encKey'), idKey: field('idKey'), chunkerSeed: field('chunkerSeed') };
}

async function pgpConfig() {
  return { aeadProtect: true, preferredAEADAlgorithm: (await pgp()).enums.aead.gcm };
}

/**
 * One recipient per key object: a passphrase, or a tenant's armored OpenPGP public key.
 * `derivedKey`: the passphrase is itself a key (the appliance's per-organization passphrase, 256
 * bits derived from its master key), which no guessing can reach: OpenPGP's key stretching (its
 * iterated S2K, ~15–30 ms of CPU for every open in every process) protects only a passphrase a
 * person chose, so it is kept at its minimum here. A typed passphrase keeps OpenPGP's default.
 */
export type WrapOptions =
  | { passphrase: string; derivedKey?: boolean; publicKey?: undefined }
  | { publicKey: string; passphrase?: undefined; derivedKey?: undefined };

/**
 * Encrypts the master keys to one recipient, as a binary OpenPGP message. (One recipient per
 * message: OpenPGP.js cannot open a passphrase packet next to a public-key packet under AEAD.)
 */
export async function wrapKeys(keys: MasterKeys, options: WrapOptions): Promise<Uint8Array> {
  const openpgp = await pgp();
  const config = await pgpConfig();
  const message = await openpgp.createMessage({ binary: serialize(keys) });
  if (options.passphrase !== undefined) {
    if (!options.passphrase) throw new Error('the passphrase must not be empty');
    // (The iteration count is written into the key object; whoever opens it uses that.)
    const stretch = options.derivedKey ? { s2kIterationCountByte: 0 } : {};
    return openpgp.encrypt({
      message,
      passwords: [options.passphrase],
      format: 'binary',
      config: { ...config, ...stretch },
    });
  }
  const encryptionKeys = await openpgp.readKey({ armoredKey: options.publicKey });
  return openpgp.encrypt({ message, encryptionKeys, format: 'binary', config });
}

export interface UnwrapOptions {
  passphrase?: string;
  /** An armored, unlocked OpenPGP private key. */
  privateKey?: string;
}

/**
 * Key objects this thread has opened, by a hash of the object and of what opened it: a job
 * worker opens the same repository for each of an org's hundreds of objects, and the OpenPGP
 * key derivation is most of an open. Only successful unwraps are kept; copies are handed out.
 */
const unwrapped = new Map<string, MasterKeys>();
const UNWRAPPED_MAX = 256;

function remember(id: string, keys: MasterKeys): void {
  if (unwrapped.has(id)) return;
  if (unwrapped.size >= UNWRAPPED_MAX) unwrapped.delete(unwrapped.keys().next().value as string);
  unwrapped.set(id, copyOf(keys));
}

/**
 * The other threads of this process learn what one of them unwrapped: a worker node runs its jobs
 * in several threads, each opening the repository of every account it runs a job for, and each
 * paid the derivation (~15–20 ms of CPU) once per account — with 3 nodes of 4 threads, about once
 * per job of a 300-job burst over 30 accounts. The keys never leave the process (a
 * BroadcastChannel reaches only its threads); unref'd, it keeps no process alive.
 */
const sharing = new BroadcastChannel('holdfast:unwrapped-repository-keys');
sharing.unref();
sharing.onmessage = (event: unknown) => {
  const data = (event as { data?: { id?: unknown; keys?: Record<keyof MasterKeys, Uint8Array> } }).data;
  if (typeof data?.id !== 'string' || !data.keys) return;
  remember(data.id, {
    encKey: Buffer.from(data.keys.encKey),
    idKey: Buffer.from(data.keys.idKey),
    chunkerSeed: Buffer.from(data.keys.chunkerSeed),
  });
};

function cacheId(wrapped: Uint8Array, options: UnwrapOptions): string {
  return createHash('sha256')
    .update(wrapped)
    .update(`\0${options.passphrase ?? ''}\0${options.privateKey ?? ''}`)
    .digest('hex');
}

/** The keys this thread (or another of the process) already unwrapped from this object with these credentials. */
export function knownKeys(wrapped: Uint8Array, options: UnwrapOptions): MasterKeys | undefined {
  const known = unwrapped.get(cacheId(wrapped, options));
  return known && copyOf(known);
}

function copyOf(keys: MasterKeys): MasterKeys {
  return {
    encKey: Buffer.from(keys.encKey),
    idKey: Buffer.from(keys.idKey),
    chunkerSeed: Buffer.from(keys.chunkerSeed),
  };
}

export async function unwrapKeys(wrapped: Uint8Array, options: UnwrapOptions): Promise<MasterKeys> {
  const id = cacheId(wrapped, options);
  const known = unwrapped.get(id);
  if (known) return copyOf(known);
  const keys = await unwrapKeysOnce(wrapped, options);
  remember(id, keys);
  sharing.postMessage({ id, keys });
  return keys;
}

async function unwrapKeysOnce(wrapped: Uint8Array, options: UnwrapOptions): Promise<MasterKeys> {
  // The shape wrapKeys writes for a passphrase is read without loading OpenPGP.js (key-object.ts).
  if (options.passphrase && !options.privateKey) {
    let contents: Buffer | null;
    try {
      contents = openKeyObject(wrapped, options.passphrase);
    } catch (err) {
      if (err instanceof KeyObjectNotOpened) throw new WrongPassphraseError(undefined, { cause: err });
      throw err;
    }
    if (contents) return deserialize(contents);
  }
  const openpgp = await pgp();
  let message: Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ binaryMessage: wrapped });
  } catch (err) {
    // Not an OpenPGP message (a damaged or foreign object): it opens nothing.
    throw new WrongPassphraseError('not a key object', { cause: err });
  }
  const decryptionKeys = options.privateKey
    ? await openpgp.readPrivateKey({ armoredKey: options.privateKey })
    : undefined;
  try {
    const { data } = await openpgp.decrypt({
      message,
      ...(options.passphrase ? { passwords: [options.passphrase] } : {}),
      ...(decryptionKeys ? { decryptionKeys } : {}),
      format: 'binary',
    });
    return deserialize(data as Uint8Array);
  } catch (err) {
    if (/decrypt/i.test((err as Error).message)) throw new WrongPassphraseError(undefined, { cause: err });
    throw err;
  }
}
