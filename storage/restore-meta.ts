// The file-system side of a restore: the target folder (a read-only or unwritable one named as
// such), writing content (a sparse file's without filling its holes; a failed write names its
// file), and putting metadata back (storage/filesystem.ts FileMeta says what is kept): owner (when
// running as root), mode, extended attributes, mtime (to the nanosecond as far as Node allows)
// and special files.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  constants,
  fchmodSync,
  fchownSync,
  futimesSync,
  lchownSync,
  lutimesSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { access, mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { FileMeta, SpecialKind } from './filesystem.ts';
import { displayName } from './raw-names.ts';
import { writeXattrs } from './xattrs.ts';

const run = promisify(execFile);

/** File-system errors a person can act on, in words. */
const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'it is on a read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EIO: 'input/output error',
  EFBIG: 'the file is too large for this file system',
};

/** A failed write of a restored file, naming the file (Node's write errors name no path). */
export function writeError(err: unknown, path: string): unknown {
  const reason = REASONS[(err as NodeJS.ErrnoException).code ?? ''];
  return reason ? new Error(`cannot write ${displayName(path)}: ${reason}`, { cause: err }) : err;
}

/** The first error `access(W_OK)` gives for `path` or, while it does not exist, its nearest parent. */
async function unwritable(path: string): Promise<string | undefined> {
  for (let p = path; ; p = dirname(p)) {
    try {
      await access(p, constants.W_OK);
      return undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' || dirname(p) === p) return code;
    }
  }
}

/**
 * Creates the restore target (and its parents) and checks that it can be written. Node's recursive
 * mkdir says ENOENT on a read-only file system: the reason is asked of the nearest existing folder.
 */
export async function makeTarget(root: string): Promise<TargetFiles> {
  try {
    await mkdir(root, { recursive: true });
    await access(root, constants.W_OK);
  } catch (err) {
    const reason = REASONS[(await unwritable(root)) ?? ''];
    if (reason) throw new Error(`cannot restore into ${root}: ${reason}`, { cause: err });
    throw err;
  }
  // New files get the process's ids, or the folder's group under a setgid folder (folders
  // created by the restore inherit the bit, their own modes come last).
  const info = await stat(root);
  const uid = process.geteuid?.() ?? -1;
  const gid = info.mode & 0o2000 ? info.gid : (process.getegid?.() ?? -1);
  // (Reading it: setting it is refused in worker threads.)
  return { uid, gid, umask: process.umask() };
}

/** Owners are restored only by root (anyone else could only give files away, or fail). */
const restoresOwners = process.getuid?.() === 0;

function owner(meta: Partial<FileMeta>): { uid: number; gid: number } | undefined {
  return restoresOwners && meta.uid !== undefined && meta.gid !== undefined
    ? { uid: meta.uid, gid: meta.gid }
    : undefined;
}

/**
 * The mtime as `utimes` takes it. Node passes times only as a double of seconds (a bigint is
 * refused, a string read as a number), so the nearest one to the recorded nanoseconds: off by at
 * most half the spacing of doubles there (120 ns from 2004 to 2038; docs/REPOSITORY.md). A Date
 * before 1970 (Node reads a negative number as "now").
 */
export function mtimeArg(meta: Partial<FileMeta>): number | Date | undefined {
  if (typeof meta.mtimeNs === 'string' && /^\d+$/.test(meta.mtimeNs)) {
    const ns = BigInt(meta.mtimeNs);
    return Number(ns / 1_000_000_000n) + Number(ns % 1_000_000_000n) / 1e9;
  }
  if (meta.mtimeMs === undefined) return undefined;
  return meta.mtimeMs >= 0 ? meta.mtimeMs / 1000 : new Date(meta.mtimeMs);
}

/**
 * How files are created in a restore target: the owner a new file gets and the process's umask,
 * so the calls that would change nothing are left out (a restore of many small files is made of
 * such calls).
 */
export interface TargetFiles {
  uid: number;
  gid: number;
  umask: number;
}

/** The mode a new file can be created with directly (umask and special bits permitting), else 0o600. */
export function creationMode(meta: Partial<FileMeta>, files: TargetFiles): number {
  const mode = meta.mode;
  return mode !== undefined && (mode & 0o7000) === 0 && (mode & files.umask) === 0 ? mode : 0o600;
}

/**
 * Owner, mode and times of a file open as `fd`, created with creationMode (owner first: a chown
 * clears setuid and setgid). Synchronous, as all the restore's per-item calls (see restore.ts).
 */
export function applyToFd(fd: number, meta: Partial<FileMeta>, files: TargetFiles): void {
  const who = owner(meta);
  const chown = who !== undefined && (who.uid !== files.uid || who.gid !== files.gid);
  if (chown) fchownSync(fd, who.uid, who.gid);
  if (meta.mode !== undefined && (chown || creationMode(meta, files) !== meta.mode)) fchmodSync(fd, meta.mode);
  const time = mtimeArg(meta);
  if (time !== undefined) futimesSync(fd, time, time);
}

/** Where a restore reports an extended attribute the target refused: its name and why. */
export type XattrRefused = (name: string, why: string) => void;

/**
 * Owner, mode, extended attributes and times of a folder or special file at `path`; a symlink's
 * own owner, attributes and times. Attributes come after the owner (a chown clears
 * security.capability) and before the times.
 */
export function applyToPath(
  path: string | Buffer,
  meta: Partial<FileMeta>,
  kind: 'folder' | 'symlink' | 'special',
  refused: XattrRefused = () => undefined,
): void {
  const who = owner(meta);
  const time = mtimeArg(meta);
  if (kind === 'symlink') {
    if (who) lchownSync(path, who.uid, who.gid);
    if (meta.xattrs) writeXattrs(path, meta.xattrs, false, refused);
    if (time !== undefined) lutimesSync(path, time, time);
    return;
  }
  if (who) chownSync(path, who.uid, who.gid);
  if (meta.mode !== undefined) chmodSync(path, meta.mode);
  if (meta.xattrs) writeXattrs(path, meta.xattrs, kind === 'folder', refused);
  if (time !== undefined) utimesSync(path, time, time);
}

/**
 * Makes a FIFO or device node at `path` (Node has no mkfifo or mknod: coreutils' are run, without
 * a shell, under a plain name in `scratch` and the result renamed into place, so names that are
 * not UTF-8 stay exact). Returns why not, when it cannot.
 */
export async function makeSpecial(
  path: string | Buffer,
  kind: SpecialKind,
  meta: Partial<FileMeta>,
  scratch: string,
  refused?: XattrRefused,
): Promise<string | undefined> {
  if (kind === 'socket') return 'a socket is made by the program that listens on it';
  const args =
    kind === 'fifo'
      ? ['mkfifo']
      : ['mknod', kind === 'chardev' ? 'c' : 'b', String(major(meta.rdev ?? 0)), String(minor(meta.rdev ?? 0))];
  if (kind !== 'fifo' && !restoresOwners) return 'making a device node needs root';
  const temp = join(scratch, `.holdfast-special-${randomBytes(6).toString('hex')}`);
  try {
    const [command, ...rest] = args as [string, ...string[]];
    await run(command, [temp, ...rest]);
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr?.trim() || (err as Error).message;
    return `could not make the ${kind === 'fifo' ? 'FIFO' : 'device node'}: ${detail}`;
  }
  try {
    // Under the plain name, so attributes reach it whatever its real name (storage/xattrs.ts).
    applyToPath(temp, meta, 'special', refused);
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return undefined;
}

/** Linux's device number encoding (glibc's gnu_dev_major/minor). */
function major(rdev: number): number {
  const n = BigInt(rdev);
  return Number(((n >> 8n) & 0xfffn) | ((n >> 32n) & ~0xfffn));
}
function minor(rdev: number): number {
  const n = BigInt(rdev);
  return Number((n & 0xffn) | ((n >> 12n) & ~0xffn));
}

function writeAll(fd: number, data: Buffer, position: number): void {
  for (let done = 0; done < data.length; ) done += writeSync(fd, data, done, data.length - done, position + done);
}

/** Blocks of a sparse file that are all zeros are not written: they stay holes. */
const BLOCK = 4096;
const ZEROS = Buffer.alloc(BLOCK);

/**
 * Writes `data` at `position`; for a sparse file, only the runs of file blocks (4 KiB, aligned to
 * the file) that are not all zeros, so its holes stay holes. The file must be new (unwritten
 * bytes read as zeros), and a sparse file is truncated to its size when complete.
 */
export function writeContent(fd: number, data: Buffer, position: number, sparse: boolean): void {
  if (!sparse) {
    writeAll(fd, data, position);
    return;
  }
  let run = -1;
  for (let start = 0; start < data.length; ) {
    const end = Math.min(data.length, start + BLOCK - ((position + start) % BLOCK));
    const zero = data.subarray(start, end).equals(ZEROS.subarray(0, end - start));
    if (!zero && run < 0) run = start;
    if (zero && run >= 0) {
      writeAll(fd, data.subarray(run, start), position + run);
      run = -1;
    }
    start = end;
  }
  if (run >= 0) writeAll(fd, data.subarray(run), position + run);
}
