// Backs up a folder of this machine into a snapshot and restores a snapshot into a folder:
// what the `holdfast repo backup|restore` commands, the crash tests and the benchmark use.
// Item keys are relative POSIX paths; folders end with '/', so the depth-first walk below, which
// orders siblings the same way, yields keys in the tree's order and the parent snapshot can be
// read alongside in one pass (files whose size, mode and mtime are unchanged are carried over
// without being read).

import type { Stats } from 'node:fs';
import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, lstat, mkdir, opendir, readdir, readFile, readlink, realpath, symlink, utimes } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Repository } from './repository.ts';
import { SnapshotReader } from './snapshot-reader.ts';
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
/** Sizes of the files being read at once (a large file counts up to this much). */
const FILE_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

/** Big reads for big files (fewer chunk copies), small ones for small files (no 4 MiB buffer per note). */
function readBufferFor(size: number): number {
  return Math.min(4 * 1024 * 1024, Math.max(64 * 1024, size + 1));
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
          old?.mode === meta.mode;
        if (unchanged) {
          await writer.carryOver(entry.key);
          carried++;
          continue;
        }
        const item = { key: entry.key, kind: 'file', meta: { ...meta, ...identity } };
        await window.submit(Math.min(info.size, FILE_BYTES_IN_FLIGHT), async () => {
          // Small files are read in one call (and kept inline when tiny); large ones are streamed.
          const content =
            info.size <= SMALL_FILE
              ? await readFile(entry.path)
              : createReadStream(entry.path, { highWaterMark: readBufferFor(info.size) });
          await writer.add(item, content);
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

/** Restores every item of a snapshot under `target` (which should be empty); returns the item count. */
export async function restoreSnapshot(repo: Repository, snapshotId: string, target: string): Promise<number> {
  const reader = await SnapshotReader.open(repo, snapshotId);
  const root = resolve(target);
  await mkdir(root, { recursive: true });
  if ((await readdir(root)).length > 0) throw new Error(`restore target ${root} is not empty`);
  const realRoot = await realpath(root);
  const folders: { path: string; meta: FileMeta }[] = [];
  // Paths restored as symlinks: nothing may be restored beneath them (it would land elsewhere).
  const links = new Set<string>();
  const window = new WorkWindow(FILE_CONCURRENCY, FILE_BYTES_IN_FLIGHT);
  let count = 0;
  for await (const item of reader.items()) {
    const rel = item.key.endsWith('/') ? item.key.slice(0, -1) : item.key;
    const segments = rel.split('/');
    const path = resolve(root, ...segments);
    const outside = () => new Error(`refusing to restore ${JSON.stringify(item.key)} outside ${root}`);
    if (!path.startsWith(root + sep) || segments.some((s) => s === '..' || s === '.' || s === '')) throw outside();
    if (segments.some((_, i) => links.has(segments.slice(0, i + 1).join('/')))) throw outside();
    // Defence in depth: the folder it goes into must really be inside the target.
    const parent = await realpath(dirname(path)).catch(() => undefined);
    if (parent !== undefined && parent !== realRoot && !parent.startsWith(realRoot + sep)) throw outside();
    const meta = (item.meta ?? {}) as Partial<FileMeta>;
    if (item.kind === 'folder') {
      await mkdir(path, { recursive: true });
      if (meta.mode !== undefined && meta.mtimeMs !== undefined) folders.push({ path, meta: meta as FileMeta });
    } else if (item.kind === 'symlink') {
      await symlink(String(meta.target ?? ''), path);
      links.add(rel);
    } else {
      // Files are written several at a time; their folders were created before them (tree order).
      await window.submit(Math.min(item.size, FILE_BYTES_IN_FLIGHT), async () => {
        await pipeline(reader.content(item), createWriteStream(path, { flags: 'wx' }));
        if (meta.mode !== undefined) await chmod(path, meta.mode);
        if (meta.mtimeMs !== undefined) await utimes(path, new Date(meta.mtimeMs), new Date(meta.mtimeMs));
      });
    }
    count++;
  }
  await window.drain();
  // Folders last, deepest first: writing their children changed their times. Never through a link.
  for (const f of folders.reverse()) {
    if (!(await lstat(f.path)).isDirectory()) continue;
    await chmod(f.path, f.meta.mode);
    await utimes(f.path, new Date(f.meta.mtimeMs), new Date(f.meta.mtimeMs));
  }
  return count;
}
