// Azure Blob sink. Objects are block blobs. A body of a declared length up to 32 MiB (a repository
// pack), or one that fits a block, goes up in one Put Blob; a larger one is cut into blocks in
// memory (at most `concurrency` blocks in flight plus one being filled), staged, then committed in
// one Put Block List, so a blob appears whole or not at all and memory stays bounded. If-absent
// writes send `If-None-Match: *` (native in Azure and azurite). Retries (backoff with jitter) are
// the sink's own, so errors are typed the same way as the other sinks'. Blocks of a write that
// failed stay uncommitted and Azure drops them after a week.
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import {
  AnonymousCredential,
  type BlobImmutabilityPolicy,
  BlobServiceClient,
  type BlockBlobClient,
  type ContainerClient,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  type GetOptions,
  type ImmutabilityPolicy,
  type ObjectInfo,
  ObjectLockedError,
  PermanentSinkError,
  type PutOptions,
  type Sink,
  type SinkCapabilities,
  type SinkError,
} from '../../../core/plugins/sink.ts';
import {
  asChunks,
  discard,
  emptyStream,
  lengthChecked,
  type Part,
  readParts,
  typedReadStream,
} from '../../../core/plugins/sink-support/body-streams.ts';
import { type RetryPolicy, withRetries } from '../../../core/plugins/sink-support/retry.ts';
import { azureErrorCode, azureStatus, toSinkError } from './azure-errors.ts';

export interface AzureSinkOptions {
  /** A storage connection string (carries its own credentials), or… */
  connectionString?: string | undefined;
  /** …an account name with an account key or a SAS token. */
  accountName?: string | undefined;
  accountKey?: string | undefined;
  sasToken?: string | undefined;
  /** Blob service URL; default https://<account>.blob.core.windows.net (azurite: http://127.0.0.1:10000/<account>). */
  endpoint?: string | undefined;
  container: string;
  prefix?: string | undefined;
  /** Immutability policy mode for writes that ask for `retainUntil` (the container needs version-level immutability). */
  immutabilityMode?: 'Unlocked' | 'Locked' | undefined;
  /** With immutabilityMode: the period every repository object is locked for (the kernel applies it). */
  immutabilityDays?: number | undefined;
  /** Block size (default 8 MiB; raised for objects that would need more than 50,000 blocks). */
  blockSizeBytes?: number | undefined;
  concurrency?: number | undefined;
  /** Bodies of a declared length up to this go in one Put Blob (default 32 MiB: a repository pack is one request). */
  singlePutMaxBytes?: number | undefined;
  retry?: RetryPolicy | undefined;
}

const MAX_BLOCKS = 50_000;
const MiB = 1024 * 1024;

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed) assertValidKey(trimmed);
  return trimmed ? `${trimmed}/` : '';
}

function accountFromConnectionString(cs: string): string {
  return /(?:^|;)AccountName=([^;]+)/i.exec(cs)?.[1] ?? 'account';
}

export function blockSizeFor(contentLength: number | undefined, preferred: number): number {
  if (contentLength === undefined) return preferred;
  return Math.max(preferred, Math.ceil(contentLength / MAX_BLOCKS / MiB) * MiB);
}

export class AzureSink implements Sink {
  readonly description: string;
  readonly container: ContainerClient;
  readonly #service: BlobServiceClient;
  readonly #prefix: string;
  readonly #options: AzureSinkOptions;
  readonly #blockSize: number;
  readonly #concurrency: number;
  readonly requests: Record<string, number> = {};

  constructor(options: AzureSinkOptions) {
    this.#options = options;
    this.#prefix = normalizePrefix(options.prefix);
    this.#blockSize = options.blockSizeBytes ?? 8 * MiB;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    // Retries are the sink's own (withRetries), so the SDK tries once.
    const pipeline = { retryOptions: { maxTries: 1, tryTimeoutInMs: 120_000 } };
    let account: string;
    if (options.connectionString) {
      account = accountFromConnectionString(options.connectionString);
      this.#service = BlobServiceClient.fromConnectionString(options.connectionString, pipeline);
    } else {
      if (!options.accountName)
        throw new PermanentSinkError('an Azure location needs a connection string or an account name');
      account = options.accountName;
      const url = (options.endpoint ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, '');
      if (options.accountKey) {
        this.#service = new BlobServiceClient(
          url,
          new StorageSharedKeyCredential(account, options.accountKey),
          pipeline,
        );
      } else if (options.sasToken) {
        const sas = options.sasToken.replace(/^\?/, '');
        this.#service = new BlobServiceClient(`${url}?${sas}`, new AnonymousCredential(), pipeline);
      } else {
        throw new PermanentSinkError('an Azure location needs an account key, a SAS token or a connection string');
      }
    }
    this.container = this.#service.getContainerClient(options.container);
    this.description = `azure:${account}/${options.container}${this.#prefix ? `/${this.#prefix.slice(0, -1)}` : ''}`;
  }

  get capabilities(): SinkCapabilities {
    return { conditionalWrites: 'native', retention: Boolean(this.#options.immutabilityMode) };
  }

  get immutability(): ImmutabilityPolicy | undefined {
    const { immutabilityMode: mode, immutabilityDays: days } = this.#options;
    return mode && days ? { mode, days } : undefined;
  }

  async extendRetention(key: string, until: Date): Promise<void> {
    assertValidKey(key);
    const policyMode = this.#options.immutabilityMode;
    if (!policyMode) throw new PermanentSinkError('this Azure location has no immutability mode', key);
    await this.#send(
      'SetImmutabilityPolicy',
      () => this.#blob(key).setImmutabilityPolicy({ expiriesOn: until, policyMode }),
      key,
    );
  }

  #blob(key: string): BlockBlobClient {
    return this.container.getBlockBlobClient(this.#prefix + key);
  }

  #err(key?: string, action?: string): (err: unknown) => SinkError {
    return (err) => toSinkError(err, this.description, key, action);
  }

  #send<T>(operation: string, run: (attempt: number) => Promise<T>, key?: string): Promise<T> {
    return withRetries(
      (attempt) => {
        this.requests[operation] = (this.requests[operation] ?? 0) + 1;
        return run(attempt);
      },
      this.#err(key, operation),
      this.#options.retry,
    );
  }

  #immutability(options: PutOptions, key: string): { immutabilityPolicy?: BlobImmutabilityPolicy } {
    if (!options.retainUntil) return {};
    if (!this.#options.immutabilityMode) {
      throw new PermanentSinkError('retention was asked for, but this Azure location has no immutability mode', key);
    }
    return { immutabilityPolicy: { expiriesOn: options.retainUntil, policyMode: this.#options.immutabilityMode } };
  }

  async put(key: string, body: Uint8Array | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    try {
      assertValidKey(key);
      this.#immutability(options, key);
      const length = options.contentLength;
      const single = length !== undefined && length <= (this.#options.singlePutMaxBytes ?? 32 * MiB);
      const size = single ? Math.max(1, length) : blockSizeFor(length, this.#blockSize);
      const parts = readParts(lengthChecked(asChunks(body), length, key), size);
      const first = (await parts.next()).value as Part;
      if (first.last) return await this.#putSingle(key, first.bytes, options);
      return await this.#putBlocks(key, first, parts, options);
    } catch (err) {
      discard(body);
      throw this.#err(key, 'writing')(err);
    }
  }

  /**
   * A retried create refused because the blob exists may be refusing our own earlier attempt
   * whose answer was lost: the same Content-MD5 means the write succeeded.
   */
  async #isOurs(key: string, attempt: number, err: unknown, digest: Buffer): Promise<boolean> {
    const exists = azureErrorCode(err) === 'BlobAlreadyExists' || azureStatus(err) === 412;
    if (attempt === 1 || !exists) return false;
    try {
      const props = await this.#blob(key).getProperties();
      return props.contentMD5 !== undefined && Buffer.from(props.contentMD5).equals(digest);
    } catch {
      return false;
    }
  }

  async #putSingle(key: string, bytes: Buffer, options: PutOptions): Promise<ObjectInfo> {
    const digest = createHash('md5').update(bytes).digest();
    await this.#send(
      'PutBlob',
      async (attempt) => {
        try {
          return await this.#blob(key).upload(bytes, bytes.length, {
            blobHTTPHeaders: { blobContentMD5: digest },
            ...(options.ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {}),
            ...this.#immutability(options, key),
          });
        } catch (err) {
          if (await this.#isOurs(key, attempt, err, digest)) return undefined;
          throw err;
        }
      },
      key,
    );
    return { key, size: bytes.length };
  }

  async #putBlocks(key: string, first: Part, rest: AsyncGenerator<Part>, options: PutOptions): Promise<ObjectInfo> {
    const blob = this.#blob(key);
    // Block ids are unique to this write (concurrent writers of one blob never share blocks) and
    // of one length, as Azure requires.
    const writeId = randomBytes(12).toString('hex');
    const blockId = (n: number) => Buffer.from(`${writeId}-${String(n).padStart(6, '0')}`).toString('base64');
    const whole = createHash('md5');
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let size = 0;
    let count = 0;
    const stage = (part: Part) =>
      this.#send(
        'PutBlock',
        () =>
          blob.stageBlock(blockId(part.number), part.bytes, part.bytes.length, {
            transactionalContentMD5: createHash('md5').update(part.bytes).digest(),
          }),
        key,
      ).then(
        () => undefined,
        (err) => {
          failure ??= err;
        },
      );
    try {
      let part: Part | undefined = first;
      while (part && failure === undefined) {
        size += part.bytes.length;
        count = part.number;
        whole.update(part.bytes);
        const p = stage(part);
        inFlight.add(p);
        p.finally(() => inFlight.delete(p));
        while (inFlight.size >= this.#concurrency) await Promise.race(inFlight);
        if (part.last) break;
        const next: IteratorResult<Part> = await rest.next();
        part = next.done ? undefined : next.value;
      }
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
      const digest = whole.digest();
      const ids = Array.from({ length: count }, (_, i) => blockId(i + 1));
      await this.#send(
        'PutBlockList',
        async (attempt) => {
          try {
            return await blob.commitBlockList(ids, {
              blobHTTPHeaders: { blobContentMD5: digest },
              ...(options.ifAbsent ? { conditions: { ifNoneMatch: '*' } } : {}),
              ...this.#immutability(options, key),
            });
          } catch (err) {
            if (await this.#isOurs(key, attempt, err, digest)) return undefined;
            throw err;
          }
        },
        key,
      );
      return { key, size };
    } catch (err) {
      await Promise.allSettled(inFlight);
      await rest.return(undefined).catch(() => undefined);
      throw err;
    }
  }

  async get(key: string, options?: GetOptions): Promise<Readable> {
    assertValidKey(key);
    assertValidRange(key, options);
    const offset = options?.offset ?? 0;
    const length = options?.length;
    if (length === 0) {
      await this.#assertRangeStart(key, offset);
      return emptyStream();
    }
    try {
      const response = await this.#send(
        'GetBlob',
        () => this.#blob(key).download(offset, length, { maxRetryRequests: 0 }),
        key,
      );
      return typedReadStream(response.readableStreamBody as Readable, key, (err) => azureErrorCode(err));
    } catch (err) {
      const cause = (err as SinkError).cause;
      if (azureStatus(cause) === 416 || azureErrorCode(cause) === 'InvalidRange') {
        await this.#assertRangeStart(key, offset);
        return emptyStream();
      }
      throw err;
    }
  }

  async #assertRangeStart(key: string, offset: number): Promise<void> {
    const { size } = await this.head(key);
    if (offset > size)
      throw new PermanentSinkError(`range starts at ${offset}, beyond the object's ${size} bytes`, key);
  }

  async head(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    const p = await this.#send('GetBlobProperties', () => this.#blob(key).getProperties(), key);
    return {
      key,
      size: p.contentLength ?? 0,
      ...(p.lastModified ? { lastModified: p.lastModified } : {}),
      ...(p.immutabilityPolicyExpiresOn ? { retainUntil: p.immutabilityPolicyExpiresOn } : {}),
    };
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    let marker: string | undefined;
    do {
      const page = await this.#send('ListBlobs', async () => {
        const pages = this.container
          .listBlobsFlat({ prefix: this.#prefix + prefix })
          .byPage({ maxPageSize: 5000, ...(marker ? { continuationToken: marker } : {}) });
        return (await pages.next()).value;
      });
      for (const item of page?.segment.blobItems ?? []) {
        const key = item.name.slice(this.#prefix.length);
        if (!key || key.split('/').some((segment: string) => segment.startsWith('.'))) continue;
        yield {
          key,
          size: item.properties.contentLength ?? 0,
          ...(item.properties.lastModified ? { lastModified: item.properties.lastModified } : {}),
        };
      }
      marker = page?.continuationToken || undefined;
    } while (marker);
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.#send('DeleteBlob', () => this.#blob(key).deleteIfExists({ deleteSnapshots: 'include' }), key);
    } catch (err) {
      // 409 BlobImmutableDueToPolicy: version-level immutability holds the blob.
      if (azureErrorCode((err as SinkError).cause) === 'BlobImmutableDueToPolicy') {
        const until = await this.head(key).then(
          (i) => i.retainUntil,
          () => undefined,
        );
        throw new ObjectLockedError(key, until, { cause: err });
      }
      throw err;
    }
  }

  async close(): Promise<void> {}
}
