// Backs up a folder of this machine into a snapshot and restores a snapshot into a folder:
// what the `holdfast repo backup|restore` commands, the crash tests and the benchmark use.
// Item keys are relative POSIX paths; folders end with '/', so the depth-first walk below, which
// orders siblings the same way, yields keys in the tree's order and the parent snapshot can be
// read alongside in one pass (files whose size, mode and mtime are unchanged are carried over
// without being read).

import {
  type BigIntStats,
  closeSync,
  constants,
  type Dirent,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
} from 'node:fs';
import { open, readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { releaseBuffer } from './buffers.ts';
import { decodeName, displayName, encodePath } from './raw-names.ts';
import type { Repository } from './repository.ts';
import { snapshotItems } from './snapshot-state.ts';
import { SnapshotWriter } from './snapshot-writer.ts';
import type { ItemEntry } from './tree.ts';
import { WorkWindow } from './work-window.ts';
import { readXattrs, type Xattrs } from './xattrs.ts';

/**
 * What a folder backup keeps of an item (see docs/REPOSITORY.md, "Folder backups"). Every field
 * but mode and mtimeMs is optional: snapshots written before it existed still restore.
 */
export interface FileMeta {
  mode: number;
  /** Whole milliseconds (floor): what older snapshots have; mtimeNs is exact. */
  mtimeMs: number;
  /** Nanoseconds since the epoch, as a decimal string. */
  mtimeNs?: string;
  uid?: number;
  gid?: number;
  /** Change time and inode: a file replaced with its size and mtime preserved still differs here. */
  ctimeMs?: number;
  ino?: number;
  /** A file with several names (hard links): its link count and device, with ino naming the file. */
  links?: number;
  dev?: number;
  /** The file has holes (fewer blocks allocated than its size): restored with holes. */
  sparse?: true;
  /** Device number of a character or block device. */
  rdev?: number;
  /** A symlink's target, raw bytes escaped as in keys (storage/raw-names.ts). */
  target?: string;
  /** Extended attributes (name → base64 value), when the item has any (storage/xattrs.ts). */
  xattrs?: Xattrs;
}

export interface BackupResult {
  id: string;
  items: number;
  bytes: number;
  carried: number;
}

/** Item kinds of a folder backup besides file, folder and symlink: recorded with their metadata. */
export type SpecialKind = 'fifo' | 'socket' | 'chardev' | 'blockdev';
type Kind = 'file' | 'folder' | 'symlink' | SpecialKind;

type WalkEntry = { key: string; path: string | Buffer; kind: Kind; info: BigIntStats };

function kindOf(e: Dirent<Buffer>): Kind {
  if (e.isDirectory()) return 'folder';
  if (e.isSymbolicLink()) return 'symlink';
  if (e.isFile()) return 'file';
  if (e.isFIFO()) return 'fifo';
  if (e.isSocket()) return 'socket';
  return e.isCharacterDevice() ? 'chardev' : 'blockdev';
}

/**
 * Names are read as bytes: one that is not UTF-8 is kept exactly (storage/raw-names.ts).
 * Listing and `lstat` are synchronous: on a folder of small files a thread-pool round trip per
 * item (submit, wake a pool thread, callback, promise) cost the main thread several times the
 * system call itself, and the main thread is what limits such a backup (bench/README.md).
 */
async function* walk(root: string, prefix = ''): AsyncIterable<WalkEntry> {
  // Node returns Buffer names for encoding 'buffer' (its typings only list text encodings).
  const dirents = readdirSync(encodePath(join(root, prefix)), {
    withFileTypes: true,
    encoding: 'buffer' as BufferEncoding,
  }) as unknown as Dirent<Buffer>[];
  const entries: { name: string; sortKey: string; kind: Kind }[] = [];
  for (const e of dirents) {
    const name = decodeName(e.name);
    const kind = kindOf(e);
    entries.push({ name, sortKey: kind === 'folder' ? `${name}/` : name, kind });
  }
  entries.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  for (const e of entries) {
    const path = encodePath(join(root, prefix, e.name));
    const key = `${prefix}${e.sortKey}`;
    yield { key, path, kind: e.kind, info: lstatSync(path, { bigint: true }) };
    if (e.kind === 'folder') yield* walk(root, key);
  }
}

/** Whole milliseconds, rounded down (also before 1970). */
function floorMs(ns: bigint): number {
  const ms = ns / 1_000_000n;
  return Number(ns < 0n && ms * 1_000_000n !== ns ? ms - 1n : ms);
}

/** The metadata every item keeps, and what a kind adds. */
function metaOf(kind: Kind, info: BigIntStats): FileMeta {
  const meta: FileMeta = {
    mode: Number(info.mode) & 0o7777,
    mtimeMs: floorMs(info.mtimeNs),
    mtimeNs: String(info.mtimeNs),
    uid: Number(info.uid),
    gid: Number(info.gid),
  };
  if (kind === 'file') {
    if (info.nlink > 1n) {
      meta.links = Number(info.nlink);
      meta.dev = Number(info.dev);
    }
    if (info.blocks * 512n < info.size) meta.sparse = true;
  } else if (kind === 'chardev' || kind === 'blockdev') meta.rdev = Number(info.rdev);
  return meta;
}

const FILE_CONCURRENCY = 32;
/** The item list's memory before it spills (the writer's default is 24 MiB, for unordered input). */
const SORT_MEMORY_BYTES = 2 * 1024 * 1024;
/** Files up to this size are read whole rather than streamed. */
const SMALL_FILE = 1024 * 1024;
/**
 * Sizes of the files being read at once (a large file counts up to this much: its reading buffer,
 * the chunk being cut and the chunks being stored, see SnapshotWriter).
 */
const FILE_BYTES_IN_FLIGHT = 16 * 1024 * 1024;
/** A large file is read in pieces of this size into one buffer, reused for every piece. */
const READ_BYTES = 2 * 1024 * 1024;

/**
 * A file's content in pieces read into one reused buffer: the chunker copies what it keeps
 * (storage/chunker.ts), so reading a file of any size leaves no garbage behind.
 */
async function* readPieces(path: string | Buffer): AsyncIterable<Uint8Array> {
  const handle = await open(path, 'r');
  const buf = Buffer.allocUnsafeSlow(READ_BYTES);
  try {
    for (;;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
    releaseBuffer(buf);
  }
}

/**
 * A small file's content as `lstat` sized it: open, read, close, synchronously. Through the
 * thread pool (callback API) each file cost three round trips of main-thread work, more than the
 * reading itself (bench/README.md). A file that grew since is read up to its listed size (the
 * metadata stored with it); one that shrank, up to its end.
 */
function readSmallFile(path: string | Buffer, size: number, into: Buffer): Buffer {
  // Non-blocking: a file replaced by a FIFO since the walk reads as empty instead of hanging.
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const buf = into.subarray(0, size);
    let at = 0;
    while (at < size) {
      const n = readSync(fd, buf, at, size - at, at);
      if (n === 0) break;
      at += n;
    }
    return at === size ? buf : buf.subarray(0, at);
  } finally {
    closeSync(fd);
  }
}

export async function backupDirectory(
  repo: Repository,
  root: string,
  options: {
    task: string;
    entity: string;
    parent?: string | undefined;
    tags?: string[];
    /** An item whose extended attributes could not be read, and why (the backup goes on; default: stderr). */
    onWarning?: (message: string) => void;
  },
): Promise<BackupResult> {
  // Never silent: without a listener, warnings go to stderr (as the repository's own do).
  const warn = options.onWarning ?? ((message: string) => process.stderr.write(`warning: ${message}\n`));
  const writer = new SnapshotWriter(repo, {
    task: options.task,
    entity: options.entity,
    ...(options.parent ? { parent: options.parent } : {}),
    ...(options.tags ? { tags: options.tags } : {}),
    // The walk yields items in key order, so the item list is spilled and read back as it came
    // (storage/external-sort.ts): a small budget costs no merge, and the list (small files' inline
    // contents among it) no longer fills the heap.
    sortMemoryBytes: SORT_MEMORY_BYTES,
  });
  const parent = options.parent
    ? snapshotItems(repo, await repo.loadSnapshot(options.parent))[Symbol.asyncIterator]()
    : undefined;
  let p = parent ? await parent.next() : undefined;
  let carried = 0;
  // Large files are read and stored several at once (small ones in turn, below).
  const window = new WorkWindow(FILE_CONCURRENCY, FILE_BYTES_IN_FLIGHT);
  const smallFiles = Buffer.allocUnsafeSlow(SMALL_FILE);
  try {
    for await (const entry of walk(resolve(root))) {
      while (p && !p.done && p.value.key < entry.key) p = await (parent as AsyncIterator<ItemEntry>).next();
      const before = p && !p.done && p.value.key === entry.key ? p.value : undefined;
      const { info } = entry;
      const meta = metaOf(entry.kind, info);
      const { xattrs, problem } = readXattrs(entry.path, entry.kind === 'folder');
      if (xattrs) meta.xattrs = xattrs;
      if (problem) warn(`${displayName(entry.key)}: extended attributes not read: ${problem}`);
      const size = Number(info.size);
      if (entry.kind === 'file') {
        const identity = { ctimeMs: floorMs(info.ctimeNs), ino: Number(info.ino) };
        const old = before?.meta as FileMeta | undefined;
        // Entries of older snapshots lack mtimeNs: read those files once more to record it.
        const unchanged =
          before?.kind === 'file' &&
          before.size === size &&
          old?.mtimeNs === meta.mtimeNs &&
          old?.ctimeMs === identity.ctimeMs &&
          old?.ino === identity.ino &&
          old?.mode === meta.mode &&
          old?.links === meta.links &&
          old?.sparse === meta.sparse &&
          // (A change of attributes changes the ctime; entries of older snapshots lack them.)
          (old?.xattrs === undefined) === (meta.xattrs === undefined) &&
          // Content the repository is known to have lost is read from the folder again.
          !before.content?.some((blob) => repo.isKnownDamaged(blob));
        if (unchanged) {
          await writer.carryOver(entry.key);
          carried++;
          continue;
        }
        const item = { key: entry.key, kind: 'file', meta: { ...meta, ...identity } };
        if (size > 0 && size <= SMALL_FILE) {
          // One at a time, into the one buffer: stored (sealed, chunked or inlined: copied) before
          // the next is read. Reading is synchronous, so reading several at once would gain nothing.
          await writer.add(item, readSmallFile(entry.path, size, smallFiles));
          continue;
        }
        await window.submit(Math.min(size, FILE_BYTES_IN_FLIGHT), async () => {
          // Large files are streamed, several at once.
          if (size > 0) return writer.add(item, readPieces(entry.path));
          // An empty listing may still have content (procfs-like files): read those to their end.
          const content = await readFile(entry.path);
          await writer.add(item, content);
          releaseBuffer(content); // stored (copied into chunks or inline): free it now
        });
      } else if (entry.kind === 'symlink') {
        const target = decodeName(await readlink(entry.path, { encoding: 'buffer' }));
        await writer.add({ key: entry.key, kind: 'symlink', meta: { ...meta, target } });
      } else {
        // Folders, and FIFOs, sockets and devices: their metadata is all there is.
        await writer.add({ key: entry.key, kind: entry.kind, meta: { ...meta } });
      }
    }
    await window.drain();
    const { id, manifest } = await writer.commit({ carried });
    return { id, items: manifest.stats.items, bytes: manifest.stats.bytes, carried };
  } catch (err) {
    await window.drain().catch(() => undefined);
    await writer.abort();
    throw err;
  } finally {
    releaseBuffer(smallFiles);
  }
}

export { restoreSnapshot } from './restore.ts';
