// A backup repository in a sink: keys, config, packs of blobs, index files and snapshots
// (layout and reasoning in docs/REPOSITORY.md). This module stores and finds blobs and
// snapshots; the item trees and the writer/reader APIs build on it.
import { createHash, randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { ObjectExistsError, ObjectNotFoundError, type Sink, SinkError } from '../core/plugins/sink.ts';
import { BlobIndex, type BlobLocation } from './blob-index.ts';
import { releaseBuffer } from './buffers.ts';
import { type ChunkerParams, DEFAULT_CHUNKER, gearTable } from './chunker.ts';
import {
  blobId,
  blobIdAsync,
  CODEC,
  type CodecName,
  IntegrityError,
  sealJson,
  sealPieces,
  unseal,
  unsealJson,
} from './crypto.ts';
import {
  generateMasterKeys,
  type MasterKeys,
  type UnwrapOptions,
  unwrapKeys,
  type WrapOptions,
  WrongPassphraseError,
  wrapKeys,
} from './keys.ts';
import { type BlobKind, type FinishedPack, PackBuilder, type PackedBlob, packKey, readPackBlobs } from './pack.ts';
import { readAll } from './streams.ts';

export const MARKER_KEY = 'holdfast-repository';
/** Tree blobs a Repository object keeps of those it stored (see #recentTrees): bytes in all, and per blob. */
const RECENT_TREE_BYTES = 1024 * 1024;
const RECENT_TREE_MAX_BYTES = 64 * 1024;
export const CONFIG_KEY = 'config';
/** Notes of snapshots forgotten while locked (Repository.forgetSnapshot). */
const FORGETTING = 'forgetting/';
const FORMAT = 'holdfast-repository';

export interface RepositoryMarker {
  format: typeof FORMAT;
  version: 1;
  id: string;
  created: string;
}

export interface RepositoryConfig {
  version: 1;
  id: string;
  chunker: ChunkerParams;
  /** Target size of a pack in bytes. */
  packSize: number;
  codec: CodecName;
}

export class RepositoryError extends Error {
  readonly code: 'not_a_repository' | 'exists' | 'wrong_passphrase' | 'incompatible';
  constructor(code: RepositoryError['code'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RepositoryError';
    this.code = code;
  }
}

/** A repository lock as the repository sees it (storage/locks.ts RepositoryLock). */
export interface HeldLock {
  readonly kind: 'shared' | 'exclusive';
  readonly location: string;
  /** Throws when the lock may no longer be held. */
  assertHeld(): void;
}

export class LockRequiredError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LockRequiredError';
  }
}

export type { BlobLocation } from './blob-index.ts';

export interface RepositoryStats {
  blobsAdded: number;
  blobsReused: number;
  /** Plaintext bytes of the blobs added. */
  rawBytesAdded: number;
  packsWritten: number;
  /** Every byte this repository object has written to the sink. */
  bytesUploaded: number;
  /** Every byte this repository object has read from the sink after opening (a restore drill's cost). */
  bytesRead: number;
}

/** Where this process keeps its disposable copy of the blob index (storage/blob-index.ts). */
export interface RepositoryOptions {
  /** Folder for the index's run files (created there and unlinked at once); default the OS temp folder. */
  indexDir?: string;
  /** Damage worked around (an unreadable index file, a pack without a readable trailer); default stderr. */
  onWarning?: (message: string) => void;
}

export interface InitOptions extends RepositoryOptions {
  passphrase: string;
  /** The passphrase is a derived key, not typed by a person (keys.ts, WrapOptions). */
  derivedKey?: boolean;
  packSize?: number;
  chunker?: ChunkerParams;
  codec?: CodecName;
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

const damagedKeyMessage = (key: string) => `key file ${key} is damaged (its bytes no longer match its name)`;

/** Key objects whose bytes no longer match their name: damaged, they open nothing. */
export async function damagedKeys(sink: Sink): Promise<string[]> {
  const damaged: string[] = [];
  for await (const info of sink.list('keys/'))
    if (sha256(await readAll(await sink.get(info.key))) !== info.key.slice('keys/'.length)) damaged.push(info.key);
  return damaged;
}
/**
 * Sealed bytes a repository object holds at once — its open packs plus the packs uploading — in
 * pack sizes: one pack fills while the previous one uploads. saveBlob waits for room.
 */
const PACKS_IN_FLIGHT = 2;
/**
 * Pack uploads under way at once. A pack's memory is freed when the sink has read it (see
 * PutOptions.onBodyRead), so more packs may be waiting to be made durable (fsync) than are held.
 */
const UPLOADS_AT_ONCE = 4;
/** A ranged read may span this much between neighbouring blobs (tar headers and padding, small unrelated blobs). */
const MAX_RUN_GAP = 64 * 1024;
const MAX_RUN_BYTES = 16 * 1024 * 1024;
/** Pack trailers read at once when packs are indexed from their trailers. */
const TRAILER_READS_AT_ONCE = 8;

/** A pack and its blobs, as an index file lists it. */
export interface IndexedPack {
  id: string;
  size: number;
  blobs: PackedBlob[];
}

export class Repository {
  readonly sink: Sink;
  readonly config: RepositoryConfig;
  readonly keys: MasterKeys;
  readonly gear: Int32Array;
  readonly stats: RepositoryStats = {
    blobsAdded: 0,
    blobsReused: 0,
    rawBytesAdded: 0,
    packsWritten: 0,
    bytesUploaded: 0,
    bytesRead: 0,
  };
  /** Where the blob index's run files are made (RepositoryOptions.indexDir). */
  readonly indexDir: string;
  readonly #index: BlobIndex;
  readonly #open = new Map<BlobKind, PackBuilder>();
  /** Blobs sealed into a pack that is not uploaded yet. */
  readonly #pendingIds = new Set<string>();
  /** Blobs this object found damaged when reading them: saving one stores a fresh copy. */
  readonly #unreadable = new Set<string>();
  /** Blobs whose indexed pack is missing or truncated (see #noteGonePacks). */
  readonly #inGonePacks = new Set<string>();
  /**
   * Copies of blobs found damaged, by this object or recorded by an earlier one (`damaged/`
   * notes, see recordDamaged): `<blob id>@<pack id>`. Loading the index prefers any other copy.
   */
  readonly #damagedCopies = new Set<string>();
  /** The damage notes read when the index was loaded, with the packs they name. */
  readonly #damageNotes: { key: string; packs: string[] }[] = [];
  #uploads: Promise<void>[] = [];
  /** Bytes of blobs being sealed, in open packs or in packs uploading (see PACKS_IN_FLIGHT). */
  #heldBytes = 0;
  #roomWaiters: (() => void)[] = [];
  #unindexed: { id: string; size: number; blobs: PackedBlob[] }[] = [];
  readonly #uploaded: { id: string; size: number; blobs: PackedBlob[] }[] = [];
  #indexLoaded = false;
  #failure: unknown;
  /** The repository lock this object works under; snapshots are committed only while one is held. */
  #lock: HeldLock | undefined;
  /** Index files this object wrote (prune replaces only index files it knows). */
  readonly indexFilesWritten: string[] = [];
  /** Index files that could not be read when the index was loaded (their packs come from trailers). */
  readonly unreadableIndexFiles: { key: string; message: string }[] = [];
  /** Packs no readable index file names, indexed from their own trailers when the index was loaded. */
  readonly recoveredPacks = new Map<string, IndexedPack>();
  /** Index files and damage notes this object has read or written: a refresh reads only the others. */
  readonly #seenIndexFiles = new Set<string>();
  /**
   * Plaintexts of small tree blobs this object stored lately: a backup's catalog pass reads the
   * tree it has just written (and the entity's next backup on this kept object, its parent's),
   * each a ranged read of a pack just uploaded. Content-addressed, so a copy is that blob.
   * Bounded by RECENT_TREE_BYTES; readers get copies (they may free what they are given).
   */
  readonly #recentTrees = new Map<string, Buffer>();
  #recentTreeBytes = 0;
  readonly #seenDamageNotes = new Set<string>();
  readonly #warn: (message: string) => void;

  private constructor(sink: Sink, config: RepositoryConfig, keys: MasterKeys, options: RepositoryOptions) {
    this.sink = sink;
    this.config = config;
    this.keys = keys;
    this.gear = gearTable(keys.chunkerSeed);
    this.indexDir = options.indexDir ?? tmpdir();
    this.#index = new BlobIndex({ dir: this.indexDir, name: config.id });
    this.#warn = options.onWarning ?? ((message) => process.stderr.write(`warning: ${message}\n`));
  }

  /** Frees the blob index's files. The sink stays open (it is the caller's); the object is unusable after. */
  close(): void {
    for (const builder of this.#open.values()) builder.discard();
    this.#open.clear();
    this.#index.close();
  }

  get id(): string {
    return this.config.id;
  }

  /** Creates a repository in an empty location. */
  static async init(sink: Sink, options: InitOptions): Promise<Repository> {
    if (
      await exists(sink, MARKER_KEY).catch((err) => {
        assertFolder(sink, err);
        throw err;
      })
    )
      throw new RepositoryError('exists', `${sink.description} already holds a repository`);
    const keys = generateMasterKeys();
    const id = randomUUID();
    const config: RepositoryConfig = {
      version: 1,
      id,
      chunker: options.chunker ?? DEFAULT_CHUNKER,
      packSize: options.packSize ?? 16 * 1024 * 1024,
      codec: options.codec ?? 'zstd',
    };
    const repo = new Repository(sink, config, keys, options);
    const keyId = await repo.addKey({
      passphrase: options.passphrase,
      ...(options.derivedKey ? { derivedKey: true } : {}),
    });
    // The config's if-absent write is where two racing inits are told apart; the marker comes last.
    try {
      await repo.#putNew(CONFIG_KEY, await sealJson(keys.encKey, config));
    } catch (err) {
      // Leave no key object without its config behind: a later init would add a second one.
      await sink.delete(`keys/${keyId}`).catch(() => undefined);
      if (err instanceof ObjectExistsError)
        throw new RepositoryError('exists', `${sink.description} already holds a repository`);
      throw err;
    }
    const marker: RepositoryMarker = { format: FORMAT, version: 1, id, created: new Date().toISOString() };
    await repo.#putNew(MARKER_KEY, Buffer.from(`${JSON.stringify(marker, null, 2)}\n`)).catch((err: unknown) => {
      // A job that opened our config meanwhile wrote the marker for us (#openUnmarked): same id.
      if (!(err instanceof ObjectExistsError)) throw err;
    });
    repo.#indexLoaded = true;
    return repo;
  }

  /** Opens an existing repository with a passphrase (or a tenant's private key). */
  static async open(sink: Sink, credentials: UnwrapOptions, options: RepositoryOptions = {}): Promise<Repository> {
    let marker: RepositoryMarker;
    try {
      marker = JSON.parse((await readAll(await sink.get(MARKER_KEY))).toString('utf8')) as RepositoryMarker;
    } catch (err) {
      assertFolder(sink, err);
      if (err instanceof ObjectNotFoundError) return Repository.#openUnmarked(sink, credentials, options);
      if (err instanceof SyntaxError)
        throw new RepositoryError('not_a_repository', `${sink.description}: ${MARKER_KEY} is not valid JSON`);
      throw err;
    }
    if (marker.format !== FORMAT)
      throw new RepositoryError('not_a_repository', `${sink.description} holds no Holdfast repository`);
    if (marker.version !== 1)
      throw new RepositoryError(
        'incompatible',
        `repository format version ${marker.version} is newer than this appliance understands`,
      );
    return Repository.#unlock(sink, credentials, options, marker.id);
  }

  /**
   * A config without the marker: an init that is writing its marker right now (two first backups
   * of an account starting together) or one that stopped between the two. When these credentials
   * open that config, the repository is whole: the marker is written (if-absent) and it opens.
   * Anything else is no repository of ours.
   */
  static async #openUnmarked(sink: Sink, credentials: UnwrapOptions, options: RepositoryOptions): Promise<Repository> {
    const none = new RepositoryError('not_a_repository', `${sink.description} holds no Holdfast repository`);
    if (!(await exists(sink, CONFIG_KEY))) throw none;
    let repo: Repository;
    try {
      repo = await Repository.#unlock(sink, credentials, options, undefined);
    } catch {
      throw none;
    }
    const marker: RepositoryMarker = { format: FORMAT, version: 1, id: repo.id, created: new Date().toISOString() };
    await repo.#putNew(MARKER_KEY, Buffer.from(`${JSON.stringify(marker, null, 2)}\n`)).catch((err: unknown) => {
      if (!(err instanceof ObjectExistsError)) throw err;
    });
    return repo;
  }

  /** Finds the key object the credentials open and reads the config with it. */
  static async #unlock(
    sink: Sink,
    credentials: UnwrapOptions,
    options: RepositoryOptions,
    markerId: string | undefined,
  ): Promise<Repository> {
    const sealedConfig = await readAll(await sink.get(CONFIG_KEY));
    // Every key object the credentials open is tried until one also opens the config: a key
    // object left by a failed init holds other keys than the repository's.
    const damaged: string[] = [];
    for await (const info of sink.list('keys/')) {
      let keys: MasterKeys;
      let wrapped: Buffer;
      try {
        wrapped = await readAll(await sink.get(info.key));
      } catch (err) {
        // Listed, then deleted: the key object of an init that lost the race to create the
        // repository (init removes it when its config write is refused). Not this repository's.
        if (err instanceof ObjectNotFoundError) continue;
        throw err;
      }
      // A key object is named by the SHA-256 of its bytes: one that no longer matches is damaged.
      if (sha256(wrapped) !== info.key.slice('keys/'.length)) {
        damaged.push(info.key);
        continue;
      }
      try {
        keys = await unwrapKeys(wrapped, credentials);
      } catch (err) {
        if (err instanceof WrongPassphraseError) continue;
        throw err;
      }
      let config: RepositoryConfig;
      try {
        config = await unsealJson<RepositoryConfig>(keys.encKey, sealedConfig, 'repository config');
      } catch (err) {
        if (err instanceof IntegrityError) continue;
        throw err;
      }
      if (markerId !== undefined && config.id !== markerId)
        throw new IntegrityError(`repository config belongs to ${config.id}, not ${markerId}`);
      const repo = new Repository(sink, config, keys, options);
      for (const key of damaged) repo.#warn(`${damagedKeyMessage(key)}; another key opened the repository`);
      return repo;
    }
    if (damaged.length)
      throw new RepositoryError(
        'wrong_passphrase',
        `the passphrase (or key) does not open this repository: ${damaged.map(damagedKeyMessage).join('; ')}, and ` +
          'the repository cannot be opened without it (only with the passphrase or key of another, intact key file)',
      );
    throw new RepositoryError('wrong_passphrase', 'the passphrase (or key) does not open this repository');
  }

  /** Adds a key object for another passphrase or public key; returns its id. */
  async addKey(recipient: WrapOptions): Promise<string> {
    const wrapped = Buffer.from(await wrapKeys(this.keys, recipient));
    const id = sha256(wrapped);
    await this.#putNew(`keys/${id}`, wrapped);
    return id;
  }

  async listKeys(): Promise<string[]> {
    const ids: string[] = [];
    for await (const info of this.sink.list('keys/')) ids.push(info.key.slice('keys/'.length));
    return ids;
  }

  /** Removes a key object; refuses to remove the last one (the repository would be unreadable). */
  async removeKey(id: string): Promise<void> {
    const ids = await this.listKeys();
    if (!ids.includes(id)) throw new RepositoryError('not_a_repository', `no key ${id}`);
    if (ids.length === 1)
      throw new RepositoryError('incompatible', 'refusing to remove the only key of the repository');
    await this.sink.delete(`keys/${id}`);
  }

  async #putNew(key: string, bytes: Buffer): Promise<void> {
    await this.sink.put(key, bytes, { ifAbsent: true, contentLength: bytes.length });
    this.stats.bytesUploaded += bytes.length;
  }

  // --- blob index -------------------------------------------------------------------------------

  /**
   * Reads every index file (once) so saveBlob can dedup against the whole repository. The blob
   * index is built afresh from them in every process: its files are a cache, never trusted.
   * Packs that no readable index file names — an index file that fails to decrypt or parse (a
   * warning names it), or the packs of a backup that crashed before its index — are indexed from
   * their own trailers, and listed in the next index file this object writes (a backup's), so
   * their blobs are reused, never stored twice. Packs are listed while the index files are read.
   */
  async loadIndex(): Promise<void> {
    if (this.#indexLoaded) return;
    const listing = listPacks(this.sink);
    listing.catch(() => undefined); // awaited below; not unhandled if reading the index fails first
    await this.#readDamageNotes();
    const named = new Map<string, number>();
    for await (const info of this.sink.list('index/')) {
      this.#seenIndexFiles.add(info.key);
      let file: IndexFile;
      try {
        file = await this.readIndexFile(info.key);
      } catch (err) {
        if (!(err instanceof IntegrityError || err instanceof ObjectNotFoundError)) throw err;
        const message = err instanceof ObjectNotFoundError ? 'it vanished while being read' : err.message;
        this.unreadableIndexFiles.push({ key: info.key, message });
        this.#warn(
          `index file ${info.key} is unreadable (${message}); its packs are indexed from their trailers ` +
            '(`holdfast repo rebuild-index` replaces it)',
        );
        continue;
      }
      for (const pack of file.packs) {
        named.set(pack.id, pack.size);
        for (const blob of pack.blobs) {
          // A copy known damaged never replaces another copy (index files load in any order).
          if (this.#isDamagedCopy(blob.id, pack.id) && this.#index.has(blob.id)) continue;
          this.#remember(pack.id, blob);
        }
      }
    }
    const present = await listing;
    const unnamed = [...present].filter(([id]) => !named.has(id));
    await this.#indexFromTrailers(unnamed);
    const gone: string[] = [];
    for (const [id, size] of named) {
      if (present.get(id) === size) continue;
      // The listing began before the index files were read: a pack of a backup running meanwhile
      // may be in an index file but not in the listing. Only the store's answer now counts.
      const now = await this.sink.head(packKey(id)).then(
        (info) => info.size,
        (err: unknown) => {
          if (err instanceof ObjectNotFoundError) return undefined;
          throw err;
        },
      );
      if (now === size) continue;
      if (now === undefined) present.delete(id);
      else present.set(id, now);
      gone.push(id);
    }
    if (gone.length) await this.#noteGonePacks(new Set(gone), present);
    // A blob whose only copy is one found damaged is stored again when saved, and files using it
    // are not carried over (as for a lost pack); reading still tries it, and names the pack.
    for (const copy of this.#damagedCopies) {
      const [id, pack] = copy.split('@') as [string, string];
      if (this.#index.get(id)?.pack === pack) this.#unreadable.add(id);
    }
    this.#indexLoaded = true;
  }

  /**
   * Records blob copies found damaged (a failed authentication while reading, or in `verify
   * --read-data`) in a `damaged/<sha256>` note (encrypted: blob id, pack, reason), so later
   * processes know them without reading them: loading the index prefers any other copy, and a
   * backup stores the content again rather than deduplicating against the damaged copy. A note
   * that cannot be written (a sink that refuses writes) is a warning, never a failure.
   */
  async recordDamaged(copies: { id: string; pack: string; reason: string }[]): Promise<void> {
    const fresh = copies.filter((c) => !this.#damagedCopies.has(`${c.id}@${c.pack}`));
    if (fresh.length === 0) return;
    for (const c of fresh) this.#damagedCopies.add(`${c.id}@${c.pack}`);
    const note: DamageNote = { version: 1, copies: fresh };
    try {
      const sealed = await sealJson(this.keys.encKey, note);
      await this.#putNew(`damaged/${sha256(sealed)}`, sealed);
    } catch (err) {
      if (!(err instanceof SinkError)) throw err;
      this.#warn(`could not record ${fresh.length} damaged blob copies: ${err.message}`);
    }
  }

  /** Reads the damage notes not read yet (an unreadable one is a warning: it only costs a dedup). */
  async #readDamageNotes(): Promise<void> {
    for await (const info of this.sink.list('damaged/')) {
      if (this.#seenDamageNotes.has(info.key)) continue;
      this.#seenDamageNotes.add(info.key);
      try {
        const sealed = await this.#fetch(info.key);
        if (sha256(sealed) !== info.key.slice('damaged/'.length))
          throw new IntegrityError(`damage note ${info.key} does not match its name`);
        const note = await unsealJson<DamageNote>(this.keys.encKey, sealed, `damage note ${info.key}`);
        if (note?.version !== 1 || !Array.isArray(note.copies))
          throw new IntegrityError(`damage note ${info.key} has an unknown format`);
        for (const c of note.copies) this.#damagedCopies.add(`${c.id}@${c.pack}`);
        this.#damageNotes.push({ key: info.key, packs: [...new Set(note.copies.map((c) => c.pack))] });
      } catch (err) {
        if (!(err instanceof IntegrityError || err instanceof ObjectNotFoundError)) throw err;
        this.#warn(`${err.message}; it is ignored`);
      }
    }
  }

  /** Removes the damage notes that name only packs in `gone` (deleted by prune or repair packs). */
  async forgetDamageIn(gone: ReadonlySet<string>): Promise<void> {
    for (const note of this.#damageNotes)
      if (note.packs.every((pack) => gone.has(pack))) await this.sink.delete(note.key).catch(() => undefined);
  }

  /** Whether a copy of a blob is known damaged (found so by this object or recorded in a note). */
  #isDamagedCopy(id: string, pack: string): boolean {
    return this.#damagedCopies.size > 0 && this.#damagedCopies.has(`${id}@${pack}`);
  }

  /**
   * The damage path of loading: packs an index file names that are missing or of another size
   * (truncated). Their blobs are stored again when saved (a backup then never refers to a lost
   * copy) and files using them are not carried over; reading still tries every copy.
   */
  async #noteGonePacks(gone: Set<string>, present: Map<string, number>): Promise<void> {
    for (const id of gone)
      this.#warn(
        `pack ${id} is ${present.has(id) ? 'truncated' : 'missing'}; a backup stores its blobs again ` +
          '(`holdfast repo verify` names what needs them)',
      );
    for await (const info of this.sink.list('index/')) {
      let file: IndexFile;
      try {
        file = await this.readIndexFile(info.key);
      } catch (err) {
        if (!(err instanceof IntegrityError || err instanceof ObjectNotFoundError)) throw err;
        continue;
      }
      for (const pack of file.packs)
        if (gone.has(pack.id))
          for (const blob of pack.blobs) if (this.#index.get(blob.id)?.pack === pack.id) this.#inGonePacks.add(blob.id);
    }
  }

  /** Whether a blob is known to be unreadable where the index has it (found damaged, or its pack is gone). */
  isKnownDamaged(id: string): boolean {
    return this.#unreadable.has(id) || this.#inGonePacks.has(id);
  }

  async #indexFromTrailers(packs: [string, number][]): Promise<void> {
    const found: IndexedPack[] = [];
    let next = 0;
    const worker = async () => {
      while (next < packs.length) {
        const [id, size] = packs[next++] as [string, number];
        try {
          found.push({ id, size, blobs: await this.readPackIndex(id, size) });
        } catch (err) {
          if (!(err instanceof IntegrityError || err instanceof ObjectNotFoundError)) throw err;
          this.#warn(`pack ${id} is named by no index file and its trailer is unreadable: ${err.message}`);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(TRAILER_READS_AT_ONCE, packs.length) }, worker));
    found.sort((a, b) => a.id.localeCompare(b.id));
    for (const pack of found) {
      // Where an index file names a blob too, its location stays the one in use (unless that copy
      // is known damaged and this one is not).
      for (const blob of pack.blobs) {
        const at = this.#index.get(blob.id);
        if (at === undefined || (this.#isDamagedCopy(blob.id, at.pack) && !this.#isDamagedCopy(blob.id, pack.id)))
          this.#remember(pack.id, blob);
      }
      this.recoveredPacks.set(pack.id, pack);
      this.#unindexed.push(pack);
    }
  }

  /** Reads an object (or a range of it) whole, counted in `stats.bytesRead`. */
  async #fetch(key: string, range?: { offset: number; length: number }): Promise<Buffer> {
    const bytes = await readAll(await this.sink.get(key, range));
    this.stats.bytesRead += bytes.length;
    return bytes;
  }

  async readIndexFile(key: string): Promise<IndexFile> {
    const sealed = await this.#fetch(key);
    if (sha256(sealed) !== key.slice('index/'.length))
      throw new IntegrityError(`index file ${key} does not match its name`);
    const file = await unsealJson<IndexFile>(this.keys.encKey, sealed, `index file ${key}`);
    if (file?.version !== 1 || !Array.isArray(file.packs))
      throw new IntegrityError(`index file ${key} has an unknown format`);
    return file;
  }

  #remember(pack: string, blob: PackedBlob): void {
    this.#index.set(blob.id, {
      pack,
      kind: blob.kind,
      offset: blob.offset,
      length: blob.length,
      rawLength: blob.rawLength,
      codec: blob.codec,
    });
  }

  has(id: string): boolean {
    return this.#index.has(id) || this.#pendingIds.has(id);
  }

  locate(id: string): BlobLocation | undefined {
    return this.#index.get(id);
  }

  /** Blobs indexed (compacts the blob index to count them exactly: for reports, not loops). */
  get blobCount(): number {
    return this.#index.size;
  }

  // --- writing ----------------------------------------------------------------------------------

  /** Stores a blob unless the repository has it; returns its id. */
  async saveBlob(
    kind: BlobKind,
    plaintext: Uint8Array,
    options: { force?: boolean } = {},
  ): Promise<{ id: string; added: boolean }> {
    this.#assertHealthy();
    if (!this.#indexLoaded) await this.loadIndex();
    const id = await blobIdAsync(this.keys.idKey, plaintext);
    if (kind === 'tree') this.#rememberTree(id, plaintext);
    // force: store again even if indexed (prune moving live blobs out of mostly-dead packs).
    // A blob found damaged is stored again, so a new snapshot never refers to the damaged copy.
    if (this.#pendingIds.has(id) || (!options.force && !this.isKnownDamaged(id) && this.#index.has(id))) {
      this.stats.blobsReused++;
      return { id, added: false };
    }
    this.#unreadable.delete(id);
    this.#inGonePacks.delete(id);
    this.#pendingIds.add(id);
    let sealed: { pieces: Buffer[]; length: number; codec: number };
    // Room for the blob first (its plaintext size; the sealed size once known), so memory held in
    // packs stays bounded in bytes however fast blobs come.
    let reserved = plaintext.byteLength;
    try {
      await this.#room(reserved);
      this.#heldBytes += reserved;
      sealed = await sealPieces(this.keys.encKey, plaintext, CODEC[this.config.codec]);
    } catch (err) {
      this.#pendingIds.delete(id);
      if (reserved) this.#release(reserved);
      throw err;
    }
    this.#heldBytes += sealed.length - reserved;
    reserved = 0;
    let builder = this.#open.get(kind);
    if (!builder) {
      builder = new PackBuilder(kind, this.indexDir);
      this.#open.set(kind, builder);
    }
    builder.add(id, sealed.pieces, plaintext.byteLength, sealed.codec);
    // Copied into the pack's spool: free them now, not at some later collection (storage/buffers.ts).
    for (const piece of sealed.pieces) releaseBuffer(piece);
    this.stats.blobsAdded++;
    this.stats.rawBytesAdded += plaintext.byteLength;
    if (builder.size >= this.config.packSize) {
      this.#open.delete(kind);
      this.#startUpload(builder);
    } else if (this.#roomWaiters.length) {
      this.#release(0); // the bytes are now in an open pack that a waiter may upload early
    }
    this.#assertHealthy();
    return { id, added: true };
  }

  /**
   * Waits until `bytes` more fit in PACKS_IN_FLIGHT packs (a blob always fits when nothing is
   * held). With no upload running, the fullest open pack is uploaded early to make room: the
   * bytes held then are all in open packs, and waiting would never end.
   */
  async #room(bytes: number): Promise<void> {
    const limit = PACKS_IN_FLIGHT * this.config.packSize;
    while ((this.#heldBytes > 0 && this.#heldBytes + bytes > limit) || this.#uploads.length >= UPLOADS_AT_ONCE) {
      this.#assertHealthy();
      if (this.#uploads.length === 0) {
        const fullest = [...this.#open].sort((a, b) => b[1].size - a[1].size)[0];
        if (fullest && fullest[1].count > 0) {
          this.#open.delete(fullest[0]);
          this.#startUpload(fullest[1]);
        }
      }
      await new Promise<void>((resolve) => this.#roomWaiters.push(resolve));
    }
  }

  #release(bytes: number): void {
    this.#heldBytes -= bytes;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * A failed upload poisons this object: its blobs are not stored, so nothing may be committed
   * that refers to them. Every later write and flush rethrows the failure; reopen to retry.
   */
  #assertHealthy(): void {
    if (this.#failure) throw this.#failure;
  }

  /** Uploads a full pack in the background from its spool file; its bytes are released when it is done. */
  #startUpload(builder: PackBuilder): void {
    let held = builder.bodyBytes;
    let pack: FinishedPack | undefined;
    // Once the sink has read the pack (or the upload ended), make room for the next pack while
    // this one is still being made durable.
    const free = () => {
      this.#release(held);
      held = 0;
    };
    const upload: Promise<void> = builder
      .finish(this.keys.encKey)
      .then((finished) => {
        pack = finished;
        return this.#upload(finished, free);
      })
      .catch((err: unknown) => {
        this.#failure ??= err;
        for (const id of builder.ids) this.#pendingIds.delete(id);
      })
      .finally(() => {
        this.#uploads = this.#uploads.filter((u) => u !== upload);
        if (pack) pack.dispose();
        else builder.discard();
        free();
      });
    this.#uploads.push(upload);
  }

  async #upload(pack: FinishedPack, bodyRead: () => void): Promise<void> {
    try {
      await this.sink.put(packKey(pack.id), pack.body(), {
        ifAbsent: true,
        contentLength: pack.size,
        onBodyRead: bodyRead,
        // The spool file's pieces are read for this upload alone (storage/pack.ts).
        onChunkWritten: releaseBuffer,
      });
      this.stats.bytesUploaded += pack.size;
    } catch (err) {
      // The same bytes are already there (a retried run): fine, they are identical by name.
      if (!(err instanceof ObjectExistsError)) throw err;
    }
    this.stats.packsWritten++;
    for (const blob of pack.blobs) {
      this.#remember(pack.id, blob);
      this.#pendingIds.delete(blob.id);
    }
    this.#unindexed.push({ id: pack.id, size: pack.size, blobs: pack.blobs });
    this.#uploaded.push({ id: pack.id, size: pack.size, blobs: pack.blobs });
  }

  /** Uploads open packs and writes an index file for every pack uploaded since the last one. */
  async flush(): Promise<void> {
    for (const [kind, builder] of [...this.#open]) {
      this.#open.delete(kind);
      if (builder.count > 0) this.#startUpload(builder);
    }
    while (this.#uploads.length > 0) await Promise.all(this.#uploads);
    this.#assertHealthy();
    if (this.#unindexed.length === 0) return;
    await this.writeIndexFile({ version: 1, packs: this.#unindexed });
    this.#unindexed = [];
  }

  /** Packs uploaded by this object since it was opened. */
  get packsUploaded(): { id: string; size: number; blobs: PackedBlob[] }[] {
    return [...this.#uploaded];
  }

  async writeIndexFile(file: IndexFile): Promise<string> {
    const sealed = await sealJson(this.keys.encKey, file);
    const key = `index/${sha256(sealed)}`;
    await this.#putOnce(key, sealed);
    this.indexFilesWritten.push(key);
    this.#seenIndexFiles.add(key);
    return key;
  }

  /** Nothing in progress: no open or uploading pack, no unindexed pack, no lock, no failed upload. */
  get idle(): boolean {
    return (
      this.#open.size === 0 &&
      this.#uploads.length === 0 &&
      this.#pendingIds.size === 0 &&
      this.#unindexed.length === 0 &&
      this.#failure === undefined &&
      this.#lock === undefined
    );
  }

  /**
   * Brings an object kept open between jobs (core/storage-locations/repository-pool.ts) up to
   * date with what others wrote since it loaded its index: the index files and damage notes it
   * has not read — a listing of `index/` (keys only where the sink can) and `damaged/`, where opening afresh also lists every
   * pack and reads every index file again. False when that cannot be trusted — it is not idle, an
   * index file it read is gone (prune or rebuild-index rewrote the index: packs may be gone too),
   * or a new one is unreadable — and the object must be closed and the repository opened afresh.
   * Packs no index file names (a crashed backup's) are found by a fresh open only; until then their
   * blobs are stored again, never referred to. What the object's reports count (stats, packs
   * uploaded, index files written) starts again from zero.
   */
  async refresh(): Promise<boolean> {
    if (!this.idle) return false;
    if (this.#indexLoaded) {
      const listed: string[] = [];
      if (this.sink.listKeys) for await (const key of this.sink.listKeys('index/')) listed.push(key);
      else for await (const info of this.sink.list('index/')) listed.push(info.key);
      const present = new Set(listed);
      for (const key of this.#seenIndexFiles) if (!present.has(key)) return false;
      await this.#readDamageNotes();
      for (const key of listed) {
        if (this.#seenIndexFiles.has(key)) continue;
        let file: IndexFile;
        try {
          file = await this.readIndexFile(key);
        } catch (err) {
          if (err instanceof IntegrityError || err instanceof ObjectNotFoundError) return false;
          throw err;
        }
        this.#seenIndexFiles.add(key);
        for (const pack of file.packs)
          for (const blob of pack.blobs) {
            if (this.#isDamagedCopy(blob.id, pack.id) && this.#index.has(blob.id)) continue;
            this.#remember(pack.id, blob);
          }
      }
      for (const copy of this.#damagedCopies) {
        const [id, pack] = copy.split('@') as [string, string];
        if (this.#index.get(id)?.pack === pack) this.#unreadable.add(id);
      }
    }
    for (const name of Object.keys(this.stats) as (keyof RepositoryStats)[]) this.stats[name] = 0;
    this.#uploaded.length = 0;
    this.recoveredPacks.clear();
    this.indexFilesWritten.length = 0;
    this.unreadableIndexFiles.length = 0;
    return true;
  }

  async #putOnce(key: string, bytes: Buffer): Promise<void> {
    try {
      await this.#putNew(key, bytes);
    } catch (err) {
      if (!(err instanceof ObjectExistsError)) throw err;
    }
  }

  // --- reading ----------------------------------------------------------------------------------

  /** Reads, authenticates and returns a blob's plaintext. */
  async readBlob(id: string): Promise<Buffer> {
    return (await this.readBlobs([id]))[0] as Buffer;
  }

  #rememberTree(id: string, plaintext: Uint8Array): void {
    if (plaintext.byteLength > RECENT_TREE_MAX_BYTES || this.#recentTrees.has(id)) return;
    this.#recentTrees.set(id, Buffer.from(plaintext));
    this.#recentTreeBytes += plaintext.byteLength;
    for (const [oldest, bytes] of this.#recentTrees) {
      if (this.#recentTreeBytes <= RECENT_TREE_BYTES) break;
      this.#recentTrees.delete(oldest);
      this.#recentTreeBytes -= bytes.byteLength;
    }
  }

  /**
   * Reads several blobs; neighbours in the same pack (a large file's chunks usually are) come in
   * one ranged read. Every blob is authenticated. Plaintexts are returned in the order asked.
   * A blob whose copy fails to read (damaged, truncated, its pack missing) is read from another
   * copy when the repository holds one (see #readElsewhere); otherwise the first such failure
   * is thrown.
   */
  async readBlobs(ids: string[]): Promise<Buffer[]> {
    const recent = ids.map((id) => this.#recentTrees.get(id));
    if (!recent.some(Boolean)) return this.#readStored(ids);
    const stored = await this.#readStored(ids.filter((_, i) => !recent[i]));
    let next = 0;
    return recent.map((plaintext) => (plaintext ? Buffer.from(plaintext) : (stored[next++] as Buffer)));
  }

  async #readStored(ids: string[]): Promise<Buffer[]> {
    if (ids.length === 0) return [];
    if (ids.some((id) => this.#pendingIds.has(id))) await this.flush();
    if (!this.#indexLoaded) await this.loadIndex();
    const out: Buffer[] = [];
    const failed: { position: number; id: string; at: BlobLocation; error: IntegrityError }[] = [];
    for (const run of this.#runs(ids)) {
      const first = run[0] as { id: string; at: BlobLocation };
      const last = run[run.length - 1] as { id: string; at: BlobLocation };
      const start = first.at.offset;
      const end = last.at.offset + last.at.length;
      let bytes: Buffer;
      try {
        bytes = await this.#fetch(packKey(first.at.pack), { offset: start, length: end - start });
      } catch (err) {
        const error = await this.#packDamage(err, first.at.pack, first.id, end);
        for (const { id, at } of run) failed.push({ position: out.push(Buffer.alloc(0)) - 1, id, at, error });
        continue;
      }
      for (const { id, at } of run) {
        try {
          // A run of one blob is its sealed bytes alone: freed once decrypted (see unseal).
          const sealed = bytes.subarray(at.offset - start, at.offset - start + at.length);
          out.push(await this.#openBlob(id, at, sealed, run.length === 1));
        } catch (err) {
          if (!(err instanceof IntegrityError)) throw err;
          failed.push({ position: out.push(Buffer.alloc(0)) - 1, id, at, error: err });
        }
      }
      // Every plaintext is new memory (decrypted, decompressed): the sealed run is not needed.
      releaseBuffer(bytes);
    }
    if (failed.length) {
      await this.recordDamaged(failed.map((f) => ({ id: f.id, pack: f.at.pack, reason: f.error.message })));
      const found = await this.#readElsewhere(failed);
      const lost = failed.filter((f) => !found.has(f.id));
      for (const f of lost) this.#unreadable.add(f.id);
      if (lost.length) throw (lost[0] as (typeof lost)[0]).error;
      for (const f of failed) out[f.position] = found.get(f.id) as Buffer;
    }
    return out;
  }

  /**
   * A failed ranged read of a pack as damage: the pack is missing, or shorter than the range (a
   * truncated pack: sinks refuse a range that starts past the end). Any other error is thrown.
   */
  async #packDamage(err: unknown, pack: string, blob: string, end: number): Promise<IntegrityError> {
    if (err instanceof ObjectNotFoundError) return new IntegrityError(`pack ${pack} (holding blob ${blob}) is missing`);
    if (err instanceof SinkError) {
      const size = await this.sink.head(packKey(pack)).then(
        (info) => info.size,
        () => undefined,
      );
      if (size !== undefined && size < end)
        return new IntegrityError(`pack ${pack} is truncated to ${size} bytes (blob ${blob})`);
    }
    throw err;
  }

  /** Authenticates a blob's sealed bytes (and its id) and returns its plaintext. */
  async #openBlob(id: string, at: BlobLocation, sealed: Buffer, releaseSealed = false): Promise<Buffer> {
    if (sealed.length !== at.length) throw new IntegrityError(`pack ${at.pack} is truncated (blob ${id})`);
    const plain = await unseal(this.keys.encKey, sealed, `blob ${id} in pack ${at.pack}`, {
      plainLength: at.rawLength,
      releaseSealed,
    });
    if (blobId(this.keys.idKey, plain) !== id)
      throw new IntegrityError(`blob ${id} in pack ${at.pack} has the wrong content`);
    return plain;
  }

  /**
   * The damage path: blobs whose copy in use failed are looked up in every readable index file
   * and every pack no index file names (their trailers, kept since loading), and each is read
   * from the first other copy that authenticates; the blob index then points there, so later
   * reads go straight to it. Only the failed ids' locations are collected (index files are read
   * one at a time). A blob already searched in vain is not searched again.
   */
  async #readElsewhere(failed: { id: string; at: BlobLocation }[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    const tried = new Set(failed.map((f) => `${f.id}@${f.at.pack}+${f.at.offset}`));
    const wanted = new Set(failed.map((f) => f.id).filter((id) => !this.#unreadable.has(id)));
    if (wanted.size === 0) return found;
    const copies = new Map<string, BlobLocation[]>();
    const note = (pack: string, blob: PackedBlob) => {
      if (!wanted.has(blob.id) || tried.has(`${blob.id}@${pack}+${blob.offset}`)) return;
      tried.add(`${blob.id}@${pack}+${blob.offset}`);
      const { kind, offset, length, rawLength, codec } = blob;
      copies.set(blob.id, [...(copies.get(blob.id) ?? []), { pack, kind, offset, length, rawLength, codec }]);
    };
    for (const pack of [...this.#uploaded, ...this.recoveredPacks.values()])
      for (const blob of pack.blobs) note(pack.id, blob);
    for await (const info of this.sink.list('index/')) {
      let file: IndexFile;
      try {
        file = await this.readIndexFile(info.key);
      } catch (err) {
        if (err instanceof IntegrityError || err instanceof ObjectNotFoundError) continue;
        throw err;
      }
      for (const pack of file.packs) for (const blob of pack.blobs) note(pack.id, blob);
    }
    for (const [id, locations] of copies) {
      for (const at of locations) {
        try {
          const sealed = await this.#fetch(packKey(at.pack), { offset: at.offset, length: at.length });
          found.set(id, await this.#openBlob(id, at, sealed, true));
          this.#index.set(id, at);
          break;
        } catch (err) {
          if (!(err instanceof IntegrityError)) await this.#packDamage(err, at.pack, id, at.offset + at.length);
        }
      }
    }
    return found;
  }

  /** Splits ids into runs that one ranged read can serve: same pack, ascending, small gaps. */
  *#runs(ids: string[]): Iterable<{ id: string; at: BlobLocation }[]> {
    let run: { id: string; at: BlobLocation }[] = [];
    for (const id of ids) {
      const at = this.#index.get(id);
      if (!at) throw new IntegrityError(`blob ${id} is not in any index`);
      const prev = run[run.length - 1];
      const joins =
        prev &&
        prev.at.pack === at.pack &&
        at.offset >= prev.at.offset + prev.at.length &&
        at.offset - (prev.at.offset + prev.at.length) <= MAX_RUN_GAP &&
        at.offset + at.length - (run[0] as { at: BlobLocation }).at.offset <= MAX_RUN_BYTES;
      if (!joins && run.length) {
        yield run;
        run = [];
      }
      run.push({ id, at });
    }
    if (run.length) yield run;
  }

  /** The blob list a pack carries in its own trailer (for verify and rebuild-index). */
  async readPackIndex(packId: string, size: number): Promise<PackedBlob[]> {
    return readPackBlobs(this.sink, this.keys.encKey, packId, size);
  }

  // --- snapshots --------------------------------------------------------------------------------

  /**
   * Puts this object under a shared or exclusive lock of its repository (see `withLock`), or
   * takes it away. Without one, no snapshot is committed: prune could not see the backup running.
   */
  holdLock(lock: HeldLock | undefined): void {
    if (lock && lock.location !== this.sink.description)
      throw new LockRequiredError(`the lock belongs to ${lock.location}, not to ${this.sink.description}`);
    this.#lock = lock;
  }

  #assertLocked(): void {
    if (!this.#lock)
      throw new LockRequiredError('a snapshot is committed only under a shared or exclusive repository lock');
    this.#lock.assertHeld();
  }

  /** Writes a snapshot manifest: the commit point. Everything it refers to must be flushed first. */
  async saveSnapshot(manifest: SnapshotManifest, options: { beforeWrite?: () => Promise<void> } = {}): Promise<string> {
    this.#assertLocked();
    await this.flush();
    this.#assertLocked(); // still held after the uploads
    // The caller's last word before the commit point (a job checks it still owns the run).
    await options.beforeWrite?.();
    const sealed = await sealJson(this.keys.encKey, manifest);
    const id = sha256(sealed);
    await this.#putOnce(`snapshots/${id}`, sealed);
    return id;
  }

  async loadSnapshot(id: string): Promise<SnapshotManifest> {
    const key = `snapshots/${id}`;
    let sealed: Buffer;
    try {
      sealed = await this.#fetch(key);
    } catch (err) {
      if (err instanceof ObjectNotFoundError) throw new RepositoryError('not_a_repository', `no snapshot ${id}`);
      throw err;
    }
    if (sha256(sealed) !== id) throw new IntegrityError(`snapshot ${id} does not match its name`);
    return unsealJson<SnapshotManifest>(this.keys.encKey, sealed, `snapshot ${id}`);
  }

  /**
   * Removes a snapshot manifest; its data goes at the next prune. Hold the exclusive lock. On a
   * location with locks, a manifest whose lock has not lapsed cannot be removed: it is marked
   * `forgetting/<id>` instead (its lock is then no longer renewed, storage/object-locks.ts) and the
   * lock's end is returned; forgetting it again after that removes it.
   */
  async forgetSnapshot(id: string, now: () => number = Date.now): Promise<Date | undefined> {
    const key = `snapshots/${id}`;
    if (this.sink.capabilities.retention) {
      const until = await this.sink.head(key).then(
        (info) => info.retainUntil,
        (err: unknown) => {
          if (err instanceof ObjectNotFoundError) return undefined;
          throw err;
        },
      );
      if (until && until.getTime() > now()) {
        const note = Buffer.from(JSON.stringify({ version: 1, lockedUntil: until.toISOString() }));
        await this.sink.put(`${FORGETTING}${id}`, note, { contentLength: note.length });
        return until;
      }
    }
    await this.sink.delete(key);
    if (this.sink.capabilities.retention) await this.sink.delete(`${FORGETTING}${id}`);
    return undefined;
  }

  /** Snapshots forgotten while locked (see forgetSnapshot): their locks are left to lapse. */
  async forgettingSnapshots(): Promise<Set<string>> {
    const ids = new Set<string>();
    for await (const info of this.sink.list(FORGETTING)) ids.add(info.key.slice(FORGETTING.length));
    return ids;
  }

  /** The ids of every snapshot manifest in the sink, readable or not. */
  async snapshotIds(): Promise<string[]> {
    const ids: string[] = [];
    for await (const info of this.sink.list('snapshots/')) ids.push(info.key.slice('snapshots/'.length));
    return ids;
  }

  /**
   * Every snapshot, oldest first. A manifest that fails authentication or parsing is damaged:
   * with `onDamaged` it is skipped and reported there; without, it fails the listing (callers
   * that would treat a skipped snapshot as gone must not skip silently). Sink errors always throw.
   */
  async listSnapshots(
    options: { onDamaged?: (damaged: DamagedSnapshot) => void } = {},
  ): Promise<{ id: string; manifest: SnapshotManifest }[]> {
    const out: { id: string; manifest: SnapshotManifest }[] = [];
    for (const id of await this.snapshotIds()) {
      try {
        out.push({ id, manifest: await this.loadSnapshot(id) });
      } catch (err) {
        if (!(err instanceof IntegrityError) || !options.onDamaged) throw err;
        options.onDamaged({ id, reason: err.message });
      }
    }
    return out.sort((a, b) => a.manifest.time.localeCompare(b.manifest.time) || a.id.localeCompare(b.id));
  }
}

/** A `damaged/<id>` note: blob copies found damaged (see Repository.recordDamaged). */
interface DamageNote {
  version: 1;
  copies: { id: string; pack: string; reason: string }[];
}

export interface IndexFile {
  version: 1;
  packs: IndexedPack[];
}

/** Every pack in the sink with its size. */
export async function listPacks(sink: Sink): Promise<Map<string, number>> {
  const packs = new Map<string, number>();
  for await (const info of sink.list('data/')) packs.set(info.key.slice(info.key.lastIndexOf('/') + 1), info.size);
  return packs;
}

export interface SnapshotManifest {
  version: 1;
  time: string;
  /** What was backed up: the task and the entity (a member, a team folder, an object, a path). */
  task: string;
  entity: string;
  parent?: string | undefined;
  /** Root node of the item tree (the base, for a layered snapshot). */
  tree: string;
  /** Delta trees applied over `tree`, oldest first (changed items and tombstones). */
  layers?: string[];
  stats: { items: number; bytes: number; [name: string]: number };
  tags?: string[];
  /** Machine that wrote the snapshot. */
  host?: string;
  /** For a snapshot `repair snapshots` rewrote without its damaged items: the damaged one's id. */
  original?: string;
}

/** A snapshot manifest that cannot be read (fails authentication or does not parse). */
export interface DamagedSnapshot {
  id: string;
  reason: string;
}

/** Turns a sink's "the location is a file" into the repository error it is for the user. */
function assertFolder(sink: Sink, err: unknown): void {
  if (err instanceof SinkError && err.reason === 'not_a_folder')
    throw new RepositoryError(
      'not_a_repository',
      `${sink.description} is a file, not a folder: a repository is a folder`,
      {
        cause: err,
      },
    );
}

async function exists(sink: Sink, key: string): Promise<boolean> {
  try {
    await sink.head(key);
    return true;
  } catch (err) {
    if (err instanceof ObjectNotFoundError) return false;
    throw err;
  }
}
