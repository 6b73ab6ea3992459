// Restores a snapshot into a folder. Content is read in pack order, not file by file: the blobs
// wanted by the next few hundred files (or tens of MiB) are sorted by pack and offset, so
// neighbours — a large file's chunks, many small files stored together — come in one ranged read,
// and each plaintext is written straight to its place in its file (positional writes, so files
// fill in any order). Memory: the groups being read, not the files.
import { type FileHandle, link, lstat, mkdir, open, readdir, realpath, symlink } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import { releaseBuffer } from './buffers.ts';
import { IntegrityError } from './crypto.ts';
import type { FileMeta, SpecialKind } from './filesystem.ts';
import { displayName, encodePath } from './raw-names.ts';
import type { Repository } from './repository.ts';
import {
  applyToHandle,
  applyToPath,
  creationMode,
  makeSpecial,
  makeTarget,
  type TargetFiles,
  writeContent,
  writeError,
} from './restore-meta.ts';
import { SnapshotReader } from './snapshot-reader.ts';
import { WorkWindow } from './work-window.ts';

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

/** A file being restored: opened on its first write, finished (mode, times, close) after its last. */
class RestoredFile {
  readonly path: string;
  readonly meta: Partial<FileMeta>;
  readonly size: number;
  readonly files: TargetFiles;
  #remaining: number;
  #handle: Promise<FileHandle> | undefined;

  constructor(path: string, meta: Partial<FileMeta>, parts: number, size: number, files: TargetFiles) {
    this.path = path;
    this.meta = meta;
    this.size = size;
    this.files = files;
    this.#remaining = parts;
  }

  #open(): Promise<FileHandle> {
    this.#handle ??= open(encodePath(this.path), 'wx', creationMode(this.meta, this.files));
    return this.#handle;
  }

  /** Writes one part at its position; the last part finishes the file. */
  async write(data: Buffer, position: number): Promise<void> {
    try {
      await writeContent(await this.#open(), data, position, this.meta.sparse === true);
    } catch (err) {
      throw writeError(err, this.path);
    }
    if (--this.#remaining === 0) await this.finish();
  }

  /** Sets owner, mode and times (through the open handle) and closes the file. */
  async finish(): Promise<void> {
    const handle = await this.#open().catch((err) => {
      throw writeError(err, this.path);
    });
    try {
      // A sparse file's trailing hole was never written.
      if (this.meta.sparse) await handle.truncate(this.size);
      await applyToHandle(handle, this.meta, this.files);
    } catch (err) {
      throw writeError(err, this.path);
    } finally {
      await handle.close();
    }
  }
}

interface Target {
  file: RestoredFile;
  position: number;
  length: number;
}

export interface RestoreOptions {
  /** An item that is not restored (a socket; a device node without root), and why. */
  onSkipped?: (message: string) => void;
}

/** Item kinds made by makeSpecial. */
const SPECIAL_KINDS: ReadonlySet<string> = new Set<SpecialKind>(['fifo', 'socket', 'chardev', 'blockdev']);

/**
 * Restores every item of a snapshot under `target` (which must be empty or new); returns the
 * count of items restored (those not restored are reported to `onSkipped`).
 */
export async function restoreSnapshot(
  repo: Repository,
  snapshotId: string,
  target: string,
  options: RestoreOptions = {},
): Promise<number> {
  const reader = await SnapshotReader.open(repo, snapshotId);
  await repo.loadIndex();
  const root = resolve(target);
  const files = await makeTarget(root);
  if ((await readdir(root)).length > 0) throw new Error(`restore target ${root} is not empty`);
  const realRoot = await realpath(root);
  const folders: { path: string; meta: FileMeta }[] = [];
  // Paths restored as symlinks: nothing may be restored beneath them (it would land elsewhere).
  const links = new Set<string>();
  // Hard links: the first path restored of each file (by device and inode), and the later names.
  const inodes = new Map<string, string>();
  const hardLinks: { existing: string; path: string }[] = [];
  // Folders whose real path was checked to be inside the target (they are created by us, in order).
  const checked = new Set<string>([root]);
  const reads = new WorkWindow(GROUPS_IN_FLIGHT, BYTES_IN_FLIGHT);
  const smallFiles = new WorkWindow(SMALL_FILE_JOBS, Number.POSITIVE_INFINITY);
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
        const plains = await repo.readBlobs(group.ids);
        const writes: Promise<void>[] = [];
        group.ids.forEach((id, i) => {
          const plain = plains[i] as Buffer;
          for (const t of wanted.get(id) ?? []) {
            writes.push(
              plain.length === t.length
                ? t.file.write(plain, t.position)
                : Promise.reject(
                    new IntegrityError(`blob ${id} holds ${plain.length} bytes, the index says ${t.length}`),
                  ),
            );
          }
        });
        await Promise.all(writes);
        // Written everywhere it goes: free it now rather than at some later collection.
        for (const plain of plains) releaseBuffer(plain);
      });
    }
  };

  let count = 0;
  try {
    for await (const item of reader.items()) {
      const rel = item.key.endsWith('/') ? item.key.slice(0, -1) : item.key;
      const segments = rel.split('/');
      const path = resolve(root, ...segments);
      const outside = () => new Error(`refusing to restore ${JSON.stringify(displayName(item.key))} outside ${root}`);
      if (!path.startsWith(root + sep) || segments.some((s) => s === '..' || s === '.' || s === '')) throw outside();
      let prefix = '';
      for (const s of segments) {
        prefix = prefix ? `${prefix}/${s}` : s;
        if (links.has(prefix)) throw outside();
      }
      // Defence in depth: the folder it goes into must really be inside the target.
      const parentDir = dirname(path);
      if (!checked.has(parentDir)) {
        const real = await realpath(encodePath(parentDir)).catch(() => undefined);
        if (real !== undefined && real !== realRoot && !real.startsWith(realRoot + sep)) throw outside();
        if (real !== undefined) checked.add(parentDir);
      }
      const meta = (item.meta ?? {}) as Partial<FileMeta>;
      const linkKey =
        item.kind === 'file' && (meta.links ?? 0) > 1 && meta.ino !== undefined ? `${meta.dev}:${meta.ino}` : undefined;
      const existing = linkKey === undefined ? undefined : inodes.get(linkKey);
      if (linkKey !== undefined && existing === undefined) inodes.set(linkKey, path);
      if (item.kind === 'folder') {
        await mkdir(encodePath(path), { recursive: true });
        if (meta.mode !== undefined && meta.mtimeMs !== undefined) folders.push({ path, meta: meta as FileMeta });
      } else if (item.kind === 'symlink') {
        await symlink(encodePath(String(meta.target ?? '')), encodePath(path));
        await applyToPath(encodePath(path), meta, true);
        links.add(rel);
      } else if (SPECIAL_KINDS.has(item.kind)) {
        const why = await makeSpecial(encodePath(path), item.kind as SpecialKind, meta, root);
        if (why) {
          options.onSkipped?.(`${displayName(item.key)}: not restored: ${why}`);
          continue;
        }
      } else if (existing !== undefined) {
        // Another name of a file already restored: linked once every file is written.
        hardLinks.push({ existing, path });
      } else if (!item.content?.length) {
        // Inline or empty content: one small write.
        const file = new RestoredFile(path, meta, 1, item.size, files);
        const data = item.inline !== undefined ? Buffer.from(item.inline, 'base64') : Buffer.alloc(0);
        await smallFiles.submit(1, () => file.write(data, 0));
      } else {
        const file = new RestoredFile(path, meta, item.content.length, item.size, files);
        let position = 0;
        for (const id of item.content) {
          const at = repo.locate(id);
          if (!at) throw new IntegrityError(`blob ${id} is not in any index`);
          const list = queued.get(id) ?? [];
          if (list.length === 0) queued.set(id, list);
          list.push({ file, position, length: at.rawLength });
          position += at.rawLength;
          queuedBytes += at.length;
          if (++queuedTargets >= PLAN_TARGETS || queuedBytes >= PLAN_BYTES) await readQueued();
        }
        if (position !== item.size)
          throw new IntegrityError(
            `${displayName(item.key)}: its blobs hold ${position} bytes, the item says ${item.size}`,
          );
      }
      count++;
    }
    await readQueued();
  } finally {
    // Never leave work running past a failure (files half written are the caller's to clean).
    await Promise.allSettled([reads.drain(), smallFiles.drain()]);
  }
  await reads.drain();
  await smallFiles.drain();
  for (const { existing, path } of hardLinks) await link(encodePath(existing), encodePath(path));
  // Folders last, deepest first: writing their children changed their times. Never through a link.
  for (const f of folders.reverse()) {
    const path = encodePath(f.path);
    if (!(await lstat(path)).isDirectory()) continue;
    await applyToPath(path, f.meta);
  }
  return count;
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
