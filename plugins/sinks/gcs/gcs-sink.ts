// Google Cloud Storage sink. Bodies of a declared length up to 32 MiB (a repository pack), or that
// fit one chunk, go up in one multipart request; larger ones in a
// resumable upload sent in chunks (`chunkSize` in memory at a time, so memory stays bounded and a
// failed chunk is resent from where the server says it stopped). An object appears only when its
// upload completes; a body of the wrong length errors the upload before its last chunk, so it
// never completes. If-absent writes use the precondition `ifGenerationMatch=0` (native). Retries
// are the client library's (exponential backoff with jitter; conditional requests count as
// idempotent), and errors are mapped to the contract's types afterwards.
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Bucket, type File, IdempotencyStrategy, Storage, type StorageOptions } from '@google-cloud/storage';
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
import { withRetries } from '../../../core/plugins/sink-support/retry.ts';
import { gcsStatus, toSinkError } from './gcs-errors.ts';

export interface ServiceAccountKey {
  client_email: string;
  private_key: string;
  project_id?: string;
}

export interface GcsSinkOptions {
  bucket: string;
  prefix?: string | undefined;
  /** A service-account key (the parsed JSON key file); without it, Application Default Credentials. */
  credentials?: ServiceAccountKey | undefined;
  projectId?: string | undefined;
  /** Another JSON API endpoint (a private endpoint, or a test stand-in without auth). */
  apiEndpoint?: string | undefined;
  /** Object retention mode for writes that ask for `retainUntil` (the bucket needs object retention enabled). */
  retentionMode?: 'Unlocked' | 'Locked' | undefined;
  /** With retentionMode: the period every repository object is retained for (the kernel applies it). */
  immutabilityDays?: number | undefined;
  /** Resumable upload chunk size (default 8 MiB, a multiple of 256 KiB); smaller bodies go in one request. */
  chunkSizeBytes?: number | undefined;
  /** Bodies of a declared length up to this go in one request (default 32 MiB: a repository pack is one request). */
  singleRequestMaxBytes?: number | undefined;
  /** Retries per request (default 6; backoff doubles up to 10 s). */
  maxRetries?: number | undefined;
}

const QUANTUM = 256 * 1024;

function normalizePrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  if (trimmed) assertValidKey(trimmed);
  return trimmed ? `${trimmed}/` : '';
}

export class GcsSink implements Sink {
  readonly description: string;
  readonly storage: Storage;
  readonly bucket: Bucket;
  /**
   * Downloads go through a client without the library's retries: a retried download stream in the
   * library pipes into a stream it already destroyed, an unhandled rejection that would end the
   * process. The sink retries the request itself until the response starts.
   */
  readonly #reads: Bucket;
  readonly #prefix: string;
  readonly #options: GcsSinkOptions;
  readonly #chunkSize: number;

  constructor(options: GcsSinkOptions) {
    this.#options = options;
    this.#prefix = normalizePrefix(options.prefix);
    this.#chunkSize = Math.max(QUANTUM, Math.ceil((options.chunkSizeBytes ?? 8 * 1024 * 1024) / QUANTUM) * QUANTUM);
    const config: StorageOptions = {
      retryOptions: {
        autoRetry: true,
        maxRetries: options.maxRetries ?? 6,
        retryDelayMultiplier: 2,
        maxRetryDelay: 10,
        totalTimeout: 300,
        idempotencyStrategy: IdempotencyStrategy.RetryConditional,
      },
      ...(options.projectId ? { projectId: options.projectId } : {}),
      ...(options.credentials
        ? {
            credentials: {
              client_email: options.credentials.client_email,
              private_key: options.credentials.private_key,
            },
            projectId: options.projectId ?? options.credentials.project_id,
          }
        : {}),
      ...(options.apiEndpoint
        ? {
            apiEndpoint: options.apiEndpoint.replace(/\/+$/, ''),
            useAuthWithCustomEndpoint: Boolean(options.credentials),
          }
        : {}),
    };
    this.storage = new Storage(config);
    this.bucket = this.storage.bucket(options.bucket);
    this.#reads = new Storage({ ...config, retryOptions: { ...config.retryOptions, autoRetry: false } }).bucket(
      options.bucket,
    );
    const host = options.apiEndpoint ? `${new URL(options.apiEndpoint).host}/` : '';
    this.description = `gcs:${host}${options.bucket}${this.#prefix ? `/${this.#prefix.slice(0, -1)}` : ''}`;
  }

  get capabilities(): SinkCapabilities {
    return { conditionalWrites: 'native', retention: Boolean(this.#options.retentionMode) };
  }

  get immutability(): ImmutabilityPolicy | undefined {
    const { retentionMode: mode, immutabilityDays: days } = this.#options;
    return mode && days ? { mode, days } : undefined;
  }

  async extendRetention(key: string, until: Date): Promise<void> {
    assertValidKey(key);
    const mode = this.#options.retentionMode;
    if (!mode) throw new PermanentSinkError('this GCS location has no retention mode', key);
    try {
      await this.#file(key).setMetadata({ retention: { mode, retainUntilTime: until.toISOString() } });
    } catch (err) {
      throw this.#err(key, 'extending the retention of')(err);
    }
  }

  #file(key: string) {
    return this.bucket.file(this.#prefix + key);
  }

  #err(key?: string, action?: string): (err: unknown) => SinkError {
    return (err) => toSinkError(err, this.description, key, action);
  }

  #uploadOptions(options: PutOptions, key: string) {
    let retention: { mode: string; retainUntilTime: string } | undefined;
    if (options.retainUntil) {
      if (!this.#options.retentionMode) {
        throw new PermanentSinkError('retention was asked for, but this GCS location has no retention mode', key);
      }
      retention = { mode: this.#options.retentionMode, retainUntilTime: options.retainUntil.toISOString() };
    }
    return {
      validation: 'md5' as const,
      contentType: 'application/octet-stream',
      metadata: retention ? { retention } : {},
      ...(options.ifAbsent ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
    };
  }

  async put(key: string, body: Uint8Array | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    try {
      assertValidKey(key);
      const upload = this.#uploadOptions(options, key);
      const length = options.contentLength;
      const single = length !== undefined && length <= (this.#options.singleRequestMaxBytes ?? 32 * 1024 * 1024);
      const readSize = single ? Math.max(1, length) : this.#chunkSize;
      const parts = readParts(lengthChecked(asChunks(body), length, key), readSize);
      const first = (await parts.next()).value as Part;
      if (first.last) {
        await this.#file(key).save(first.bytes, { ...upload, resumable: false });
        return { key, size: first.bytes.length };
      }
      let size = 0;
      async function* all(): AsyncGenerator<Buffer> {
        size += first.bytes.length;
        yield first.bytes;
        for await (const part of parts) {
          size += part.bytes.length;
          yield part.bytes;
        }
      }
      await pipeline(
        Readable.from(all()),
        this.#file(key).createWriteStream({ ...upload, resumable: true, chunkSize: this.#chunkSize }),
      );
      return { key, size };
    } catch (err) {
      discard(body);
      throw this.#err(key, 'writing')(err);
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
    const ranged = offset > 0 || length !== undefined;
    const range = ranged ? { start: offset, ...(length === undefined ? {} : { end: offset + length - 1 }) } : {};
    try {
      const source = await withRetries(() => this.#startDownload(key, range), this.#err(key, 'reading'), {
        attempts: (this.#options.maxRetries ?? 6) + 1,
      });
      return typedReadStream(source, key, (err) => (err as Error).message);
    } catch (err) {
      if (gcsStatus((err as SinkError).cause) === 416) {
        await this.#assertRangeStart(key, offset);
        return emptyStream();
      }
      throw err;
    }
  }

  /** Sends a download and waits for its response to start (the library reports failures as events). */
  async #startDownload(key: string, range: { start?: number; end?: number }): Promise<Readable> {
    const source = this.#reads.file(this.#prefix + key).createReadStream({ validation: false, ...range });
    const out = new PassThrough({ highWaterMark: 256 * 1024 });
    source.pipe(out);
    try {
      // 'response' comes for failures too (before their 'error'): only a success settles here.
      await new Promise<void>((resolve, reject) => {
        source.once('error', reject);
        source.once('response', (res: { statusCode?: number }) => {
          if ((res.statusCode ?? 200) < 400) resolve();
        });
      });
    } catch (err) {
      source.destroy();
      throw err;
    }
    source.on('error', (err) => out.destroy(err));
    return out;
  }

  async #assertRangeStart(key: string, offset: number): Promise<void> {
    const { size } = await this.head(key);
    if (offset > size)
      throw new PermanentSinkError(`range starts at ${offset}, beyond the object's ${size} bytes`, key);
  }

  async head(key: string): Promise<ObjectInfo> {
    assertValidKey(key);
    try {
      const [metadata] = await this.#file(key).getMetadata();
      return {
        key,
        size: Number(metadata.size ?? 0),
        ...(metadata.updated ? { lastModified: new Date(metadata.updated) } : {}),
        ...(metadata.retention?.retainUntilTime ? { retainUntil: new Date(metadata.retention.retainUntilTime) } : {}),
      };
    } catch (err) {
      throw this.#err(key, 'reading')(err);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    let pageToken: string | undefined;
    do {
      let files: File[];
      let next: { pageToken?: string } | null | undefined;
      try {
        [files, next] = (await this.bucket.getFiles({
          prefix: this.#prefix + prefix,
          autoPaginate: false,
          maxResults: 1000,
          ...(pageToken ? { pageToken } : {}),
        })) as unknown as [typeof files, { pageToken?: string } | null];
      } catch (err) {
        throw this.#err(undefined, 'listing')(err);
      }
      for (const file of files) {
        const key = file.name.slice(this.#prefix.length);
        if (!key || key.split('/').some((segment: string) => segment.startsWith('.'))) continue;
        yield {
          key,
          size: Number(file.metadata.size ?? 0),
          ...(file.metadata.updated ? { lastModified: new Date(file.metadata.updated) } : {}),
        };
      }
      pageToken = next?.pageToken;
    } while (pageToken);
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    try {
      await this.#file(key).delete({ ignoreNotFound: true });
    } catch (err) {
      const error = this.#err(key, 'deleting')(err);
      // 403 under object retention: the store holds the object until its retain-until time.
      if (this.#options.retentionMode && error.reason === 'permission') {
        const until = await this.head(key).then(
          (i) => i.retainUntil,
          () => undefined,
        );
        if (until) throw new ObjectLockedError(key, until, { cause: err });
      }
      throw error;
    }
  }

  async close(): Promise<void> {}
}
