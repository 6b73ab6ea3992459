// Local-disk sink: objects are files under a root folder, one file per key.
// Atomic visibility: a body is written to a temporary file under <root>/.tmp, fsynced, then
// published with rename (overwrite) or link (ifAbsent: link fails with EEXIST if the key exists,
// which makes create-if-absent atomic between any number of writers), and the parent folder is
// fsynced so the new name survives a power loss.
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import {
  assertValidKey,
  assertValidPrefix,
  assertValidRange,
  type GetOptions,
  ObjectExistsError,
  type ObjectInfo,
  ObjectNotFoundError,
  PermanentSinkError,
  type PutOptions,
  type Sink,
  SinkError,
  type SinkFailureReason,
  TransientSinkError,
} from '../../../core/plugins/sink.ts';

const TEMP_DIR = '.tmp';
/** A temporary file untouched this long belongs to a write that died. */
const STALE_TEMP_MS = 60 * 60 * 1000;
const TRANSIENT_CODES = new Set(['ENOSPC', 'EIO', 'EMFILE', 'ENFILE', 'EAGAIN', 'EBUSY', 'EDQUOT', 'ETIMEDOUT']);

/** File-system errors the connection test can name (a path that is a file, a folder it may not write). */
const FOLDER_REASONS: Record<string, SinkFailureReason> = {
  ENOTDIR: 'not_a_folder',
  EACCES: 'folder_access',
  EPERM: 'folder_access',
  EROFS: 'folder_access',
};

export interface LocalSinkOptions {
  /** Folder that holds the objects; created when missing. */
  path: string;
}

/** Maps a file-system error to the contract's typed errors. */
function sinkError(
  err: unknown,
  key: string | undefined,
  action: 'reading' | 'writing' | 'listing' | 'deleting' | string,
): SinkError {
  if (err instanceof SinkError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (code === 'ENOENT' && key !== undefined && action === 'reading')
    return new ObjectNotFoundError(key, { cause: err });
  const message = `${action}${key ? ` ${key}` : ''} failed: ${code || (err as Error).message}`;
  const reason = FOLDER_REASONS[code];
  return TRANSIENT_CODES.has(code)
    ? new TransientSinkError(message, key, { cause: err })
    : new PermanentSinkError(message, key, { cause: err, ...(reason ? { reason } : {}) });
}

async function fsyncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Counts bytes passing through and fails the pipeline if a declared length is not met. */
async function* counted(body: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, seen: { bytes: number }) {
  for await (const chunk of body) {
    seen.bytes += chunk.byteLength;
    yield chunk;
  }
}

export class LocalSink implements Sink {
  readonly description: string;
  readonly capabilities = { conditionalWrites: 'native', retention: false } as const;
  readonly root: string;
  readonly #tempDir: string;
  #ready: Promise<void> | undefined;

  constructor(options: LocalSinkOptions) {
    this.root = resolve(options.path);
    this.#tempDir = join(this.root, TEMP_DIR);
    this.description = `local:${this.root}`;
  }

  #ensureRoot(): Promise<void> {
    this.#ready ??= mkdir(this.#tempDir, { recursive: true }).then(
      () => this.removeLeftovers(STALE_TEMP_MS).then(() => undefined),
      (err) => {
        this.#ready = undefined;
        throw sinkError(err, undefined, `creating ${this.root}`);
      },
    );
    return this.#ready;
  }

  /**
   * Removes temporary files of writes that never finished (a killed process) once they are older
   * than `olderThanMs` — old enough that no live writer can still own them. Runs on first write.
   */
  async removeLeftovers(olderThanMs: number): Promise<number> {
    let removed = 0;
    for (const path of await this.leftovers()) {
      try {
        if (Date.now() - (await stat(path)).mtimeMs >= olderThanMs) {
          await rm(path, { force: true });
          removed++;
        }
      } catch {
        // Gone meanwhile: its writer finished.
      }
    }
    return removed;
  }

  /** The file of a key; keys are validated, and the result is checked to stay under the root. */
  pathOf(key: string): string {
    assertValidKey(key);
    const path = resolve(this.root, ...key.split('/'));
    if (!path.startsWith(this.root + sep)) throw new PermanentSinkError(`key escapes the sink root`, key);
    return path;
  }

  async put(key: string, body: Uint8Array | Readable, options: PutOptions = {}): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    if (options.retainUntil) throw new PermanentSinkError('the local sink does not support retention', key);
    await this.#ensureRoot();
    const temp = join(this.#tempDir, `${randomUUID()}.part`);
    const seen = { bytes: 0 };
    try {
      const source = body instanceof Uint8Array ? [body] : body;
      const handle = await open(temp, 'wx', 0o640);
      try {
        for await (const chunk of counted(source, seen)) {
          for (let at = 0; at < chunk.byteLength; )
            at += (await handle.write(chunk, at, chunk.byteLength - at)).bytesWritten;
          if (body !== chunk) options.onChunkWritten?.(chunk);
        }
        if (options.contentLength !== undefined && seen.bytes !== options.contentLength) {
          throw new PermanentSinkError(
            `body of ${seen.bytes} bytes does not match the declared length ${options.contentLength}`,
            key,
          );
        }
        // Every byte is in the file: the caller may free the body while it is made durable.
        options.onBodyRead?.();
        await handle.sync();
      } finally {
        await handle.close();
      }
      await mkdir(dirname(path), { recursive: true });
      if (options.ifAbsent) {
        try {
          await link(temp, path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(key, { cause: err });
          throw err;
        }
        await unlink(temp);
      } else {
        await rename(temp, path);
      }
      await fsyncDir(dirname(path));
      const info = await stat(path);
      return { key, size: info.size, lastModified: info.mtime };
    } catch (err) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw sinkError(err, key, 'writing');
    }
  }

  async get(key: string, options?: GetOptions): Promise<Readable> {
    const path = this.pathOf(key);
    assertValidRange(key, options);
    const offset = options?.offset ?? 0;
    try {
      const handle = await open(path, 'r');
      const { size } = await handle.stat();
      if (offset > size) {
        await handle.close();
        throw new PermanentSinkError(`range starts at ${offset}, beyond the object's ${size} bytes`, key);
      }
      const available = size - offset;
      const length = Math.min(options?.length ?? available, available);
      if (length === 0) {
        await handle.close();
        return Readable.from([]);
      }
      // The handle keeps the bytes readable even if the key is deleted meanwhile.
      // A range is read in one piece up to 16 MiB (blob runs of a pack: no pieces to join).
      const highWaterMark = options?.length !== undefined ? Math.min(length, 16 * 1024 * 1024) : 256 * 1024;
      return createReadStream('', {
        fd: handle,
        start: offset,
        end: offset + length - 1,
        autoClose: true,
        highWaterMark,
      });
    } catch (err) {
      throw sinkError(err, key, 'reading');
    }
  }

  async head(key: string): Promise<ObjectInfo> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new ObjectNotFoundError(key);
      return { key, size: info.size, lastModified: info.mtime };
    } catch (err) {
      throw sinkError(err, key, 'reading');
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    assertValidPrefix(prefix);
    // Start at the deepest folder the prefix names completely.
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    yield* this.#walk(base, prefix);
  }

  /** As `list`, keys only: the folder's entries, without a `stat` of every file. */
  async *listKeys(prefix: string): AsyncIterable<string> {
    assertValidPrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    yield* this.#walkKeys(slash >= 0 ? prefix.slice(0, slash) : '', prefix);
  }

  async *#walkKeys(dirKey: string, prefix: string): AsyncIterable<string> {
    const dir = dirKey ? join(this.root, ...dirKey.split('/')) : this.root;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw sinkError(err, undefined, `listing ${dirKey || '/'}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.#walkKeys(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) yield key;
    }
  }

  async *#walk(dirKey: string, prefix: string): AsyncIterable<ObjectInfo> {
    const dir = dirKey ? join(this.root, ...dirKey.split('/')) : this.root;
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw sinkError(err, undefined, `listing ${dirKey || '/'}`);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue;
      const key = dirKey ? `${dirKey}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (`${key}/`.startsWith(prefix) || prefix.startsWith(`${key}/`)) yield* this.#walk(key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        try {
          const info = await stat(join(dir, entry.name));
          yield { key, size: info.size, lastModified: info.mtime };
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw sinkError(err, key, 'listing');
        }
      }
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
      await fsyncDir(dirname(path));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw sinkError(err, key, 'deleting');
    }
  }

  /** Temporary files left by writes that never finished (a crash); safe to remove when idle. */
  async leftovers(): Promise<string[]> {
    try {
      return (await readdir(this.#tempDir)).map((name) => join(this.#tempDir, name));
    } catch {
      return [];
    }
  }

  async close(): Promise<void> {}
}
