// Restores a snapshot into a folder. Content is read in pack order, not file by file: the blobs
// wanted by the next few hundred files (or tens of MiB) are sorted by pack and offset, so
// neighbours — a large file's chunks, many small files stored together — come in one ranged read,
// and each plaintext is written straight to its place in its file (positional writes, so files
// fill in any order). Memory: the groups being read, not the files.
// Damage costs only what it holds: a file is written under a temporary name in its folder and
// renamed when complete, so an unreadable blob (or a crash) never leaves a truncated file under
// the real name; the failed items are listed and the rest is restored. `resume` continues an
// interrupted restore, keeping the files already complete. Each file gets its owner, mode,
// nanosecond mtime and (sparse files) holes under its temporary name, before the rename; hard links
// are made to the completed files, folders' metadata last (restore-meta.ts: the file-system side).
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  open as openFd,
  realpathSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { link, lstat, mkdir, open, readdir, readFile, readlink, realpath, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { releaseBuffer } from './buffers.ts';
import { blobIdAsync } from './crypto.ts';
import { contentLengths, describeRange, isDamage, itemsPastDamage, readPastDamage } from './damaged-items.ts';
import type { FileMeta, SpecialKind } from './filesystem.ts';
import { displayName, encodePath } from './raw-names.ts';
import type { Repository } from './repository.ts';
import {
  applyToFd,
  applyToPath,
  creationMode,
  makeSpecial,
  makeTarget,
  type TargetFiles,
  writeContent,
  writeError,
  type XattrRefused,
} from './restore-meta.ts';
import { SnapshotReader } from './snapshot-reader.ts';
import type { ItemEntry } from './tree.ts';
import { WorkWindow } from './work-window.ts';
import { dropDefaultAcl, writeXattrs } from './xattrs.ts';

export interface RestoreOptions {
  /** Continue an interrupted restore into the same folder: files already complete are kept. */
  resume?: boolean;
  /** An item that is not restored (a socket; a device node without root), and why. */
  onSkipped?: (message: string) => void;
  /** An extended attribute the target refused (the item is restored without it), and why; default: stderr. */
  onXattrRefused?: (message: string) => void;
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

/**
 * Where a file is written until it is complete: its own folder, so the rename is atomic. The tag
 * hashes the name's bytes (raw-names.ts), so names differing only in bytes that are not UTF-8 differ.
 */
export function partialPath(path: string): string {
  const tag = createHash('sha256')
    .update(encodePath(basename(path)))
    .digest('hex')
    .slice(0, 16);
  return join(dirname(path), `.holdfast-restore-${tag}`);
}

/** Content queued before it is sorted into pack order and read. */
const PLAN_BYTES = 48 * 1024 * 1024;
const PLAN_TARGETS = 512;
/** One read job: blobs of up to this many bytes, stored or plain (one or a few ranged reads). */
const GROUP_BYTES = 2 * 1024 * 1024;
/** Read jobs at once, and their bytes: bounds restore memory. */
const GROUPS_IN_FLIGHT = 3;
const BYTES_IN_FLIGHT = 8 * 1024 * 1024;
/**
 * Files created ahead of their content and not yet finished: file descriptors held. (The queued
 * plan and the groups in flight hold a few hundred at most; this bounds a plan of tiny files.)
 * 256 keeps the thread pool's four threads busy creating; 1024 held ~5 MiB more at the peak
 * (pending files, their inline content and callbacks) and queued the pack reads behind more
 * creates in the same pool (bench/README.md).
 */
const MAX_OPEN_FILES = 256;

/** Item kinds made by makeSpecial. */
const SPECIAL_KINDS: ReadonlySet<string> = new Set<SpecialKind>(['fifo', 'socket', 'chardev', 'blockdev']);

/** What every file of one restore shares: whether it resumes, the target's defaults, where failures go. */
interface RestoreRun {
  resume: boolean;
  files: TargetFiles;
  onFailed: (failed: FailedItem) => void;
  /** Where an item's refused extended attributes are reported. */
  refused: (key: string) => XattrRefused;
  /** Partial files created or being created, not yet finished. */
  openFiles: OpenFiles;
}

/**
 * Counts the partial files held open, so a restore can wait for room (MAX_OPEN_FILES). A queue
 * of waiters rather than Promise.race over the files: each race adds a reaction to every
 * promise raced, which on tens of thousands of small files doubled the restore's CPU time.
 */
class OpenFiles {
  count = 0;
  readonly #waiters: (() => void)[] = [];

  opened(): void {
    this.count++;
  }

  closed(): void {
    this.count--;
    if (this.count < MAX_OPEN_FILES) this.#waiters.shift()?.();
  }

  /** Settles once fewer than MAX_OPEN_FILES are open. */
  async room(): Promise<void> {
    while (this.count >= MAX_OPEN_FILES) await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }
}

/**
 * A file being restored. Its partial file is created in the thread pool as soon as the file is
 * planned (`create`), ahead of its content: creating a file is the costliest call of a small-file
 * restore (the file system looks for a free inode; on ext4 without a journal it skips every inode
 * freed in the last ~30 s, one buffer lookup each, so after other deletions a create can cost a
 * millisecond), and in the pool several run at once, on other cores, while this thread decodes.
 * Its other calls — the writes, then owner, mode, times, close and the rename to its real name
 * after its last part (or, when a part failed, the removal) — are synchronous: each is cheap, and
 * as thread-pool round trips (a wake-up of a pool thread and a callback each) they cost more CPU
 * than the calls themselves (bench/README.md).
 */
class RestoredFile {
  readonly key: string;
  readonly path: string;
  readonly meta: Partial<FileMeta>;
  readonly size: number;
  #remaining: number;
  #fd: number | undefined;
  #opening: Promise<void> | undefined;
  #failure: string | undefined;
  readonly #run: RestoreRun;

  constructor(key: string, path: string, meta: Partial<FileMeta>, parts: number, size: number, run: RestoreRun) {
    this.key = key;
    this.path = path;
    this.meta = meta;
    this.size = size;
    this.#remaining = parts;
    this.#run = run;
  }

  /** The partial name (it hashes the name: worked out once). */
  #partialName: string | Buffer | undefined;

  #partial(): string | Buffer {
    this.#partialName ??= encodePath(partialPath(this.path));
    return this.#partialName;
  }

  /**
   * Creates the partial file (with its final mode where it can) in the thread pool; settles
   * when it is open. Every part waits for it (`opened`).
   */
  create(folder?: Promise<void>): Promise<void> {
    if (this.#opening) return this.#opening;
    const partial = this.#partial();
    // A partial file left by an interrupted run is replaced (never followed, if it is a link): a
    // new file, so a sparse file's skipped blocks are holes.
    if (this.#run.resume) rmSync(partial, { force: true });
    this.#run.openFiles.opened();
    const open = () =>
      new Promise<void>((resolve, reject) => {
        openFd(partial, 'wx', creationMode(this.meta, this.#run.files), (err, fd) => {
          if (err) reject(writeError(err, this.path));
          else {
            this.#fd = fd;
            resolve();
          }
        });
      });
    // (After its folder, when that is still being made.)
    this.#opening = (folder ? folder.then(open) : open()).catch((err: unknown) => {
      this.#run.openFiles.closed();
      throw err;
    });
    return this.#opening;
  }

  /** True once the partial file is open (or creating it failed): parts can be written now. */
  get isOpen(): boolean {
    return this.#fd !== undefined;
  }

  /** Settles when the partial file is open (or creating it failed). */
  opened(): Promise<void> {
    return this.#opening ?? Promise.reject(new Error(`restore: ${displayName(this.path)} was never created`));
  }

  /** Writes one part at its position (the file must be open); the last part finishes the file. */
  write(data: Buffer, position: number): void {
    if (this.#failure === undefined) {
      try {
        writeContent(this.#openFd(), data, position, this.meta.sparse === true);
      } catch (err) {
        throw writeError(err, this.path);
      }
    }
    if (--this.#remaining === 0) this.finish();
  }

  /** One part cannot be read: the file is not restored (the other parts still count down). */
  fail(reason: string): void {
    if (this.#failure === undefined) {
      this.#failure = reason;
      this.#run.onFailed({ key: this.key, reason });
    }
    if (--this.#remaining === 0) this.finish();
  }

  #openFd(): number {
    if (this.#fd === undefined) throw new Error(`restore: ${displayName(this.path)} written before it was created`);
    return this.#fd;
  }

  /**
   * Sets owner, mode and times (through the open file), closes the file and gives it its real
   * name (a rename keeps the file's mtime).
   */
  finish(): void {
    const partial = this.#partial();
    const fd = this.#openFd();
    this.#fd = undefined;
    this.#run.openFiles.closed();
    if (this.#failure !== undefined) {
      closeSync(fd);
      rmSync(partial, { force: true });
      return;
    }
    try {
      try {
        // A sparse file's trailing hole was never written.
        if (this.meta.sparse) ftruncateSync(fd, this.size);
        applyToFd(fd, this.meta, this.#run.files);
        // (By the partial name: plain text, whatever the real name, see storage/xattrs.ts.)
        if (this.meta.xattrs) writeXattrs(partial, this.meta.xattrs, false, this.#run.refused(this.key));
      } finally {
        closeSync(fd);
      }
      renameSync(partial, encodePath(this.path));
    } catch (err) {
      throw writeError(err, this.path);
    }
  }
}

interface Target {
  file: RestoredFile;
  position: number;
  length: number;
}

/**
 * Restores every item of a snapshot under `target` (which must be empty or new, unless resuming).
 * Items the repository cannot read are skipped and listed in the result; items the target cannot
 * hold (a socket; a device node without root) are reported to `onSkipped`; everything else is
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
  const files = await makeTarget(root);
  if (!resume && (await readdir(root)).length > 0) throw new Error(`restore target ${root} is not empty`);
  const realRoot = await realpath(root);
  const folders: { key: string; path: string; meta: FileMeta }[] = [];
  // Paths restored as symlinks: nothing may be restored beneath them (it would land elsewhere).
  const links = new Set<string>();
  // Hard links: the first name restored of each file (by device and inode), and the later names.
  const inodes = new Map<string, { key: string; path: string }>();
  const hardLinks: { key: string; path: string; first: { key: string; path: string } }[] = [];
  // Folders whose real path was checked to be inside the target (they are created by us, in order).
  const checked = new Set<string>([root]);
  const reads = new WorkWindow(GROUPS_IN_FLIGHT, BYTES_IN_FLIGHT);
  const failed: FailedItem[] = [];
  let failedFiles = 0;
  const run: RestoreRun = {
    resume,
    files,
    onFailed: (f: FailedItem) => {
      failed.push(f);
      failedFiles++;
    },
    // Never silent: without a listener, to stderr (as the repository's own warnings).
    refused: (key) => (name, why) =>
      (options.onXattrRefused ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(
        `${displayName(key)}: extended attribute ${name} not restored: ${why}`,
      ),
    openFiles: new OpenFiles(),
  };
  // Work started in the thread pool and not awaited where it starts — folders being made, files
  // whose content is in their entry being created (each written and finished once open) — and
  // the first error of any.
  const background = new Set<Promise<void>>();
  let backgroundFailure: { error: unknown } | undefined;
  const inBackground = (work: Promise<void>) => {
    const done: Promise<void> = work
      .catch((error: unknown) => {
        backgroundFailure ??= { error };
      })
      .finally(() => background.delete(done));
    background.add(done);
  };
  // Folders being made (by path; a file or folder in one is created once it exists): a folder is
  // new in a new restore, so made in the thread pool like the files, not on this thread.
  const makingFolders = new Map<string, Promise<void>>();
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
        // Files created ahead are almost always open by now; the rest are waited for.
        const creating: Promise<void>[] = [];
        for (const id of group.ids)
          for (const t of wanted.get(id) ?? []) if (!t.file.isOpen) creating.push(t.file.opened());
        if (creating.length > 0) await Promise.all(creating);
        group.ids.forEach((id, i) => {
          const plain = plains[i] as Buffer | Error;
          for (const t of wanted.get(id) ?? []) {
            if (plain instanceof Error) t.file.fail(plain.message);
            else if (plain.length === t.length) t.file.write(plain, t.position);
            else t.file.fail(`blob ${id} holds ${plain.length} bytes, the index says ${t.length}`);
          }
        });
        // Written everywhere it goes: free it now rather than at some later collection.
        for (const plain of plains) if (!(plain instanceof Error)) releaseBuffer(plain);
      });
    }
  };

  // Too many files open: every open file's content is queued or being read; read it, let them finish.
  const makeRoom = async () => {
    if (run.openFiles.count < MAX_OPEN_FILES) return;
    await readQueued();
    await run.openFiles.room();
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
        // Its folder's own item may have been in a damaged tree node: create it then.
        if (item.kind !== 'folder') mkdirSync(encodePath(parentDir), { recursive: true });
        const real = realFolder(encodePath(parentDir));
        if (real !== undefined && real !== realRoot && !real.startsWith(realRoot + sep)) throw outside();
        if (real !== undefined) checked.add(parentDir);
      }
      const meta = (item.meta ?? {}) as Partial<FileMeta>;
      // Links and special files are made here: their folder must exist first.
      if (item.kind === 'symlink' || SPECIAL_KINDS.has(item.kind)) await makingFolders.get(parentDir);
      const linkKey =
        item.kind === 'file' && (meta.links ?? 0) > 1 && meta.ino !== undefined ? `${meta.dev}:${meta.ino}` : undefined;
      const firstName = linkKey === undefined ? undefined : inodes.get(linkKey);
      if (linkKey !== undefined && firstName === undefined) inodes.set(linkKey, { key: item.key, path });
      if (item.kind === 'folder' && !resume && checked.has(parentDir)) {
        // New, in a folder known to be inside the target (made by this restore, or the target):
        // made by this restore, so inside too (mkdir never follows a link).
        const parent = makingFolders.get(parentDir);
        const making = (parent ? parent.then(() => mkdir(encodePath(path))) : mkdir(encodePath(path))).then(
          () => undefined,
        );
        makingFolders.set(path, making);
        checked.add(path);
        inBackground(making.finally(() => makingFolders.delete(path)));
        if (meta.mode !== undefined && meta.mtimeMs !== undefined)
          folders.push({ key: item.key, path, meta: meta as FileMeta });
      } else if (item.kind === 'folder') {
        mkdirSync(encodePath(path), { recursive: true });
        // An interrupted run may have set a folder's final (perhaps read-only) mode already, and
        // its default ACL, which the files written now would inherit.
        if (resume) {
          chmodSync(encodePath(path), (meta.mode ?? 0o755) | 0o700);
          if (meta.xattrs?.['system.posix_acl_default'] !== undefined) dropDefaultAcl(encodePath(path));
        }
        if (meta.mode !== undefined && meta.mtimeMs !== undefined)
          folders.push({ key: item.key, path, meta: meta as FileMeta });
      } else if (item.kind === 'symlink') {
        const linkTarget = encodePath(String(meta.target ?? ''));
        const existing = resume ? await lstat(encodePath(path)).catch(() => undefined) : undefined;
        if (
          existing?.isSymbolicLink() &&
          (await readlink(encodePath(path), { encoding: 'buffer' })).equals(Buffer.from(linkTarget))
        )
          kept++;
        else {
          if (existing) await rm(encodePath(path));
          await symlink(linkTarget, encodePath(path));
        }
        applyToPath(encodePath(path), meta, 'symlink', run.refused(item.key));
        links.add(rel);
      } else if (SPECIAL_KINDS.has(item.kind)) {
        // (Resuming, one made before is replaced: the rename into place replaces it.)
        const why = await makeSpecial(encodePath(path), item.kind as SpecialKind, meta, root, run.refused(item.key));
        if (why) {
          options.onSkipped?.(`${displayName(item.key)}: not restored: ${why}`);
          continue;
        }
      } else if (firstName !== undefined) {
        // Another name of a file already restored: linked to the complete file at the end.
        hardLinks.push({ key: item.key, path, first: firstName });
      } else if (!item.content?.length) {
        // Inline or empty content: one small write.
        const data = item.inline !== undefined ? Buffer.from(item.inline, 'base64') : Buffer.alloc(0);
        if (resume && (await completeInline(path, data))) kept++;
        else {
          const file = new RestoredFile(item.key, path, meta, 1, item.size, run);
          if (backgroundFailure) throw backgroundFailure.error;
          await makeRoom();
          inBackground(file.create(makingFolders.get(parentDir)).then(() => file.write(data, 0)));
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
        await makeRoom();
        const file = new RestoredFile(item.key, path, meta, item.content.length, item.size, run);
        // Its creation's failure (a target error) surfaces where its content is written.
        file.create(makingFolders.get(parentDir)).catch(() => undefined);
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
  } catch (err) {
    // Never leave work running past a failure (partial files are the next --resume's to replace).
    await reads.settle();
    await Promise.all(background);
    // A folder that could not be made (full disk, permissions) says more than its files' ENOENT.
    throw backgroundFailure?.error ?? err;
  }
  await reads.settle();
  await Promise.all(background);
  if (backgroundFailure) throw backgroundFailure.error;
  await reads.drain();
  for (const l of hardLinks) {
    const result = await linkName(l.first.path, l.path, resume);
    if (result === 'kept') kept++;
    // Its content is that of a file that could not be restored.
    else if (result === 'missing') run.onFailed({ key: l.key, reason: `a hard link to ${displayName(l.first.key)}` });
  }
  // Folders last, deepest first: writing their children changed their times. Never through a link.
  for (const f of folders.reverse()) {
    const path = encodePath(f.path);
    if (!lstatSync(path).isDirectory()) continue;
    applyToPath(path, f.meta, 'folder', run.refused(f.key));
  }
  failed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return { items: count - failedFiles, kept, failed };
}

/**
 * Makes `path` another name of the complete file `existing`: 'missing' when that file was not
 * restored (damaged), 'kept' when resuming finds the link already made.
 */
async function linkName(existing: string, path: string, resume: boolean): Promise<'linked' | 'kept' | 'missing'> {
  const from = encodePath(existing);
  const to = encodePath(path);
  const first = await lstat(from).catch(() => undefined);
  if (!first?.isFile()) return 'missing';
  if (resume) {
    const now = await lstat(to).catch(() => undefined);
    if (now?.ino === first.ino && now.dev === first.dev) return 'kept';
    // An earlier run's copy or link of a file rewritten since.
    if (now) await rm(to);
  }
  await link(from, to);
  return 'linked';
}

/** A file left by an earlier run under its real name (so complete then) that still matches. */
async function completeInline(path: string, data: Buffer): Promise<boolean> {
  const info = await lstat(encodePath(path)).catch(() => undefined);
  if (!info?.isFile() || info.size !== data.length) return false;
  return (await readFile(encodePath(path))).equals(data);
}

/** Same, for content in blobs: size, then every chunk's keyed hash against its blob id. */
async function completeContent(repo: Repository, path: string, item: ItemEntry, lengths: number[]): Promise<boolean> {
  const info = await lstat(encodePath(path)).catch(() => undefined);
  if (!info?.isFile() || info.size !== item.size) return false;
  const handle = await open(encodePath(path), 'r');
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

/** The real path of a folder, or undefined when there is none (a damaged tree node left it out). */
function realFolder(path: Buffer | string): string | undefined {
  try {
    return realpathSync.native(path, 'utf8');
  } catch {
    return undefined;
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
