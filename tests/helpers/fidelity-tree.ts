// A folder with the file-system cases a backup must keep (names that are not UTF-8, a FIFO and a
// character device, owners, setuid, hard links, a sparse file, a symlink's own mtime,
// nanosecond mtimes, extended attributes of files, folders, a symlink and a FIFO) and a
// description of any folder that compares them all: bytes, modes, owners, link counts and
// hard-link groups, allocated blocks, device numbers, extended attributes and mtimes in ns.
// Needs root (owners, mknod, trusted.* attributes); tests run as root. Attributes are set and
// read with Python's os.*xattr (bytes paths, never following a link), not the code under test.
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

/**
 * Sets extended attributes (name → value) on paths given as bytes (hex), on a symlink itself,
 * in one Python run.
 */
export function setXattrs(list: { path: Buffer; name: string; value: Buffer }[]): void {
  const script =
    'import os, sys, json\n' +
    'for p, n, v in json.load(sys.stdin):\n' +
    '    os.setxattr(bytes.fromhex(p), n, bytes.fromhex(v), follow_symlinks=False)\n';
  const input = JSON.stringify(list.map((x) => [x.path.toString('hex'), x.name, x.value.toString('hex')]));
  const run = spawnSync('python3', ['-c', script], { input });
  if (run.status !== 0) throw new Error(`could not set extended attributes: ${run.stderr}`);
}

/** A POSIX ACL in Linux's xattr form: owner rw, user `uid` r, group r, mask r, other r. */
function posixAcl(uid: number): Buffer {
  const entries: [number, number, number][] = [
    [0x01, 6, 0xffffffff],
    [0x02, 4, uid],
    [0x04, 4, 0xffffffff],
    [0x10, 4, 0xffffffff],
    [0x20, 4, 0xffffffff],
  ];
  const out = Buffer.alloc(4 + entries.length * 8);
  out.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    out.writeUInt16LE(tag, 4 + i * 8);
    out.writeUInt16LE(perm, 6 + i * 8);
    out.writeUInt32LE(id, 8 + i * 8);
  });
  return out;
}

/** Every path's extended attributes under `root` (relative path in hex → name → value in hex). */
function readXattrsOfTree(root: string): Map<string, string> {
  const script =
    'import os, sys, json\n' +
    'root = os.fsencode(sys.argv[1])\n' +
    'out = {}\n' +
    'for d, dirs, files in os.walk(root):\n' +
    '    for n in dirs + files:\n' +
    '        p = os.path.join(d, n)\n' +
    '        names = sorted(os.listxattr(p, follow_symlinks=False))\n' +
    '        if names: out[os.path.relpath(p, root).hex()] = ' +
    '";".join(k + "=" + os.getxattr(p, k, follow_symlinks=False).hex() for k in names)\n' +
    'print(json.dumps(out))\n';
  const run = spawnSync('python3', ['-c', script, root], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`could not read extended attributes: ${run.stderr}`);
  return new Map(Object.entries(JSON.parse(run.stdout) as Record<string, string>));
}

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
  // Extended attributes: user.* on files and folders (one binary, one empty), trusted.* (root
  // only) on a file, a symlink and a FIFO; and on a folder whose name is not UTF-8 and a file in it.
  setXattrs([
    { path: r('plain', 'text.txt'), name: 'user.comment', value: Buffer.from('a note') },
    { path: r('plain', 'text.txt'), name: 'user.binary', value: Buffer.from([0, 1, 0xfe, 0xff]) },
    { path: r('plain', 'text.txt'), name: 'user.empty', value: Buffer.alloc(0) },
    { path: r('plain'), name: 'user.folder', value: Buffer.from('on a folder') },
    // POSIX ACLs are attributes too: user 1234 may read a file; a folder's default ACL (which
    // files restored into it must not inherit: their own attributes are exact).
    { path: r('plain', 'linked'), name: 'system.posix_acl_access', value: posixAcl(1234) },
    { path: r('plain'), name: 'system.posix_acl_default', value: posixAcl(4321) },
    { path: r('owned'), name: 'trusted.secret', value: Buffer.from('root only') },
    { path: r('shortcut'), name: 'trusted.link', value: Buffer.from('on the link itself') },
    { path: r('pipe'), name: 'trusted.fifo', value: Buffer.from('on a FIFO') },
    { path: r(SURROGATE_FOLDER), name: 'user.raw-folder', value: Buffer.from('folder named in raw bytes') },
    { path: r(SURROGATE_FOLDER, 'linked-three'), name: 'user.linked', value: Buffer.from('one inode, three names') },
  ]);
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
  /** Extended attributes, `name=hex;…` in name order (a symlink's own). */
  xattrs?: string;
}

/** Every entry under `root`, keyed by its path with bytes that are not UTF-8 shown as `\xNN`. */
export function describeFidelity(root: string): Map<string, Described> {
  const out = new Map<string, Described>();
  const inodes = new Map<bigint, string>();
  const xattrs = readXattrsOfTree(root);
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
      const x = xattrs.get(relPath.toString('hex'));
      if (x !== undefined) d.xattrs = x;
      out.set(key, d);
      if (kind === 'folder') visit(relPath);
    }
  };
  visit(Buffer.alloc(0));
  return out;
}

/**
 * How far a restored mtime may be from the recorded one (docs/REPOSITORY.md, "Folder backups"):
 * Node sets times only through a double of seconds, whose nearest value to the recorded
 * nanoseconds is off by at most half the spacing of doubles at that magnitude, rounded up to a
 * whole nanosecond: 60 ns for 2^29 to 2^30 s, 120 ns from 2004 to 2038, 239 ns until 2106.
 */
export function mtimeBoundNs(ns: bigint): bigint {
  const seconds = Math.abs(Number(ns)) / 1e9;
  return seconds < 1 ? 1n : BigInt(Math.ceil(2 ** (Math.floor(Math.log2(seconds)) - 53) * 1e9));
}

/** What differs between two described trees, one line each (empty when equal); mtimes within mtimeBoundNs. */
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
        const bound = mtimeBoundNs(a.mtimeNs);
        if (diff > bound || diff < -bound) lines.push(`${key}: mtimeNs ${a.mtimeNs} != ${b.mtimeNs}`);
      } else if (a[field] !== b[field]) lines.push(`${key}: ${field} ${String(a[field])} != ${String(b[field])}`);
    }
  }
  return lines;
}
