// File-system fidelity of folder backups through the real `holdfast repo backup` / `restore`:
// raw-byte names, FIFOs and devices, owners, setuid, hard links, sparse files, extended
// attributes, symlink mtimes and nanosecond mtimes (within the documented bound) round-trip;
// sockets are recorded and named when not restored, as are extended attributes that cannot be
// read or set; snapshots written before these fields existed still restore. Runs as root (owners,
// mknod, trusted.* attributes).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, linkSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LocalSink } from '../../../plugins/sinks/local/index.ts';
import { withLock } from '../../../storage/locks.ts';
import { Repository } from '../../../storage/repository.ts';
import { SnapshotReader } from '../../../storage/snapshot-reader.ts';
import { SnapshotWriter } from '../../../storage/snapshot-writer.ts';
import { findItem } from '../../../storage/tree.ts';
import { damageBlob } from '../../helpers/damage.ts';
import {
  describeFidelity,
  fidelityDifferences,
  makeFidelityTree,
  makeSocket,
  mtimeBoundNs,
  rawJoin,
  setXattrs,
} from '../../helpers/fidelity-tree.ts';
import { runToEnd } from '../../helpers/process.ts';
import { PASSPHRASE } from '../../helpers/repository.ts';

const dirs: string[] = [];
const mounts: string[] = [];
afterEach(() => {
  for (const m of mounts.splice(0)) execFileSync('umount', [m]);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = mkdtempSync(join(tmpdir(), 'holdfast-fidelity-'));
  dirs.push(d);
  return d;
}

const repoCli = (args: string[]) =>
  runToEnd(['core/cli.ts', 'repo', ...args], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
  });

async function initRepo(base: string): Promise<string[]> {
  const sink = ['--sink', 'local', '--path', join(base, 'repo')];
  expect((await repoCli(['init', ...sink])).code).toBe(0);
  return sink;
}

describe('file-system fidelity of folder backups', () => {
  it('round-trips raw names, special files, owners, hard links, sparse files, xattrs and ns mtimes exactly', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeFidelityTree(src);
    const sink = await initRepo(base);

    const backup = await repoCli(['backup', src, ...sink]);
    expect(backup.stderr).not.toContain('holdfast repo:');
    expect(backup.code).toBe(0);
    const id = backup.stdout.trim();
    // The xattr library takes paths as text: a file whose own name is not UTF-8 is named (a
    // folder's, or a file's in such a folder, is reached through /proc/self/fd).
    const unread =
      ': extended attributes not read: its name is not UTF-8, and the extended attribute library takes names as text\n';
    expect(backup.stderr).toContain(`warning: caf\\xe9.txt${unread}`);
    expect(backup.stderr).toContain(`warning: dir\\xed\\xa0\\x80/caf\\xe9.txt${unread}`);
    expect(backup.stderr).toMatch(/; extended attributes of 2 items not read \(see above\)\n$/);

    // Names that are not UTF-8 are listed with their bytes escaped.
    const ls = await repoCli(['ls', id, ...sink]);
    expect(ls.stdout).toContain('caf\\xe9.txt');
    expect(ls.stdout).toContain('dir\\xed\\xa0\\x80/caf\\xe9.txt');
    expect(ls.stdout).toMatch(/^fifo +0 +pipe$/m);

    // The snapshot keeps the exact nanoseconds (a restore sets them through a double of seconds).
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const reader = await SnapshotReader.open(repo, id);
    const recorded = new Map<string, Record<string, unknown>>();
    for await (const item of reader.items()) recorded.set(item.key, item.meta ?? {});
    expect(recorded.get('plain/text.txt')?.mtimeNs).toBe('1700000000123456789');
    expect(recorded.get('shortcut')?.mtimeNs).toBe('1710000000555555555');
    expect(recorded.get('plain/text.txt')?.xattrs).toEqual({
      'user.comment': Buffer.from('a note').toString('base64'),
      'user.binary': 'AAH+/w==',
      'user.empty': '',
    });
    expect(recorded.get('shortcut')?.xattrs).toEqual({
      'trusted.link': Buffer.from('on the link itself').toString('base64'),
    });
    // Restored times are within the documented bound of the recorded ns: 120 ns for these dates.
    expect(mtimeBoundNs(1_700_000_000_123_456_789n)).toBe(120n);

    const target = join(base, 'restored');
    const restore = await repoCli(['restore', id, target, ...sink]);
    expect(restore.stderr).toBe('');
    expect(restore.code).toBe(0);
    const expected = describeFidelity(src);
    expect(expected.get('caf\\xe9.txt')?.kind).toBe('file');
    expect(expected.get('plain/linked')?.nlink).toBe(3);
    expect(expected.get('plain/linked')?.xattrs).toMatch(/^system\.posix_acl_access=/);
    expect(expected.get('shortcut')?.xattrs).toBe(`trusted.link=${Buffer.from('on the link itself').toString('hex')}`);
    expect(expected.get('dir\\xed\\xa0\\x80')?.xattrs).toMatch(/^user\.raw-folder=/);
    expect(fidelityDifferences(expected, describeFidelity(target))).toEqual([]);
    // And the restored sparse file really has holes: 12 KiB of data in 6 MiB.
    expect(statSync(join(target, 'sparse.img')).blocks * 512).toBeLessThanOrEqual(16 * 1024);
  });

  it('records a socket and names it when a restore leaves it out', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'a');
    makeSocket(join(src, 'daemon.sock'));
    const sink = await initRepo(base);
    const backup = await repoCli(['backup', src, ...sink]);
    expect(backup.code).toBe(0);
    const id = backup.stdout.trim();
    expect((await repoCli(['ls', id, ...sink])).stdout).toMatch(/^socket +0 +daemon\.sock$/m);

    const restore = await repoCli(['restore', id, join(base, 'restored'), ...sink]);
    expect(restore.code).toBe(0);
    expect(restore.stderr).toContain('daemon.sock: not restored: a socket is made by the program that listens on it');
    expect(restore.stdout).toMatch(/^Restored 1 items into .*; 1 not restored \(see above\)\.$/m);
    expect(describeFidelity(join(base, 'restored')).has('a.txt')).toBe(true);
  });

  it('restores snapshots written before owners, raw names and ns mtimes were recorded', async () => {
    const base = temp();
    const sink = await initRepo(base);
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const mtimeMs = Date.parse('2019-01-02T03:04:05.678Z');
    const id = await withLock(
      repo.sink,
      'shared',
      { purpose: 'test' },
      async () => {
        const writer = new SnapshotWriter(repo, { task: 'cli', entity: 'old' });
        await writer.add({ key: 'docs/', kind: 'folder', meta: { mode: 0o750, mtimeMs } });
        await writer.add(
          { key: 'docs/a.txt', kind: 'file', meta: { mode: 0o640, mtimeMs, ctimeMs: 1, ino: 2 } },
          Buffer.from('old'),
        );
        await writer.add({ key: 'link', kind: 'symlink', meta: { mode: 0o777, mtimeMs, target: 'docs/a.txt' } });
        return (await writer.commit()).id;
      },
      repo,
    );
    const target = join(base, 'restored');
    const restore = await repoCli(['restore', id, target, ...sink]);
    expect(restore.code).toBe(0);
    const restored = describeFidelity(target);
    const ns = BigInt(mtimeMs) * 1_000_000n;
    // Within the documented bound (a double of seconds; see mtimeBoundNs): 120 ns in 2019.
    const bound = mtimeBoundNs(ns);
    expect(bound).toBe(120n);
    const near = (t: bigint | undefined) => t !== undefined && t - ns <= bound && ns - t <= bound;
    expect(restored.get('docs')?.mode).toBe(0o40750);
    expect(near(restored.get('docs')?.mtimeNs)).toBe(true);
    expect(restored.get('docs/a.txt')?.mode).toBe(0o100640);
    expect(near(restored.get('docs/a.txt')?.mtimeNs)).toBe(true);
    expect(restored.get('link')?.kind).toBe('symlink');
  });
});

describe('extended attributes', () => {
  it('names each attribute a restore target refuses, counts them, and restores the rest', async () => {
    const base = temp();
    const sink = await initRepo(base);
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const mtimeMs = Date.parse('2024-05-06T07:08:09.000Z');
    const b64 = (text: string) => Buffer.from(text).toString('base64');
    // No file system has a "bogus." namespace: every target refuses it (EOPNOTSUPP).
    const id = await withLock(
      repo.sink,
      'shared',
      { purpose: 'test' },
      async () => {
        const writer = new SnapshotWriter(repo, { task: 'cli', entity: 'xattrs' });
        await writer.add({
          key: 'docs/',
          kind: 'folder',
          meta: { mode: 0o755, mtimeMs, xattrs: { 'bogus.folder': b64('x'), 'user.kept': b64('folder') } },
        });
        await writer.add(
          {
            key: 'docs/a.txt',
            kind: 'file',
            meta: { mode: 0o644, mtimeMs, xattrs: { 'bogus.file': b64('y'), 'user.kept': b64('file') } },
          },
          Buffer.from('content'),
        );
        return (await writer.commit()).id;
      },
      repo,
    );
    repo.close();
    const target = join(base, 'restored');
    const restore = await repoCli(['restore', id, target, ...sink]);
    expect(restore.code).toBe(0);
    expect(restore.stderr).toBe(
      'warning: docs/a.txt: extended attribute bogus.file not restored: the file system does not support it\n' +
        'warning: docs/: extended attribute bogus.folder not restored: the file system does not support it\n',
    );
    expect(restore.stdout).toMatch(/^Restored 2 items into .*; 2 extended attributes not restored \(see above\)\.$/m);
    const restored = describeFidelity(target);
    expect(restored.get('docs')?.xattrs).toBe(`user.kept=${Buffer.from('folder').toString('hex')}`);
    expect(restored.get('docs/a.txt')?.xattrs).toBe(`user.kept=${Buffer.from('file').toString('hex')}`);
  });

  it('restores user.* attributes for anyone, and names the trusted.* ones only root may set', async () => {
    const base = temp();
    chmodSync(base, 0o755);
    const src = join(base, 'src');
    mkdirSync(join(src, 'docs'), { recursive: true });
    writeFileSync(join(src, 'docs', 'a.txt'), 'a');
    setXattrs([
      { path: rawJoin(src, 'docs'), name: 'user.folder', value: Buffer.from('folder') },
      { path: rawJoin(src, 'docs', 'a.txt'), name: 'user.file', value: Buffer.from('file') },
      { path: rawJoin(src, 'docs', 'a.txt'), name: 'trusted.root', value: Buffer.from('root only') },
    ]);
    const sink = await initRepo(base);
    const id = (await repoCli(['backup', src, ...sink])).stdout.trim();
    // The restore runs as nobody (setpriv), into a folder of its own, from a repository it may use.
    execFileSync('chmod', ['-R', 'a+rwX', join(base, 'repo')]);
    const target = join(base, 'nobody');
    mkdirSync(target);
    chownSync(target, 65534, 65534);
    const restore = await runToEnd(
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        process.execPath,
        'core/cli.ts',
        'repo',
        'restore',
        id,
        join(target, 'r'),
        ...sink,
      ],
      // (Memory flags given, so the CLI does not execute itself again: Node lives under /root.)
      {
        PATH: process.env.PATH,
        HOME: target,
        HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
        NODE_OPTIONS: '--max-semi-space-size=8',
      },
      undefined,
      'setpriv',
    );
    expect(restore.stderr).toBe(
      'warning: docs/a.txt: extended attribute trusted.root not restored: only root sets trusted.* and security.* attributes\n',
    );
    expect(restore.code).toBe(0);
    expect(restore.stdout).toMatch(/; 1 extended attributes not restored \(see above\)\.$/m);
    const restored = describeFidelity(join(target, 'r'));
    expect(restored.get('docs')?.xattrs).toBe(`user.folder=${Buffer.from('folder').toString('hex')}`);
    expect(restored.get('docs/a.txt')?.xattrs).toBe(`user.file=${Buffer.from('file').toString('hex')}`);
  });

  it('a backup records an attribute added to a file whose content did not change', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'a');
    writeFileSync(join(src, 'b.txt'), 'b');
    const sink = await initRepo(base);
    const first = await repoCli(['backup', src, ...sink]);
    expect(first.code).toBe(0);
    // Only the attribute changes (and with it the ctime): the file must not be carried over as it was.
    setXattrs([{ path: rawJoin(src, 'a.txt'), name: 'user.tag', value: Buffer.from('added') }]);
    const second = await repoCli(['backup', src, ...sink]);
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(/\(1 unchanged\)/);
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const item = await findItem(repo, (await repo.loadSnapshot(second.stdout.trim())).tree, 'a.txt');
    expect(item?.meta?.xattrs).toEqual({ 'user.tag': Buffer.from('added').toString('base64') });
    repo.close();
    const target = join(base, 'restored');
    expect((await repoCli(['restore', second.stdout.trim(), target, ...sink])).code).toBe(0);
    expect(fidelityDifferences(describeFidelity(src), describeFidelity(target))).toEqual([]);
  });

  it('reads a file again when its parent entry (an older snapshot) recorded no attributes', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'a.txt'), 'a');
    setXattrs([{ path: rawJoin(src, 'a.txt'), name: 'user.tag', value: Buffer.from('old') }]);
    const sink = await initRepo(base);
    // The parent as a version before attributes were recorded wrote it: every other field matches.
    const info = statSync(join(src, 'a.txt'), { bigint: true });
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    await withLock(
      repo.sink,
      'shared',
      { purpose: 'test' },
      async () => {
        const writer = new SnapshotWriter(repo, { task: 'cli', entity: src });
        const meta = {
          mode: Number(info.mode) & 0o7777,
          mtimeMs: Number(info.mtimeNs / 1_000_000n),
          mtimeNs: String(info.mtimeNs),
          uid: Number(info.uid),
          gid: Number(info.gid),
          ctimeMs: Number(info.ctimeNs / 1_000_000n),
          ino: Number(info.ino),
        };
        await writer.add({ key: 'a.txt', kind: 'file', meta }, Buffer.from('a'));
        return (await writer.commit()).id;
      },
      repo,
    );
    repo.close();
    const backup = await repoCli(['backup', src, ...sink]);
    expect(backup.code).toBe(0);
    expect(backup.stderr).toMatch(/\(0 unchanged\)/);
    const after = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const item = await findItem(after, (await after.loadSnapshot(backup.stdout.trim())).tree, 'a.txt');
    expect(item?.meta?.xattrs).toEqual({ 'user.tag': Buffer.from('old').toString('base64') });
    after.close();
  });
});

// Restores write each file under a temporary name and rename it when complete (restore past
// damage, --resume): the metadata above must survive that path too.
describe('fidelity with restore past damage and --resume', () => {
  it('a damaged file fails with its hard links, a socket is named, and the rest is exact', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeFidelityTree(src);
    makeSocket(join(src, 'daemon.sock'));
    writeFileSync(join(src, 'plain', 'big-linked'), randomBytes(64 * 1024));
    linkSync(join(src, 'plain', 'big-linked'), join(src, 'big-linked-too'));
    const sink = await initRepo(base);
    const backup = await repoCli(['backup', src, ...sink]);
    expect(backup.code).toBe(0);
    const id = backup.stdout.trim();
    const repo = await Repository.open(new LocalSink({ path: join(base, 'repo') }), { passphrase: PASSPHRASE });
    const big = await findItem(repo, (await repo.loadSnapshot(id)).tree, 'big-linked-too');
    repo.close();
    await damageBlob(join(base, 'repo'), big?.content?.[0] as string);

    const target = join(base, 'restored');
    const restore = await repoCli(['restore', id, target, ...sink]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(
      /^failed: big-linked-too: blob [0-9a-f]{64} in pack [0-9a-f]{64} failed authentication/m,
    );
    expect(restore.stderr).toContain('failed: plain/big-linked: a hard link to big-linked-too\n');
    expect(restore.stderr).toContain('daemon.sock: not restored: a socket is made by the program that listens on it');
    expect(restore.stdout).toMatch(/; 1 not restored \(see above\); 2 items could not be restored /);
    const expected = describeFidelity(src);
    for (const gone of ['daemon.sock', 'big-linked-too', 'plain/big-linked']) expected.delete(gone);
    expect(fidelityDifferences(expected, describeFidelity(target))).toEqual([]);
  });

  it('--resume keeps complete sparse files and links, rewrites a changed one with its holes, inherits no ACL', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    makeFidelityTree(src);
    const sink = await initRepo(base);
    const id = (await repoCli(['backup', src, ...sink])).stdout.trim();
    const target = join(base, 'restored');
    expect((await repoCli(['restore', id, target, ...sink])).code).toBe(0);

    // Nothing changed: the sparse file is kept, not rewritten (same inode).
    const sparse = join(target, 'sparse.img');
    const before = statSync(sparse).ino;
    const again = await repoCli(['restore', '--resume', id, target, ...sink]);
    expect(again.code).toBe(0);
    expect(statSync(sparse).ino).toBe(before);

    // The sparse file made dense with other bytes, and one name of a hard-linked file removed; a
    // file removed from a folder that already has its default ACL must not inherit it when rewritten.
    writeFileSync(sparse, randomBytes(6 * 1024 * 1024));
    rmSync(join(target, 'linked-too'));
    rmSync(join(target, 'plain', 'text.txt'));
    const resumed = await repoCli(['restore', '--resume', id, target, ...sink]);
    expect(resumed.stderr).toBe('');
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/; \d+ were already complete\.\n$/);
    expect(fidelityDifferences(describeFidelity(src), describeFidelity(target))).toEqual([]);
    expect(statSync(sparse).blocks * 512).toBeLessThanOrEqual(16 * 1024);
  });
});

/** A small tmpfs at a new folder (tests run as root): a full disk or a read-only file system. */
function mountTmpfs(options: string): string {
  const at = join(temp(), 'mnt');
  mkdirSync(at);
  execFileSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', at]);
  mounts.push(at);
  return at;
}

describe('names that are not UTF-8 in the catalog', () => {
  it('attaches a repository whose names differ only in bytes that are not UTF-8', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(src);
    writeFileSync(Buffer.from(`${src}/caf\xe9.txt`, 'latin1'), 'e acute');
    writeFileSync(Buffer.from(`${src}/caf\xe8.txt`, 'latin1'), 'e grave');
    const sink = await initRepo(base);
    expect((await repoCli(['backup', src, ...sink])).code).toBe(0);
    const attach = await runToEnd(['core/cli.ts', 'repo', 'attach', ...sink], {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      HOLDFAST_REPO_PASSPHRASE: PASSPHRASE,
      HOLDFAST_DATA_DIR: join(base, 'appliance'),
      HOLDFAST_LOG_LEVEL: 'silent',
    });
    expect(attach.stderr).not.toContain('holdfast repo:');
    expect(attach.code).toBe(0);
    expect(attach.stdout).toMatch(/: 1 snapshots, 2 items, 2 versions in the catalog\.\n$/);
  });
});

describe('restore target errors', () => {
  it('says a read-only target is read-only and a full disk names the file it could not write', async () => {
    const base = temp();
    const src = join(base, 'src');
    mkdirSync(join(src, 'docs'), { recursive: true });
    writeFileSync(join(src, 'docs', 'small.txt'), 'small');
    writeFileSync(join(src, 'docs', 'large.bin'), randomBytes(2 * 1024 * 1024));
    const sink = await initRepo(base);
    const id = (await repoCli(['backup', src, ...sink])).stdout.trim();

    const readOnly = mountTmpfs('size=1m,ro');
    for (const target of [readOnly, join(readOnly, 'new-folder')]) {
      const restore = await repoCli(['restore', id, target, ...sink]);
      expect(restore.code).toBe(1);
      expect(restore.stderr).toBe(`holdfast repo: cannot restore into ${target}: it is on a read-only file system\n`);
    }

    const full = mountTmpfs('size=1m');
    const restore = await repoCli(['restore', id, join(full, 'r'), ...sink]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toBe(
      `holdfast repo: cannot write ${join(full, 'r', 'docs', 'large.bin')}: no space left on device\n`,
    );
  });
});
