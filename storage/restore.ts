// Restores a snapshot into a folder. Content is read in pack order, not file by file: the blobs
// wanted by the next few hundred files (or tens of MiB) are sorted by pack and offset, so
// neighbours — a large file's chunks, many small files stored together — come in one ranged read,
// and each plaintext is written straight to its place in its file (positional writes, so files
// fill in any order). Memory: the groups being read, not the files.
// Damage costs only what it holds: a file is written under a temporary name in its folder and
// renamed when complete, so an unreadable blob (or a crash) never leaves a truncated file under
// the real name; the failed items are listed and the rest is restored. `resume` continues an
// interrupted restore, keeping the files already complete.
import { createHash } from 'node:crypto';
import {
  chmod,
  type FileHandle,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  readlink,
  realpath,
  rename,
  rm,
  symlink,
  utimes,
} from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { releaseBuffer } from './buffers.ts';
import { blobIdAsync } from './crypto.ts';
import { contentLengths, describeRange, isDamage, itemsPastDamage, readPastDamage } from './damaged-items.ts';
import type { FileMeta } from './filesystem.ts';
import type { Repository } from './repository.ts';
import { SnapshotReader } from './snapshot-reader.ts';
import type { ItemEntry } from './tree.ts';
import { WorkWindow } from './work-window.ts';

export interface RestoreOptions {
  /** Continue an interrupted restore into the same folder: files already complete are kept. */
  resume?: boolean;
}

export interface FailedItem {
  key: string;
  reason: string;
}

export interface RestoreResult {
  /** Items restored (or, when resuming, found complete). */
  items: number;
  /** Files a resumed restore found complete (size and content) and kept. */
  kept: number;
  /** Items that could not be restored because the repository's copy is damaged, by key. */
  failed: FailedItem[];
}

/** Where a file is written until it is complete: its own folder, so the rename is atomic. */
export function partialPath(path: string): string {
  const tag = createHash('sha256').update(basename(path)).digest('hex').slice(0, 16);
  return join(dirname(path), `.holdfast-restore-${tag}`);
}

/** Content queued before it is sorted into pack order and read. */
const PLAN_BYTES = 48 * 1024 * 1024;
const PLAN_TARGETS = 512;
/** One read job: blobs of up to this many bytes, stored or plain (one or a few ranged reads). */
const GROUP_BYTES = 6 * 1024 * 1024;
/** Read jobs at once, and their bytes: bounds restore memory. */
const GROUPS_IN_FLIGHT = 3;
const BYTES_IN_FLIGHT = 24 * 1024 * 1024;
/** Files with inline content (or none) written at once. */
const SMALL_FILE_JOBS = 16;

/** What every file of one restore shares: whether it resumes, and where failures go. */
interface RestoreRun {
  resume: boolean;
  onFailed: (failed: FailedItem) => void;
}

/**
 * A file being restored: opened (under its partial name) on its first write, finished after its
 * last part — mode, times, close, rename to its real name — or, when a part failed, removed.
 */
class RestoredFile {
  readonly key: string;
  readonly path: string;
  readonly meta: Partial<FileMeta>;
  #remaining: number;
  #handle: Promise<FileHandle> | undefined;
  #failure: string | undefined;
  readonly #run: RestoreRun;

  constructor(key: string, path: string, meta: Partial<FileMeta>, parts: number, run: RestoreRun) {
    this.key = key;
    this.path = path;
    this.meta = meta;
    this.#remaining = parts;
    this.#run = run;
  }

  #open(): Promise<FileHandle> {
    const partial = partialPath(this.path);
    // A partial file left by an interrupted run is replaced (never followed, if it is a link).
    this.#handle ??= this.#run.resume
      ? rm(partial, { force: true }).then(() => open(partial, 'wx', 0o600))
      : open(partial, 'wx', 0o600);
    return this.#handle;
  }

  /** Writes one part at its position; the last part finishes the file. */
  async write(data: Buffer, position: number): Promise<void> {
    if (this.#failure === undefined) {
      const handle = await this.#open();
      for (let done = 0; done < data.length; ) {
        const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
        done += bytesWritten;
      }
    }
    if (--this.#remaining === 0) await this.finish();
  }

  /** One part cannot be read: the file is not restored (the other parts still count down). */
  async fail(reason: string): Promise<void> {
    if (this.#failure === undefined) {
      this.#failure = reason;
      this.#run.onFailed({ key: this.key, reason });
    }
    if (--this.#remaining === 0) await this.finish();
  }

  /** Sets mode and times (through the open handle), closes the file and gives it its real name. */
  async finish(): Promise<void> {
    if (this.#failure !== undefined) {
      if (this.#handle) {
        await (await this.#handle).close();
        await rm(partialPath(this.path), { force: true });
      }
      return;
    }
    const handle = await this.#open();
    try {
      if (this.meta.mode !== undefined) await handle.chmod(this.meta.mode);
      if (this.meta.mtimeMs !== undefined) {
        const time = new Date(this.meta.mtimeMs);
        await handle.utimes(time, time);
      }
    } finally {
      await handle.close();
    }
    await rename(partialPath(this.path), this.path);
  }
}

interface Target {
  file: RestoredFile;
  position: number;
  length: number;
}

/**
 * Restores every item of a snapshot under `target` (which must be empty or new, unless resuming).
 * Items the repository cannot read are skipped and listed in the result; everything else is
 * restored. Errors of the target (full disk, permissions) and of the sink stop the restore.
 */
export async function restoreSnapshot(
  repo: Repository,
  snapshotId: string,
  target: string,
  options: RestoreOptions = {},
): Promise<RestoreResult> {
  const reader = await SnapshotReader.open(repo, snapshotId);
  await repo.loadIndex();
  const resume = options.resume === true;
  const root = resolve(target);
  await mkdir(root, { recursive: true });
  if (!resume && (await readdir(root)).length > 0) throw new Error(`restore target ${root} is not empty`);
  const realRoot = await realpath(root);
  const folders: { path: string; meta: FileMeta }[] = [];
  // Paths restored as symlinks: nothing may be restored beneath them (it would land elsewhere).
  const links = new Set<string>();
  // Folders whose real path was checked to be inside the target (they are created by us, in order).
  const checked = new Set<string>([root]);
  const reads = new WorkWindow(GROUPS_IN_FLIGHT, BYTES_IN_FLIGHT);
  const smallFiles = new WorkWindow(SMALL_FILE_JOBS, Number.POSITIVE_INFINITY);
  const failed: FailedItem[] = [];
  let failedFiles = 0;
  const run = {
    resume,
    onFailed: (f: FailedItem) => {
      failed.push(f);
      failedFiles++;
    },
  };
  let queued = new Map<string, Target[]>();
  let queuedBytes = 0;
  let queuedTargets = 0;

  const readQueued = async () => {
    const wanted = queued;
    queued = new Map();
    queuedBytes = 0;
    queuedTargets = 0;
    for (const group of packOrderGroups(repo, [...wanted.keys()])) {
      await reads.submit(group.bytes, async () => {
        const plains = await readPastDamage(repo, group.ids);
        const writes: Promise<void>[] = [];
        group.ids.forEach((id, i) => {
          const plain = plains[i] as Buffer | Error;
          for (const t of wanted.get(id) ?? []) {
            writes.push(
              plain instanceof Error
                ? t.file.fail(plain.message)
                : plain.length === t.length
                  ? t.file.write(plain, t.position)
                  : t.file.fail(`blob ${id} holds ${plain.length} bytes, the index says ${t.length}`),
            );
          }
        });
        await Promise.all(writes);
        // Written everywhere it goes: free it now rather than at some later collection.
        for (const plain of plains) if (!(plain instanceof Error)) releaseBuffer(plain);
      });
    }
  };

  // The tree in its fast walk; where that meets a damaged node, the rest past the damage.
  let lastKey: string | undefined;
  const items = async function* (): AsyncIterable<ItemEntry> {
    try {
      for await (const item of reader.items()) {
        lastKey = item.key;
        yield item;
      }
    } catch (err) {
      if (!isDamage(err)) throw err;
      const onDamage = (range: Parameters<typeof describeRange>[0]) =>
        failed.push({ key: range.from, reason: describeRange(range) });
      yield* itemsPastDamage(repo, reader.manifest, onDamage, lastKey);
    }
  };

  let count = 0;
  let kept = 0;
  try {
    for await (const item of items()) {
      const rel = item.key.endsWith('/') ? item.key.slice(0, -1) : item.key;
      const segments = rel.split('/');
      const path = resolve(root, ...segments);
      const outside = () => new Error(`refusing to restore ${JSON.stringify(item.key)} outside ${root}`);
      if (!path.startsWith(root + sep) || segments.some((s) => s === '..' || s === '.' || s === '')) throw outside();
      let prefix = '';
      for (const s of segments) {
        prefix = prefix ? `${prefix}/${s}` : s;
        if (links.has(prefix)) throw outside();
      }
      // Defence in depth: the folder it goes into must really be inside the target.
      const parentDir = dirname(path);
      if (!checked.has(parentDir)) {
        // Its folder's own item may have been in a damaged tree node: create it then.
        if (item.kind !== 'folder') await mkdir(parentDir, { recursive: true });
        const real = await realpath(parentDir).catch(() => undefined);
        if (real !== undefined && real !== realRoot && !real.startsWith(realRoot + sep)) throw outside();
        if (real !== undefined) checked.add(parentDir);
      }
      const meta = (item.meta ?? {}) as Partial<FileMeta>;
      if (item.kind === 'folder') {
        await mkdir(path, { recursive: true });
        // An interrupted run may have set a folder's final (perhaps read-only) mode already.
        if (resume) await chmod(path, (meta.mode ?? 0o755) | 0o700);
        if (meta.mode !== undefined && meta.mtimeMs !== undefined) folders.push({ path, meta: meta as FileMeta });
      } else if (item.kind === 'symlink') {
        const linkTarget = String(meta.target ?? '');
        const existing = resume ? await lstat(path).catch(() => undefined) : undefined;
        if (existing?.isSymbolicLink() && (await readlink(path)) === linkTarget) kept++;
        else {
          if (existing) await rm(path);
          await symlink(linkTarget, path);
        }
        links.add(rel);
      } else if (!item.content?.length) {
        // Inline or empty content: one small write.
        const data = item.inline !== undefined ? Buffer.from(item.inline, 'base64') : Buffer.alloc(0);
        if (resume && (await completeInline(path, data))) kept++;
        else {
          const file = new RestoredFile(item.key, path, meta, 1, run);
          await smallFiles.submit(1, () => file.write(data, 0));
        }
      } else {
        const lengths = contentLengths(repo, item);
        if (typeof lengths === 'string') {
          failed.push({ key: item.key, reason: lengths });
          continue;
        }
        if (resume && (await completeContent(repo, path, item, lengths))) {
          kept++;
          count++;
          continue;
        }
        const file = new RestoredFile(item.key, path, meta, item.content.length, run);
        let position = 0;
        for (const [i, id] of item.content.entries()) {
          const length = lengths[i] as number;
          const list = queued.get(id) ?? [];
          if (list.length === 0) queued.set(id, list);
          list.push({ file, position, length });
          position += length;
          queuedBytes += repo.locate(id)?.length ?? length;
          if (++queuedTargets >= PLAN_TARGETS || queuedBytes >= PLAN_BYTES) await readQueued();
        }
      }
      count++;
    }
    await readQueued();
  } finally {
    // Never leave work running past a failure (partial files are the next --resume's to replace).
    await Promise.allSettled([reads.drain(), smallFiles.drain()]);
  }
  await reads.drain();
  await smallFiles.drain();
  // Folders last, deepest first: writing their children changed their times. Never through a link.
  for (const f of folders.reverse()) {
    if (!(await lstat(f.path)).isDirectory()) continue;
    await chmod(f.path, f.meta.mode);
    await utimes(f.path, new Date(f.meta.mtimeMs), new Date(f.meta.mtimeMs));
  }
  failed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { items: count - failedFiles, kept, failed };
}

/** A file left by an earlier run under its real name (so complete then) that still matches. */
async function completeInline(path: string, data: Buffer): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile() || info.size !== data.length) return false;
  return (await readFile(path)).equals(data);
}

/** Same, for content in blobs: size, then every chunk's keyed hash against its blob id. */
async function completeContent(repo: Repository, path: string, item: ItemEntry, lengths: number[]): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined);
  if (!info?.isFile() || info.size !== item.size) return false;
  const handle = await open(path, 'r');
  try {
    let position = 0;
    for (const [i, id] of (item.content ?? []).entries()) {
      const length = lengths[i] as number;
      const chunk = Buffer.allocUnsafeSlow(length);
      const { bytesRead } = await handle.read(chunk, 0, length, position);
      const same = bytesRead === length && (await blobIdAsync(repo.keys.idKey, chunk)) === id;
      releaseBuffer(chunk);
      if (!same) return false;
      position += length;
    }
    return true;
  } finally {
    await handle.close();
  }
}

/** Ids sorted by pack and offset, cut into groups of about GROUP_BYTES (stored or plain, whichever is larger). */
function* packOrderGroups(repo: Repository, ids: string[]): Iterable<{ ids: string[]; bytes: number }> {
  const located = ids.map((id) => ({ id, at: repo.locate(id) as NonNullable<ReturnType<Repository['locate']>> }));
  located.sort((a, b) => (a.at.pack < b.at.pack ? -1 : a.at.pack > b.at.pack ? 1 : a.at.offset - b.at.offset));
  let group: string[] = [];
  let bytes = 0;
  for (const { id, at } of located) {
    // A group's memory is its plaintext (compressed text may be a fifth of it in the pack).
    const size = Math.max(at.length, at.rawLength);
    if (group.length > 0 && bytes + size > GROUP_BYTES) {
      yield { ids: group, bytes };
      group = [];
      bytes = 0;
    }
    group.push(id);
    bytes += size;
  }
  if (group.length > 0) yield { ids: group, bytes };
}
