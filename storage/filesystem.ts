// Backs up a folder of this machine into a snapshot and restores a snapshot into a folder:
// what the `holdfast repo backup|restore` commands, the crash tests and the benchmark use.
// Item keys are relative POSIX paths; folders end with '/', so the depth-first walk below, which
// orders siblings the same way, yields keys in the tree's order and the parent snapshot can be
// read alongside in one pass (files whose size, mode and mtime are unchanged are carried over
// without being read).

import type { Stats } from 'node:fs';
import { lstat, open, opendir, readFile, readlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { releaseBuffer } from './buffers.ts';
import type { Repository } from './repository.ts';
import { snapshotItems } from './snapshot-state.ts';
import { SnapshotWriter } from './snapshot-writer.ts';
import type { ItemEntry } from './tree.ts';
import { WorkWindow } from './work-window.ts';

export interface FileMeta {
  mode: number;
  mtimeMs: number;
  /** Change time and inode: a file replaced with its size and mtime preserved still differs here. */
  ctimeMs?: number;
  ino?: number;
  target?: string;
}

export interface BackupResult {
  id: string;
  items: number;
  bytes: number;
  carried: number;
}

type WalkEntry = { key: string; path: string; kind: 'file' | 'folder' | 'symlink'; info: Stats };

async function* walk(root: string, prefix = ''): AsyncIterable<WalkEntry> {
  const dir = await opendir(join(root, prefix));
  const entries: { name: string; sortKey: string; kind: 'file' | 'folder' | 'symlink' }[] = [];
  for await (const e of dir) {
    const kind = e.isDirectory() ? 'folder' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : undefined;
    if (kind) entries.push({ name: e.name, sortKey: kind === 'folder' ? `${e.name}/` : e.name, kind });
  }
  entries.sort((a, b) => (a.sortKey < b.sortKey ? -1 : a.sortKey > b.sortKey ? 1 : 0));
  // Stat a folder's entries in batches rather than one round trip at a time.
  for (let i = 0; i < entries.length; i += 64) {
    const batch = entries.slice(i, i + 64);
    const infos = await Promise.all(batch.map((e) => lstat(join(root, prefix, e.name))));
    for (let k = 0; k < batch.length; k++) {
      const e = batch[k] as (typeof batch)[number];
      const key = `${prefix}${e.sortKey}`;
      yield { key, path: join(root, prefix, e.name), kind: e.kind, info: infos[k] as Stats };
      if (e.kind === 'folder') yield* walk(root, key);
    }
  }
}

const FILE_CONCURRENCY = 32;
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
async function* readPieces(path: string): AsyncIterable<Uint8Array> {
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

export async function backupDirectory(
  repo: Repository,
  root: string,
  options: { task: string; entity: string; parent?: string | undefined; tags?: string[] },
): Promise<BackupResult> {
  const writer = new SnapshotWriter(repo, {
    task: options.task,
    entity: options.entity,
    ...(options.parent ? { parent: options.parent } : {}),
    ...(options.tags ? { tags: options.tags } : {}),
  });
  const parent = options.parent
    ? snapshotItems(repo, await repo.loadSnapshot(options.parent))[Symbol.asyncIterator]()
    : undefined;
  let p = parent ? await parent.next() : undefined;
  let carried = 0;
  // Several files are read and stored at once: small files are dominated by I/O round trips.
  const window = new WorkWindow(FILE_CONCURRENCY, FILE_BYTES_IN_FLIGHT);
  try {
    for await (const entry of walk(resolve(root))) {
      while (p && !p.done && p.value.key < entry.key) p = await (parent as AsyncIterator<ItemEntry>).next();
      const before = p && !p.done && p.value.key === entry.key ? p.value : undefined;
      const { info } = entry;
      const meta: FileMeta = { mode: info.mode & 0o7777, mtimeMs: Math.floor(info.mtimeMs) };
      const identity = { ctimeMs: Math.floor(info.ctimeMs), ino: info.ino };
      if (entry.kind === 'file') {
        const old = before?.meta as FileMeta | undefined;
        const unchanged =
          before?.kind === 'file' &&
          before.size === info.size &&
          old?.mtimeMs === meta.mtimeMs &&
          old?.ctimeMs === identity.ctimeMs &&
          old?.ino === identity.ino &&
          old?.mode === meta.mode &&
          // Content the repository is known to have lost is read from the folder again.
          !before.content?.some((blob) => repo.isKnownDamaged(blob));
        if (unchanged) {
          await writer.carryOver(entry.key);
          carried++;
          continue;
        }
        const item = { key: entry.key, kind: 'file', meta: { ...meta, ...identity } };
        await window.submit(Math.min(info.size, FILE_BYTES_IN_FLIGHT), async () => {
          // Small files are read in one call (and kept inline when tiny); large ones are streamed.
          if (info.size > SMALL_FILE) return writer.add(item, readPieces(entry.path));
          const content = await readFile(entry.path);
          await writer.add(item, content);
          releaseBuffer(content); // stored (copied into chunks or inline): free it now
        });
      } else if (entry.kind === 'symlink') {
        await writer.add({ key: entry.key, kind: 'symlink', meta: { ...meta, target: await readlink(entry.path) } });
      } else {
        await writer.add({ key: entry.key, kind: 'folder', meta: { ...meta } });
      }
    }
    await window.drain();
    const { id, manifest } = await writer.commit({ carried });
    return { id, items: manifest.stats.items, bytes: manifest.stats.bytes, carried };
  } catch (err) {
    await window.drain().catch(() => undefined);
    await writer.abort();
    throw err;
  }
}

export { restoreSnapshot } from './restore.ts';
