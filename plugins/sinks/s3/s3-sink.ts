// S3 sink: AWS S3, MinIO and S3-compatible stores (Ceph RGW, Wasabi, Backblaze B2, Cloudflare R2,
// Garage, SeaweedFS, s3rver).
// - Atomic visibility comes from S3 itself: a PUT or a completed multipart upload appears whole.
//   A body of declared length up to 32 MiB (a repository pack) goes in one PUT; larger ones or
//   bodies of unknown length are cut into parts in memory (at most `concurrency` parts in flight plus one being
//   filled), so memory stays bounded whatever the object's size; a body shorter or longer than its
//   declared length fails before the upload is completed, and the multipart upload is aborted.
// - Every request is retried with backoff and jitter on throttling and network errors; parts are
//   buffers, so a retry resends the same bytes.
// - If-absent writes use `If-None-Match: *` (PUT and CompleteMultipartUpload) where the store
//   honours it. With `conditionalWrites: auto` the sink checks once, on its first if-absent write,
//   whether the store refuses a second conditional create; stores that ignore the header get the
//   emulation: a per-key lock in this process, then HEAD, then PUT. Across processes that leaves a
//   race window, which the repository tolerates: packs, index files and snapshots are named by
//   their content (a lost race rewrites identical bytes) and lock and key objects by random ids
//   (two writers never pick the same name). Only two `repo init` runs racing on one empty location
//   could both think they created it; don't do that.
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  PutObjectCommand,
  type PutObjectCommandInput,
  PutObjectRetentionCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  type GetOptions,
  type ImmutabilityPolicy,
  ObjectExistsError,
  type ObjectInfo,
  ObjectLockedError,
  ObjectNotFoundError,
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
import { KeyedMutex } from '../../../core/plugins/sink-support/keyed-mutex.ts';
import { type RetryPolicy, withRetries } from '../../../core/plugins/sink-support/retry.ts';
import { choosePartSize } from './part-size.ts';
import { s3ErrorName, s3Status, toSinkError } from './s3-errors.ts';

export interface S3SinkOptions {
  /** Full URL of an S3-compatible endpoint; omitted for AWS S3. */
  endpoint?: string | undefined;
  region: string;
  bucket: string;
  /** Folder inside the bucket ('' or 'a/b'); slashes at either end are ignored. */
  prefix?: string | undefined;
  accessKeyId?: string | undefined;
  secretAccessKey?: string | undefined;
  sessionToken?: string | undefined;
  /** Path-style URLs (endpoint/bucket/key), which MinIO and most self-hosted stores need. */
  forcePathStyle?: boolean | undefined;
  /** PEM file of the certificate authorities to trust for the endpoint (self-signed stores). */
  caFile?: string | undefined;
  conditionalWrites?: 'auto' | 'native' | 'emulated' | undefined;
  /** S3 Object Lock mode used when a put asks for `retainUntil` (the bucket must have Object Lock on). */
  objectLockMode?: 'GOVERNANCE' | 'COMPLIANCE' | undefined;
  /** With objectLockMode: the period every repository object is locked for (the kernel applies it). */
  immutabilityDays?: number | undefined;
  serverSideEncryption?: 'AES256' | 'aws:kms' | 'aws:kms:dsse' | undefined;
  sseKmsKeyId?: string | undefined;
  /** Preferred multipart part size (default 8 MiB; raised for objects that would need > 10,000 parts). */
  partSizeBytes?: number | undefined;
  /** Parts uploaded at once per object, and the bound on parts held in memory (default 4). */
  concurrency?: number | undefined;
  /** Bodies of a declared length up to this go in one PUT (default 32 MiB: a repository pack is one request). */
  singlePutMaxBytes?: number | undefined;
  retry?: RetryPolicy | undefined;
}

const DEFAULT_PART_BYTES = 8 * 1024 * 1024;
const SINGLE_PUT_MAX = 32 * 1024 * 1024;
/** Internal objects (the conditional-write check) live under this dot-name; listings skip them. */
const INTERNAL = '.holdfast/';

const md5 = (bytes: Buffer) => createHash('md5').update(bytes);

/**
 * What the conditional-write check found, by endpoint, bucket and prefix: a job thread opens a
 * sink for every repository it opens, and each checked again (three requests) on its first
 * if-absent write. A store that changes its answer is seen again after a restart.
 */
const detectedModes = new Map<string, 'native' | 'emulated'>();

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed) assertValidKey(trimmed);
  return trimmed ? `${trimmed}/` : '';
}

export class S3Sink implements Sink {
  readonly description: string;
  readonly client: S3Client;
  readonly #bucket: string;
  readonly #prefix: string;
  readonly #options: S3SinkOptions;
  readonly #partSize: number;
  readonly #concurrency: number;
  readonly #mutex = new KeyedMutex();
  #conditional: 'native' | 'emulated' | undefined;
  #detecting: Promise<'native' | 'emulated'> | undefined;
  /** Request counts by operation, for benchmarks and tests. */
  readonly requests: Record<string, number> = {};

  constructor(options: S3SinkOptions) {
    this.#options = options;
    this.#bucket = options.bucket;
    this.#prefix = normalizePrefix(options.prefix);
    this.#partSize = options.partSizeBytes ?? DEFAULT_PART_BYTES;
    this.#concurrency = Math.max(1, options.concurrency ?? 4);
    this.#conditional = options.conditionalWrites === 'auto' ? undefined : (options.conditionalWrites ?? undefined);
    const host = options.endpoint ? `${new URL(options.endpoint).host}/` : '';
    this.description = `s3:${host}${this.#bucket}${this.#prefix ? `/${this.#prefix.slice(0, -1)}` : ''}`;
    const ca = options.caFile ? readFileSync(options.caFile) : undefined;
    const sockets = this.#concurrency * 4 + 8;
    this.client = new S3Client({
      region: options.region,
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.accessKeyId
        ? {
            credentials: {
              accessKeyId: options.accessKeyId,
              secretAccessKey: options.secretAccessKey ?? '',
              ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}),
            },
          }
        : {}),
      // Retries are ours (withRetries): typed, with jitter, and aware of which bodies can be resent.
      maxAttempts: 1,
      // Content-MD5 is sent on every upload instead; many S3-compatible stores reject the
      // newer streaming checksum trailers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets: sockets }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: sockets, ...(ca ? { ca } : {}) }),
        connectionTimeout: 10_000,
        requestTimeout: 120_000,
      },
    });
  }

  get capabilities(): SinkCapabilities {
    return { conditionalWrites: this.#conditional ?? 'emulated', retention: Boolean(this.#options.objectLockMode) };
  }

  get immutability(): ImmutabilityPolicy | undefined {
    const { objectLockMode: mode, immutabilityDays: days } = this.#options;
    return mode && days ? { mode, days } : undefined;
  }

  #key(key: string): string {
    return this.#prefix + key;
  }

  #err(key?: string, action?: string): (err: unknown) => SinkError {
    return (err) => toSinkError(err, this.description, key, action);
  }

  async #send<T>(operation: string, run: (attempt: number) => Promise<T>, key?: string): Promise<T> {
    return withRetries(
      (attempt) => {
        this.requests[operation] = (this.requests[operation] ?? 0) + 1;
        return run(attempt);
      },
      this.#err(key, operation),
      this.#options.retry,
    );
  }

  #putExtras(options: PutOptions, key: string): Partial<PutObjectCommandInput> {
    const o = this.#options;
    const extras: Partial<PutObjectCommandInput> = {};
    if (o.serverSideEncryption) extras.ServerSideEncryption = o.serverSideEncryption;
    if (o.sseKmsKeyId) extras.SSEKMSKeyId = o.sseKmsKeyId;
    if (options.retainUntil) {
      if (!o.objectLockMode) {
        throw new PermanentSinkError(
          'retention was asked for, but this S3 location has no Object Lock mode configured',
          key,
        );
      }
      extras.ObjectLockMode = o.objectLockMode;
      extras.ObjectLockRetainUntilDate = options.retainUntil;
    }
    return extras;
  }

  /** Whether the store refuses a second `If-None-Match: *` create (checked once per store and thread). */
  async #conditionalMode(): Promise<'native' | 'emulated'> {
    if (this.#conditional) return this.#conditional;
    const store = `${this.#options.endpoint ?? ''} ${this.#bucket} ${this.#prefix}`;
    const known = detectedModes.get(store);
    if (known) {
      this.#conditional = known;
      return known;
    }
    this.#detecting ??= this.#detectConditionalWrites().then(
      (mode) => {
        this.#conditional = mode;
        detectedModes.set(store, mode);
        return mode;
      },
      (err) => {
        this.#detecting = undefined;
        throw err;
      },
    );
    return this.#detecting;
  }

  async #detectConditionalWrites(): Promise<'native' | 'emulated'> {
    const Key = `${this.#prefix}${INTERNAL}conditional-write-check-${randomUUID()}`;
    const create = () =>
      this.#send(
        'PutObject',
        () =>
          this.client.send(
            new PutObjectCommand({
              Bucket: this.#bucket,
              Key,
              Body: Buffer.alloc(0),
              ContentLength: 0,
              IfNoneMatch: '*',
            }),
          ),
        Key,
      );
    try {
      await create();
    } catch (err) {
      if ((err as SinkError).reason === 'unsupported') return 'emulated';
      throw err;
    }
    try {
      await create();
      return 'emulated';
    } catch (err) {
      if (err instanceof ObjectExistsError) return 'native';
      if ((err as SinkError).reason === 'unsupported') return 'emulated';
      throw err;
    } finally {
      await this.#send('DeleteObject', () => this.client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key })));
    }
  }

  async put(key: string, body: Uint8Array | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    try {
      assertValidKey(key);
      this.#putExtras(options, key);
      if (!options.ifAbsent) return await this.#upload(key, body, options, false);
      if ((await this.#conditionalMode()) === 'native') return await this.#upload(key, body, options, true);
      return await this.#mutex.run(key, async () => {
        if (await this.#exists(key)) throw new ObjectExistsError(key);
        return this.#upload(key, body, options, false);
      });
    } catch (err) {
      discard(body);
      throw this.#err(key, 'writing')(err);
    }
  }

  async #exists(key: string): Promise<boolean> {
    try {
      await this.head(key);
      return true;
    } catch (err) {
      if ((err as SinkError).kind === 'not_found') return false;
      throw err;
    }
  }

  async #upload(key: string, body: Uint8Array | Readable, options: PutOptions, ifNoneMatch: boolean) {
    const length = options.contentLength;
    const single = length !== undefined && length <= (this.#options.singlePutMaxBytes ?? SINGLE_PUT_MAX);
    const partSize = single ? Math.max(1, length) : choosePartSize(length, this.#partSize);
    const parts = readParts(lengthChecked(asChunks(body), length, key), partSize);
    const first = await parts.next();
    const part = first.value as Part;
    if (part.last) return this.#putSingle(key, part.bytes, options, ifNoneMatch);
    // A large create-if-absent checks first, so an existing object costs no upload.
    if (options.ifAbsent && ifNoneMatch && (await this.#exists(key))) throw new ObjectExistsError(key);
    return this.#putMultipart(key, part, parts, options, ifNoneMatch);
  }

  async #putSingle(key: string, bytes: Buffer, options: PutOptions, ifNoneMatch: boolean): Promise<ObjectInfo> {
    const digest = md5(bytes).digest();
    await this.#send(
      'PutObject',
      async (attempt) => {
        try {
          return await this.client.send(
            new PutObjectCommand({
              Bucket: this.#bucket,
              Key: this.#key(key),
              Body: bytes,
              ContentLength: bytes.length,
              ContentMD5: digest.toString('base64'),
              ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
              ...this.#putExtras(options, key),
            }),
          );
        } catch (err) {
          // A retry refused because the object exists may be refusing our own earlier attempt
          // whose answer was lost: the same bytes (same MD5 ETag) mean the write succeeded.
          if (attempt > 1 && (s3Status(err) === 412 || s3ErrorName(err) === 'PreconditionFailed')) {
            if (await this.#etagIs(key, `"${digest.toString('hex')}"`)) return undefined;
          }
          throw err;
        }
      },
      key,
    );
    return { key, size: bytes.length };
  }

  async #etagIs(key: string, etag: string): Promise<boolean> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) }));
      return head.ETag === etag;
    } catch {
      return false;
    }
  }

  async #putMultipart(
    key: string,
    first: Part,
    rest: AsyncGenerator<Part>,
    options: PutOptions,
    ifNoneMatch: boolean,
  ): Promise<ObjectInfo> {
    const Key = this.#key(key);
    const created = await this.#send(
      'CreateMultipartUpload',
      () =>
        this.client.send(
          new CreateMultipartUploadCommand({ Bucket: this.#bucket, Key, ...this.#putExtras(options, key) }),
        ),
      key,
    );
    const UploadId = created.UploadId as string;
    const etags: { PartNumber: number; ETag: string }[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    let size = 0;
    const uploadPart = (part: Part) =>
      this.#send(
        'UploadPart',
        () =>
          this.client.send(
            new UploadPartCommand({
              Bucket: this.#bucket,
              Key,
              UploadId,
              PartNumber: part.number,
              Body: part.bytes,
              ContentLength: part.bytes.length,
              ContentMD5: md5(part.bytes).digest('base64'),
            }),
          ),
        key,
      ).then(
        (r) => {
          etags.push({ PartNumber: part.number, ETag: r.ETag as string });
        },
        (err) => {
          failure ??= err;
        },
      );
    try {
      let part: Part | undefined = first;
      while (part && failure === undefined) {
        size += part.bytes.length;
        const p = uploadPart(part);
        inFlight.add(p);
        p.finally(() => inFlight.delete(p));
        // Bounded memory: wait for a slot before reading the next part from the body.
        while (inFlight.size >= this.#concurrency) await Promise.race(inFlight);
        if (part.last) break;
        const next: IteratorResult<Part> = await rest.next();
        part = next.done ? undefined : next.value;
      }
      await Promise.all(inFlight);
      if (failure !== undefined) throw failure;
      etags.sort((a, b) => a.PartNumber - b.PartNumber);
      await this.#send(
        'CompleteMultipartUpload',
        () =>
          this.client.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.#bucket,
              Key,
              UploadId,
              MultipartUpload: { Parts: etags },
              ...(ifNoneMatch ? { IfNoneMatch: '*' } : {}),
            }),
          ),
        key,
      );
      return { key, size };
    } catch (err) {
      await Promise.allSettled(inFlight);
      await rest.return(undefined).catch(() => undefined);
      await this.#send('AbortMultipartUpload', () =>
        this.client.send(new AbortMultipartUploadCommand({ Bucket: this.#bucket, Key, UploadId })),
      ).catch(() => undefined); // Left-overs expire with the bucket's lifecycle rule (see README).
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
    const range =
      offset > 0 || length !== undefined
        ? `bytes=${offset}-${length === undefined ? '' : offset + length - 1}`
        : undefined;
    try {
      const response = await this.#send(
        'GetObject',
        () =>
          this.client.send(
            new GetObjectCommand({ Bucket: this.#bucket, Key: this.#key(key), ...(range ? { Range: range } : {}) }),
          ),
        key,
      );
      return typedReadStream(response.Body as Readable, key, (err) => (err as Error).message);
    } catch (err) {
      if (s3Status((err as SinkError).cause) === 416 || s3ErrorName((err as SinkError).cause) === 'InvalidRange') {
        await this.#assertRangeStart(key, offset);
        return emptyStream();
      }
      throw err;
    }
  }

  /** A range may start at the object's end (and is then empty), never beyond it. */
  async #assertRangeStart(key: string, offset: number): Promise<void> {
    const { size } = await this.head(key);
    if (offset > size)
      throw new PermanentSinkError(`range starts at ${offset}, beyond the object's ${size} bytes`, key);
  }

  async head(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    const r = await this.#send(
      'HeadObject',
      () => this.client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) })),
      key,
    );
    return {
      key,
      size: r.ContentLength ?? 0,
      ...(r.LastModified ? { lastModified: r.LastModified } : {}),
      ...(r.ObjectLockRetainUntilDate ? { retainUntil: r.ObjectLockRetainUntilDate } : {}),
    };
  }

  async extendRetention(key: string, until: Date): Promise<void> {
    assertValidKey(key);
    const mode = this.#options.objectLockMode;
    if (!mode) throw new PermanentSinkError('this S3 location has no Object Lock mode configured', key);
    await this.#send(
      'PutObjectRetention',
      () =>
        this.client.send(
          new PutObjectRetentionCommand({
            Bucket: this.#bucket,
            Key: this.#key(key),
            Retention: { Mode: mode, RetainUntilDate: until },
          }),
        ),
      key,
    );
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    let token: string | undefined;
    do {
      const page = await this.#send('ListObjectsV2', () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.#bucket,
            Prefix: this.#prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        const key = (object.Key ?? '').slice(this.#prefix.length);
        // Dot-segments are never repository keys: they are this sink's own objects.
        if (!key || key.split('/').some((s) => s.startsWith('.'))) continue;
        yield { key, size: object.Size ?? 0, ...(object.LastModified ? { lastModified: object.LastModified } : {}) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    if (this.#options.objectLockMode) return this.#deleteVersion(key);
    await this.#send(
      'DeleteObject',
      () => this.client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) })),
      key,
    );
  }

  /**
   * On an Object Lock bucket (always versioned) a delete without a version id only adds a delete
   * marker and the bytes stay: the sink deletes the current version itself, which the store
   * refuses while it is locked (ObjectLockedError).
   */
  async #deleteVersion(key: string): Promise<void> {
    let head: HeadObjectCommandOutput;
    try {
      head = await this.#send(
        'HeadObject',
        () => this.client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: this.#key(key) })),
        key,
      );
    } catch (err) {
      if (err instanceof ObjectNotFoundError) return;
      throw err;
    }
    try {
      await this.#send(
        'DeleteObject',
        () =>
          this.client.send(
            new DeleteObjectCommand({
              Bucket: this.#bucket,
              Key: this.#key(key),
              ...(head.VersionId ? { VersionId: head.VersionId } : {}),
            }),
          ),
        key,
      );
    } catch (err) {
      if ((err as SinkError).reason === 'permission')
        throw new ObjectLockedError(key, head.ObjectLockRetainUntilDate, { cause: err });
      throw err;
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}
