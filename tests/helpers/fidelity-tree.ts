// A folder with the file-system cases a backup must keep (names that are not UTF-8, a FIFO and a
// character device, owners, setuid, hard links, a sparse file, a symlink's own mtime,
// nanosecond mtimes) and a description of any folder that compares them all: bytes, modes,
// owners, link counts and hard-link groups, allocated blocks, device numbers and mtimes in ns.
// Needs root (owners, mknod); tests run as root.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  ftruncateSync,
  lchownSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';

/** Joins raw-byte path segments. */
export function rawJoin(...parts: (string | Buffer)[]): Buffer {
  return Buffer.concat(parts.flatMap((p, i) => (i === 0 ? [Buffer.from(p)] : [Buffer.from('/'), Buffer.from(p)])));
}

/** `café` in Latin-1 (E9 is not valid UTF-8 on its own) and a UTF-16 surrogate encoded in UTF-8. */
export const LATIN1_NAME = Buffer.from('caf\xe9.txt', 'latin1');
export const SURROGATE_FOLDER = Buffer.from([0x64, 0x69, 0x72, 0xed, 0xa0, 0x80]);

/** A mtime with nanoseconds (Node sets times through a double of seconds: `touch` is exact). */
function touchNs(path: string, ns: string, symlink = false): void {
  execFileSync('touch', [...(symlink ? ['-h'] : []), '-m', '-d', `@${ns.slice(0, -9)}.${ns.slice(-9)}`, path]);
}

export function makeFidelityTree(root: string): void {
  const r = (...p: (string | Buffer)[]) => rawJoin(root, ...p);
  mkdirSync(r('plain'));
  writeFileSync(r('plain', 'text.txt'), 'hello\n');
  writeFileSync(r(LATIN1_NAME), 'latin-1 name\n');
  mkdirSync(r(SURROGATE_FOLDER));
  writeFileSync(r(SURROGATE_FOLDER, LATIN1_NAME), 'inside a folder whose name is not UTF-8\n');
  execFileSync('mkfifo', ['-m', '0640', `${root}/pipe`]);
  execFileSync('mknod', ['-m', '0600', `${root}/null-device`, 'c', '1', '3']);
  // Owners (restored as root), and a setuid bit that a chown after the chmod would clear.
  writeFileSync(r('owned'), 'owned by someone else\n');
  chownSync(r('owned'), 1234, 5678);
  chmodSync(r('owned'), 0o4750);
  chownSync(r('plain'), 4321, 8765);
  // Three names of one file, in different folders.
  writeFileSync(r('plain', 'linked'), 'one file, three names\n');
  linkSync(r('plain', 'linked'), r('linked-too'));
  linkSync(r('plain', 'linked'), r(SURROGATE_FOLDER, 'linked-three'));
  // Sparse: holes around two 4 KiB-aligned runs of data, and a hole at the end.
  const fd = openSync(r('sparse.img'), 'w');
  writeSync(fd, Buffer.alloc(8192, 7), 0, 8192, 1024 * 1024);
  writeSync(fd, Buffer.alloc(4096, 9), 0, 4096, 3 * 1024 * 1024);
  ftruncateSync(fd, 6 * 1024 * 1024);
  closeSync(fd);
  symlinkSync('plain/text.txt', r('shortcut'));
  lchownSync(r('shortcut'), 2222, 3333);
  touchNs(`${root}/plain/text.txt`, '1700000000123456789');
  touchNs(`${root}/owned`, '1600000000987654321');
  touchNs(`${root}/sparse.img`, '1650000000000000001');
  touchNs(`${root}/shortcut`, '1710000000555555555', true);
}

/** A socket file left by a process that exits without closing it. */
export function makeSocket(path: string): void {
  const run = spawnSync(process.execPath, [
    '-e',
    `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`,
  ]);
  if (run.status !== 0) throw new Error(`could not make a socket: ${run.stderr}`);
}

export interface Described {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  nlink?: number;
  /** The first path (in sorted order) of the same inode: hard-link groups compare equal. */
  inode?: string;
  size?: number;
  /** Allocated 512-byte blocks: a sparse file restored dense has more. */
  blocks?: number;
  sha256?: string;
  target?: string;
  rdev?: number;
}

/** Every entry under `root`, keyed by its path with bytes that are not UTF-8 shown as `\xNN`. */
export function describeFidelity(root: string): Map<string, Described> {
  const out = new Map<string, Described>();
  const inodes = new Map<bigint, string>();
  const show = (rel: Buffer) =>
    [...rel].map((b) => (b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16)}`)).join('');
  const visit = (rel: Buffer) => {
    const dir = rawJoin(root, rel);
    const names = readdirSync(dir, { encoding: 'buffer' }).sort(Buffer.compare);
    for (const name of names) {
      const relPath = rel.length ? rawJoin(rel, name) : name;
      const path = rawJoin(root, relPath);
      const s = lstatSync(path, { bigint: true });
      const key = show(relPath);
      const kind = s.isFile()
        ? 'file'
        : s.isDirectory()
          ? 'folder'
          : s.isSymbolicLink()
            ? 'symlink'
            : s.isFIFO()
              ? 'fifo'
              : s.isCharacterDevice()
                ? 'chardev'
                : s.isBlockDevice()
                  ? 'blockdev'
                  : 'socket';
      const d: Described = { kind, mode: Number(s.mode), uid: Number(s.uid), gid: Number(s.gid), mtimeNs: s.mtimeNs };
      if (kind === 'file') {
        d.nlink = Number(s.nlink);
        if (!inodes.has(s.ino)) inodes.set(s.ino, key);
        d.inode = inodes.get(s.ino) as string;
        d.size = Number(s.size);
        d.blocks = Number(s.blocks);
        d.sha256 = createHash('sha256').update(readFileSync(path)).digest('hex');
      } else if (kind === 'symlink') d.target = readlinkSync(path, { encoding: 'buffer' }).toString('hex');
      else if (kind === 'chardev' || kind === 'blockdev') d.rdev = Number(s.rdev);
      out.set(key, d);
      if (kind === 'folder') visit(relPath);
    }
  };
  visit(Buffer.alloc(0));
  return out;
}

/**
 * What differs between two described trees, one line each (empty when equal). Node sets times
 * through a double of seconds, so a restored mtime is the nearest such value: within 250 ns.
 */
export function fidelityDifferences(expected: Map<string, Described>, actual: Map<string, Described>): string[] {
  const lines: string[] = [];
  for (const key of new Set([...expected.keys(), ...actual.keys()])) {
    const a = expected.get(key);
    const b = actual.get(key);
    if (!a || !b) {
      lines.push(`${key}: ${a ? 'missing' : 'unexpected'}`);
      continue;
    }
    for (const field of Object.keys({ ...a, ...b }) as (keyof Described)[]) {
      if (field === 'mtimeNs') {
        const diff = a.mtimeNs - b.mtimeNs;
        if (diff > 250n || diff < -250n) lines.push(`${key}: mtimeNs ${a.mtimeNs} != ${b.mtimeNs}`);
      } else if (a[field] !== b[field]) lines.push(`${key}: ${field} ${String(a[field])} != ${String(b[field])}`);
    }
  }
  return lines;
}
