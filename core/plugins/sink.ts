// The sink contract: where backup repositories keep their objects (local disk, S3 and
// S3-compatible stores, Azure Blob, Google Cloud Storage). Modelled on restic's Backend and
// Kopia's Storage: a flat key → bytes store with write-once semantics.
//
// Guarantees every sink must give (checked by tests/conformance/sink-conformance.ts):
// - Atomic visibility: an object is either absent or whole. A put that fails, is aborted or whose
//   body ends early (or errors) leaves no object and no partial object visible to get/head/list.
// - Read-after-write: once put resolves, get/head/list see the object (and delete is seen too).
// - Write-once with ifAbsent: of concurrent puts of one key with ifAbsent, exactly one succeeds;
//   the others reject with ObjectExistsError and the stored bytes are the winner's.
//   Sinks whose store lacks conditional writes emulate it and say so in `capabilities`.
// - Ranges: get(key, {offset, length}) returns exactly those bytes (length clipped at the end).
// - Listing yields every key under a prefix exactly once (in no guaranteed order).
// - delete is idempotent: deleting a missing key succeeds.
// - Errors are typed: ObjectNotFoundError, ObjectExistsError, PermanentSinkError (retrying will
//   not help: bad credentials, permission, invalid key), TransientSinkError (retry with backoff:
//   network, throttling, disk full).
// - Retention (sinks whose capabilities say `retention`): a put with retainUntil stores the object
//   under the store's own lock (S3 Object Lock, Azure version-level immutability, GCS object
//   retention) until that time; head reports it as `retainUntil`; delete of a locked object is
//   refused by the store and rejects with ObjectLockedError (its bytes stay; on versioned stores an
//   overwrite keeps them as an older version); extendRetention moves the lock's end later (never
//   earlier). Sinks without retention reject a put with retainUntil.
import type { Readable } from 'node:stream';

export interface PutOptions {
  /** Fail with ObjectExistsError when the key exists (atomically, even under races). */
  ifAbsent?: boolean;
  /** Expected body size; a body of any other size is rejected and nothing is stored. */
  contentLength?: number;
  /** Object-lock / immutability retention, on sinks whose capabilities say `retention`. */
  retainUntil?: Date;
  /**
   * Called at most once, when the sink has read the whole body and keeps no reference to its
   * bytes (e.g. written to a file that is still to be made durable): the caller may free the
   * body's memory before `put` settles. Optional for sinks: settling implies it.
   */
  onBodyRead?: () => void;
  /**
   * For a stream body whose chunks the caller owns: called with each chunk once the sink keeps no
   * reference to it, so the caller may free it at once (storage/buffers.ts) rather than leave it
   * to the garbage collector. Optional for sinks.
   */
  onChunkWritten?: (chunk: Uint8Array) => void;
}

export interface GetOptions {
  offset?: number;
  length?: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified?: Date;
  /** From head on sinks with retention: the end of the object's lock (absent: not locked). */
  retainUntil?: Date;
}

/**
 * What a location's settings ask for: every pack, index and snapshot object is written locked for
 * `days` (the kernel adds retainUntil; see core/storage-locations/immutable-sink.ts). `mode` is the
 * store's own word for the lock (e.g. "COMPLIANCE", "Locked"), shown to operators.
 */
export interface ImmutabilityPolicy {
  days: number;
  mode: string;
}

export interface SinkCapabilities {
  /** 'native': the store itself refuses a second create; 'emulated': the sink checks, with a race window documented by the sink. */
  conditionalWrites: 'native' | 'emulated';
  /** Supports retainUntil (S3 Object Lock, Azure immutability, GCS retention). */
  retention: boolean;
}

export interface Sink {
  /** Human-readable location without secrets, e.g. "local:/backups/r1" or "s3:bucket/prefix". */
  readonly description: string;
  readonly capabilities: SinkCapabilities;
  /** The immutability the location's settings ask for; absent: objects are written unlocked. */
  readonly immutability?: ImmutabilityPolicy | undefined;
  /**
   * Moves the lock of an existing object to `until` (sinks with retention). A store refuses to
   * shorten a lock: callers only extend.
   */
  extendRetention?(key: string, until: Date): Promise<void>;
  put(key: string, body: Uint8Array | Readable, options?: PutOptions): Promise<ObjectInfo>;
  get(key: string, options?: GetOptions): Promise<Readable>;
  head(key: string): Promise<ObjectInfo>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * The keys `list` yields, in its order, where the store names them cheaper than with their
   * sizes (a local folder: no `stat` per file). Optional: callers fall back to `list`.
   */
  listKeys?(prefix: string): AsyncIterable<string>;
  delete(key: string): Promise<void>;
  /** Releases connections; the sink is not used afterwards. */
  close(): Promise<void>;
}

export type SinkErrorKind = 'not_found' | 'exists' | 'permanent' | 'transient';

/**
 * Why a store could not be used, when a sink can tell: the connection test
 * (core/plugins/sink-probe.ts) turns it into one sentence for operators.
 */
export type SinkFailureReason =
  | 'dns'
  | 'tls'
  | 'unreachable'
  | 'timeout'
  | 'auth'
  | 'permission'
  | 'bucket_missing'
  | 'throttled'
  | 'server'
  | 'unsupported'
  /** A local-disk location whose path is a file, or lies under one. */
  | 'not_a_folder'
  /** A local-disk location the appliance's user may not write to (mode, owner, read-only mount). */
  | 'folder_access'
  /** The object is under a retention lock (Object Lock, immutability policy) that has not lapsed. */
  | 'locked'
  /** Immutability is configured, but the store deleted a locked object: it does not enforce locks. */
  | 'lock_not_enforced';

export interface SinkErrorOptions {
  cause?: unknown;
  reason?: SinkFailureReason;
}

export class SinkError extends Error {
  readonly kind: SinkErrorKind;
  readonly key: string | undefined;
  readonly reason: SinkFailureReason | undefined;
  constructor(kind: SinkErrorKind, message: string, key?: string, options?: SinkErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SinkError';
    this.kind = kind;
    this.key = key;
    this.reason = options?.reason;
  }
}

export class ObjectNotFoundError extends SinkError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('not_found', `object ${key} does not exist`, key, options);
    this.name = 'ObjectNotFoundError';
  }
}

export class ObjectExistsError extends SinkError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('exists', `object ${key} already exists`, key, options);
    this.name = 'ObjectExistsError';
  }
}

export class PermanentSinkError extends SinkError {
  constructor(message: string, key?: string, options?: SinkErrorOptions) {
    super('permanent', message, key, options);
    this.name = 'PermanentSinkError';
  }
}

export class TransientSinkError extends SinkError {
  constructor(message: string, key?: string, options?: SinkErrorOptions) {
    super('transient', message, key, options);
    this.name = 'TransientSinkError';
  }
}

/** Delete or overwrite refused by the store: the object is locked (until `retainUntil`, when known). */
export class ObjectLockedError extends SinkError {
  readonly retainUntil: Date | undefined;
  constructor(key: string, retainUntil?: Date, options?: { cause?: unknown }) {
    super(
      'permanent',
      `object ${key} is locked${retainUntil ? ` until ${retainUntil.toISOString()}` : ''} and cannot be deleted or overwritten`,
      key,
      { reason: 'locked', ...(options?.cause === undefined ? {} : { cause: options.cause }) },
    );
    this.name = 'ObjectLockedError';
    this.retainUntil = retainUntil;
  }
}

export const MAX_KEY_BYTES = 1024;

/**
 * Keys are '/'-separated segments of printable characters. No segment may be empty or start
 * with '.', which keeps keys portable across stores and leaves dot-names to sinks' own use
 * (temporary files, markers). Throws PermanentSinkError on a bad key.
 */
export function assertValidKey(key: string): void {
  const problem = keyProblem(key);
  if (problem) throw new PermanentSinkError(`invalid object key ${JSON.stringify(key)}: ${problem}`, key);
}

function keyProblem(key: string): string | undefined {
  if (typeof key !== 'string' || key.length === 0) return 'empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we reject
  if (/[\u0000-\u001f\u007f\\]/.test(key)) return 'contains a control character or backslash';
  for (const segment of key.split('/')) {
    if (segment.length === 0) return 'has an empty segment (leading, trailing or double slash)';
    if (segment.startsWith('.')) return 'has a segment starting with "."';
  }
  return undefined;
}

/** Prefixes for list(): '' or a valid key's beginning (may end with '/'). */
export function assertValidPrefix(prefix: string): void {
  if (prefix === '') return;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = keyProblem(trimmed);
  if (problem) throw new PermanentSinkError(`invalid prefix ${JSON.stringify(prefix)}: ${problem}`);
}

export function assertValidRange(key: string, options: GetOptions | undefined): void {
  if (!options) return;
  const { offset = 0, length } = options;
  if (!Number.isSafeInteger(offset) || offset < 0) throw new PermanentSinkError(`invalid range offset ${offset}`, key);
  if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) {
    throw new PermanentSinkError(`invalid range length ${length}`, key);
  }
}

/** How the kernel opens a sink for a particular use (the connection test retries less than a backup). */
export interface SinkCreateOptions {
  retry?: import('./sink-support/retry.ts').RetryPolicy;
}

/**
 * What a sink plugin module default-exports. `settings` validates (and documents) the options a
 * storage location stores for it; `create` opens the sink. Secrets among the settings are named in
 * `secretSettings` so the kernel encrypts them at rest and never shows them.
 */
export interface SinkPlugin<Settings = unknown> {
  kind: string;
  label: string;
  settings: import('zod').ZodType<Settings>;
  secretSettings: readonly string[];
  /**
   * Only the appliance's operator (the root organization) may create locations of this kind: it
   * writes on the appliance's own disks (local folders, mounts).
   */
  operatorOnly?: boolean;
  /**
   * The data lives on the disks of the node that writes it, which other nodes cannot reach:
   * refused in multi-node mode (core/system/node-role.ts).
   */
  nodeLocal?: boolean;
  /**
   * Settings only the operator may set: anything that names a file or device on the appliance
   * (a CA bundle, a key file) or otherwise reaches its resources. A tenant is never shown them and
   * is refused when it submits one, or it could make the appliance read its files.
   */
  operatorOnlySettings?: readonly string[];
  /** Settings shown unfolded; the others fold under "Advanced settings". Absent: all unfolded. */
  primarySettings?: readonly string[];
  /**
   * Field messages when a tenant's settings would fall back to the appliance's own credentials
   * (an SDK's environment, instance role or default application credentials), which only the
   * operator may rely on. Called for every organization but the operator; {} when fine.
   */
  tenantCredentialProblems?(settings: Record<string, unknown>, secrets: Record<string, string>): Record<string, string>;
  /**
   * The immutability these settings ask for (shown on the location page without opening the
   * sink); plugins whose stores have no locks leave it out.
   */
  immutability?(settings: Settings): ImmutabilityPolicy | undefined;
  /** May load the sink's implementation on demand (cloud SDKs are heavy; the kernel loads them when used). */
  create(settings: Settings, options?: SinkCreateOptions): Sink | Promise<Sink>;
}
